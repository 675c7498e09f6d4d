package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/compute"
)

// vmDoc is the stored form of what a virtual machine row does not hold in
// columns.
type vmDoc struct {
	Location          string            `json:"location"`
	Tags              map[string]string `json:"tags,omitempty"`
	VMID              string            `json:"vmId"`
	Size              string            `json:"vmSize,omitempty"`
	SecurityType      string            `json:"securityType,omitempty"`
	UEFI              *uefiRow          `json:"uefiSettings,omitempty"`
	Image             imageRow          `json:"imageReference"`
	OSProfile         json.RawMessage   `json:"osProfile,omitempty"`
	OSDisk            vmDiskRow         `json:"osDisk"`
	DataDisks         []vmDiskRow       `json:"dataDisks,omitempty"`
	GuestStateDES     string            `json:"guestStateDiskEncryptionSetId,omitempty"`
	Power             string            `json:"power"`
	PowerChanged      time.Time         `json:"powerChanged"`
	ProvisioningState string            `json:"provisioningState"`
}

type uefiRow struct {
	SecureBoot *bool `json:"secureBootEnabled,omitempty"`
	VTPM       *bool `json:"vTpmEnabled,omitempty"`
}

type imageRow struct {
	ID        string `json:"id,omitempty"`
	Publisher string `json:"publisher,omitempty"`
	Offer     string `json:"offer,omitempty"`
	SKU       string `json:"sku,omitempty"`
	Version   string `json:"version,omitempty"`
}

type vmDiskRow struct {
	Lun                    int    `json:"lun"`
	Name                   string `json:"name"`
	CreateOption           string `json:"createOption"`
	SizeGB                 int64  `json:"diskSizeGB"`
	OSType                 string `json:"osType,omitempty"`
	Caching                string `json:"caching,omitempty"`
	DeleteOption           string `json:"deleteOption"`
	ID                     string `json:"id,omitempty"`
	StorageAccountType     string `json:"storageAccountType,omitempty"`
	DESID                  string `json:"diskEncryptionSetId,omitempty"`
	SecurityEncryptionType string `json:"securityEncryptionType,omitempty"`
	SecureDESID            string `json:"secureDiskEncryptionSetId,omitempty"`
	Ephemeral              string `json:"ephemeralPlacement,omitempty"`
}

const vmColumns = `subscription_id, resource_group, name, created, doc`

func vmArgs(v compute.VirtualMachine) ([]any, error) {
	doc := vmDoc{
		Location: v.Location, Tags: v.Tags, VMID: v.VMID, Size: v.Size, SecurityType: v.SecurityType,
		Image: imageRow(v.Image), OSDisk: vmDiskRow(v.OSDisk), GuestStateDES: v.GuestStateDES,
		Power: string(v.Power), PowerChanged: v.PowerChanged, ProvisioningState: v.ProvisioningState,
	}
	if v.UEFI != nil {
		doc.UEFI = &uefiRow{v.UEFI.SecureBoot, v.UEFI.VTPM}
	}
	if len(v.OSProfile) > 0 {
		if !json.Valid(v.OSProfile) {
			return nil, errors.New("osProfile is not JSON")
		}
		doc.OSProfile = v.OSProfile
	}
	for _, d := range v.DataDisks {
		doc.DataDisks = append(doc.DataDisks, vmDiskRow(d))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return []any{v.SubscriptionID, v.ResourceGroup, v.Name, v.Created.Unix(), string(b)}, nil
}

func scanVM(row scanner) (compute.VirtualMachine, error) {
	var v compute.VirtualMachine
	var created int64
	var raw string
	if err := row.Scan(&v.SubscriptionID, &v.ResourceGroup, &v.Name, &created, &raw); err != nil {
		return compute.VirtualMachine{}, err
	}
	var doc vmDoc
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return compute.VirtualMachine{}, fmt.Errorf("sqlite: corrupt virtual machine %s: %w", v.Name, err)
	}
	v.Location, v.Tags, v.VMID, v.Size, v.SecurityType = doc.Location, doc.Tags, doc.VMID, doc.Size, doc.SecurityType
	if u := doc.UEFI; u != nil {
		v.UEFI = &compute.UEFISettings{SecureBoot: u.SecureBoot, VTPM: u.VTPM}
	}
	v.Image, v.OSDisk, v.GuestStateDES = compute.ImageReference(doc.Image), compute.VMDisk(doc.OSDisk), doc.GuestStateDES
	if len(doc.OSProfile) > 0 {
		v.OSProfile = []byte(doc.OSProfile)
	}
	for _, d := range doc.DataDisks {
		v.DataDisks = append(v.DataDisks, compute.VMDisk(d))
	}
	v.Power, v.PowerChanged, v.ProvisioningState = compute.PowerState(doc.Power), doc.PowerChanged, doc.ProvisioningState
	v.Created = time.Unix(created, 0).UTC()
	return v, nil
}

// CreateVirtualMachine implements compute.Store.
func (db *DB) CreateVirtualMachine(ctx context.Context, v compute.VirtualMachine) error {
	args, err := vmArgs(v)
	if err != nil {
		return internal(err, "sqlite: create virtual machine")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM virtual_machines WHERE subscription_id = ? AND resource_group = ? AND name = ?`,
			v.SubscriptionID, v.ResourceGroup, v.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return tresor.Errorf(tresor.Conflict, "virtual machine %s exists", v.Name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO virtual_machines (`+vmColumns+`) VALUES (?, ?, ?, ?, ?)`, args...)
		return err
	})
	return internal(err, "sqlite: create virtual machine")
}

// UpdateVirtualMachine implements compute.Store.
func (db *DB) UpdateVirtualMachine(ctx context.Context, v compute.VirtualMachine) error {
	args, err := vmArgs(v)
	if err != nil {
		return internal(err, "sqlite: update virtual machine")
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE virtual_machines SET doc = ? WHERE subscription_id = ? AND resource_group = ? AND name = ?`,
			args[4], args[0], args[1], args[2])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "virtual machine %s not found", v.Name)
		}
		return nil
	})
	return internal(err, "sqlite: update virtual machine")
}

// VirtualMachine implements compute.Store.
func (db *DB) VirtualMachine(ctx context.Context, subscriptionID, group, name string) (compute.VirtualMachine, error) {
	return scanOne(ctx, db, "sqlite: virtual machine", "virtual machine "+name, scanVM, `SELECT `+vmColumns+` FROM virtual_machines
		WHERE subscription_id = ? AND resource_group = ? AND name = ?`, subscriptionID, group, name)
}

// VirtualMachines implements compute.Store.
func (db *DB) VirtualMachines(ctx context.Context, subscriptionID, group string) ([]compute.VirtualMachine, error) {
	query, args := `SELECT `+vmColumns+` FROM virtual_machines WHERE subscription_id = ? ORDER BY resource_group, name`, []any{subscriptionID}
	if group != "" {
		query, args = `SELECT `+vmColumns+` FROM virtual_machines WHERE subscription_id = ? AND resource_group = ? ORDER BY name`, []any{subscriptionID, group}
	}
	return scanAll(ctx, db, "sqlite: virtual machines", scanVM, query, args...)
}

// DeleteVirtualMachine implements compute.Store.
func (db *DB) DeleteVirtualMachine(ctx context.Context, subscriptionID, group, name string) error {
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM virtual_machines WHERE subscription_id = ? AND resource_group = ? AND name = ?`,
			subscriptionID, group, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tresor.Errorf(tresor.NotFound, "virtual machine %s not found", name)
		}
		return nil
	})
	return internal(err, "sqlite: delete virtual machine")
}
