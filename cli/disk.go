package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// diskCommand mirrors 'az disk' (create, update, show, list, delete,
// grant-access, revoke-access) and, with snapshot set, 'az snapshot'.
type diskCommand struct {
	op       string
	snapshot bool
	out      io.Writer
}

func (c diskCommand) noun() string {
	if c.snapshot {
		return "snapshot"
	}
	return "disk"
}

func (c diskCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(c.noun()+" "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	name := fs.String("name", "", c.noun()+" name")
	fs.StringVar(name, "n", "", "short for --name")
	group := fs.String("resource-group", "", "resource group")
	fs.StringVar(group, "g", "", "short for --resource-group")
	location := fs.String("location", "westeurope", "location (create)")
	fs.StringVar(location, "l", "westeurope", "short for --location")
	size := fs.Int("size-gb", 0, "size in GiB (create of an empty disk)")
	fs.IntVar(size, "z", 0, "short for --size-gb")
	sku := fs.String("sku", "", "Standard_LRS, Premium_LRS, ...")
	source := fs.String("source", "", "id of the disk or snapshot to copy")
	forUpload := fs.Bool("for-upload", false, "create a disk to upload to (grant-access --access-level Write)")
	uploadSize := fs.Int64("upload-size-bytes", 0, "size of the upload, a multiple of 512 including the VHD footer")
	des := fs.String("disk-encryption-set", "", "id of the disk encryption set; update: \"\" with --encryption-type EncryptionAtRestWithPlatformKey")
	encType := fs.String("encryption-type", "", "EncryptionAtRestWithPlatformKey, EncryptionAtRestWithCustomerKey or EncryptionAtRestWithPlatformAndCustomerKeys")
	securityType := fs.String("security-type", "", "ConfidentialVM_DiskEncryptedWithCustomerKey (create)")
	secureDES := fs.String("secure-vm-disk-encryption-set", "", "id of the confidential VM disk encryption set (create)")
	osType := fs.String("os-type", "", "Linux or Windows")
	access := fs.String("access-level", "Read", "grant-access: Read or Write")
	duration := fs.Int("duration-in-seconds", 3600, "grant-access: how long the access URL works")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	sub, opts := cn.env["AZURE_SUBSCRIPTION_ID"], cn.env.ARMOptions(cn.http)
	disks, err := armcompute.NewDisksClient(sub, cn.cred, opts)
	if err != nil {
		return err
	}
	snaps, err := armcompute.NewSnapshotsClient(sub, cn.cred, opts)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	encryption := func() *armcompute.Encryption {
		if !set["disk-encryption-set"] && *encType == "" {
			return nil
		}
		e := &armcompute.Encryption{}
		if set["disk-encryption-set"] {
			e.DiskEncryptionSetID = des
		}
		if *encType != "" {
			e.Type = to.Ptr(armcompute.EncryptionType(*encType))
		}
		return e
	}
	if c.op != "list" {
		if err := required(fs, "name", "resource-group"); err != nil {
			return err
		}
	}
	switch c.op {
	case "create":
		cd := &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)}
		switch {
		case *source != "":
			cd = &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: source}
		case *forUpload || *uploadSize > 0:
			cd = &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionUpload), UploadSizeBytes: uploadSize}
		}
		var sec *armcompute.DiskSecurityProfile
		if *securityType != "" || *secureDES != "" {
			sec = &armcompute.DiskSecurityProfile{SecureVMDiskEncryptionSetID: to.Ptr(*secureDES)}
			if *securityType != "" {
				sec.SecurityType = to.Ptr(armcompute.DiskSecurityTypes(*securityType))
			}
		}
		var skuv *armcompute.DiskSKU
		if *sku != "" {
			skuv = &armcompute.DiskSKU{Name: to.Ptr(armcompute.DiskStorageAccountTypes(*sku))}
		}
		var sizeGB *int32
		if *size > 0 {
			sizeGB = to.Ptr(int32(*size))
		}
		var ost *armcompute.OperatingSystemTypes
		if *osType != "" {
			ost = to.Ptr(armcompute.OperatingSystemTypes(*osType))
		}
		if c.snapshot {
			poller, err := snaps.BeginCreateOrUpdate(ctx, *group, *name, armcompute.Snapshot{Location: location, Properties: &armcompute.SnapshotProperties{
				CreationData: cd, DiskSizeGB: sizeGB, Encryption: encryption(), SecurityProfile: sec, OSType: ost,
			}}, nil)
			res, err := result(ctx, poller, err)
			if err != nil {
				return err
			}
			return printJSON(c.out, res.Snapshot)
		}
		poller, err := disks.BeginCreateOrUpdate(ctx, *group, *name, armcompute.Disk{Location: location, SKU: skuv, Properties: &armcompute.DiskProperties{
			CreationData: cd, DiskSizeGB: sizeGB, Encryption: encryption(), SecurityProfile: sec, OSType: ost,
		}}, nil)
		res, err := result(ctx, poller, err)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Disk)
	case "update":
		if c.snapshot {
			poller, err := snaps.BeginUpdate(ctx, *group, *name, armcompute.SnapshotUpdate{Properties: &armcompute.SnapshotUpdateProperties{Encryption: encryption()}}, nil)
			res, err := result(ctx, poller, err)
			if err != nil {
				return err
			}
			return printJSON(c.out, res.Snapshot)
		}
		poller, err := disks.BeginUpdate(ctx, *group, *name, armcompute.DiskUpdate{Properties: &armcompute.DiskUpdateProperties{Encryption: encryption()}}, nil)
		res, err := result(ctx, poller, err)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Disk)
	case "show":
		if c.snapshot {
			res, err := snaps.Get(ctx, *group, *name, nil)
			if err != nil {
				return err
			}
			return printJSON(c.out, res.Snapshot)
		}
		res, err := disks.Get(ctx, *group, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.Disk)
	case "list":
		if c.snapshot {
			var all []*armcompute.Snapshot
			if *group != "" {
				all, err = collect(ctx, snaps.NewListByResourceGroupPager(*group, nil), func(p armcompute.SnapshotsClientListByResourceGroupResponse) []*armcompute.Snapshot { return p.Value })
			} else {
				all, err = collect(ctx, snaps.NewListPager(nil), func(p armcompute.SnapshotsClientListResponse) []*armcompute.Snapshot { return p.Value })
			}
			if err != nil {
				return err
			}
			return printJSON(c.out, all)
		}
		var all []*armcompute.Disk
		if *group != "" {
			all, err = collect(ctx, disks.NewListByResourceGroupPager(*group, nil), func(p armcompute.DisksClientListByResourceGroupResponse) []*armcompute.Disk { return p.Value })
		} else {
			all, err = collect(ctx, disks.NewListPager(nil), func(p armcompute.DisksClientListResponse) []*armcompute.Disk { return p.Value })
		}
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "delete":
		if c.snapshot {
			poller, err := snaps.BeginDelete(ctx, *group, *name, nil)
			return await(ctx, poller, err)
		}
		poller, err := disks.BeginDelete(ctx, *group, *name, nil)
		return await(ctx, poller, err)
	case "grant-access":
		grant := armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevel(*access)), DurationInSeconds: to.Ptr(int32(*duration))}
		var sas *string
		if c.snapshot {
			poller, err := snaps.BeginGrantAccess(ctx, *group, *name, grant, nil)
			res, err := result(ctx, poller, err)
			if err != nil {
				return err
			}
			sas = res.AccessSAS
		} else {
			poller, err := disks.BeginGrantAccess(ctx, *group, *name, grant, nil)
			res, err := result(ctx, poller, err)
			if err != nil {
				return err
			}
			sas = res.AccessSAS
		}
		return printJSON(c.out, map[string]*string{"accessSas": sas})
	case "revoke-access":
		if c.snapshot {
			poller, err := snaps.BeginRevokeAccess(ctx, *group, *name, nil)
			return await(ctx, poller, err)
		}
		poller, err := disks.BeginRevokeAccess(ctx, *group, *name, nil)
		return await(ctx, poller, err)
	}
	return fmt.Errorf("%s: unknown operation %q (create, update, show, list, delete, grant-access, revoke-access)", c.noun(), c.op)
}

// listKeyVersions prints, for a disk encryption set, each artifact it
// protects and the key version protecting it: tresor's keyVersions, which
// no SDK knows, through azcore's ARM pipeline.
func listKeyVersions(ctx context.Context, cn conn, group, name string, out io.Writer) error {
	c, err := arm.NewClient("tresor-cli", "v0.0.1", cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	path := "/subscriptions/" + cn.env["AZURE_SUBSCRIPTION_ID"] + "/resourceGroups/" + group +
		"/providers/Microsoft.Compute/diskEncryptionSets/" + name + "/keyVersions"
	type entry struct {
		ResourceID string `json:"resourceId"`
		KeyURL     string `json:"keyUrl"`
		Generation int    `json:"generation"`
	}
	all := []entry{}
	next := runtime.JoinPaths(c.Endpoint(), path) + "?api-version=2026-03-02"
	for next != "" {
		req, err := runtime.NewRequest(ctx, http.MethodGet, next)
		if err != nil {
			return err
		}
		resp, err := c.Pipeline().Do(req)
		if err != nil {
			return err
		}
		if !runtime.HasStatusCode(resp, http.StatusOK) {
			return runtime.NewResponseError(resp)
		}
		var page struct {
			Value    []entry `json:"value"`
			NextLink string  `json:"nextLink"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return err
		}
		all = append(all, page.Value...)
		next = strings.TrimSpace(page.NextLink)
	}
	return printJSON(out, all)
}
