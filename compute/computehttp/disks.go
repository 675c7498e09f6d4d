package computehttp

import (
	"net/http"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/compute"
)

// diskRoutes are the routes of disks and snapshots, which share their
// handlers; the kind is the path's.
func (p *Provider) diskRoutes() []armhttp.Route {
	const (
		sub   = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute"
		group = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute"
	)
	// Creating a copy re-encrypts its content.
	const slow = 10 * time.Minute
	var out []armhttp.Route
	for _, kind := range []compute.Kind{compute.KindDisk, compute.KindSnapshot} {
		one := group + "/" + string(kind) + "/{name}"
		k := kind
		out = append(out,
			armhttp.Route{Pattern: "PUT " + one, Timeout: slow, Handler: func(w http.ResponseWriter, r *http.Request) error { return p.putDisk(w, r, k) }},
			armhttp.Route{Pattern: "PATCH " + one, Timeout: slow, Handler: func(w http.ResponseWriter, r *http.Request) error { return p.patchDisk(w, r, k) }},
			armhttp.Route{Pattern: "GET " + one, Handler: func(w http.ResponseWriter, r *http.Request) error { return p.getDisk(w, r, k) }},
			armhttp.Route{Pattern: "DELETE " + one, Handler: func(w http.ResponseWriter, r *http.Request) error { return p.deleteDisk(w, r, k) }},
			armhttp.Route{Pattern: "POST " + one + "/beginGetAccess", Handler: func(w http.ResponseWriter, r *http.Request) error { return p.grantAccess(w, r, k) }},
			armhttp.Route{Pattern: "POST " + one + "/endGetAccess", Handler: func(w http.ResponseWriter, r *http.Request) error { return p.revokeAccess(w, r, k) }},
			armhttp.Route{Pattern: "GET " + group + "/" + string(kind), Handler: func(w http.ResponseWriter, r *http.Request) error { return p.listDisks(w, r, k) }},
			armhttp.Route{Pattern: "GET " + sub + "/" + string(kind), Handler: func(w http.ResponseWriter, r *http.Request) error { return p.listDisks(w, r, k) }},
		)
	}
	return out
}

// The wire types: armcompute's Disk and Snapshot, which share their
// encryption surface.
type (
	diskResource struct {
		ID         string            `json:"id"`
		Name       string            `json:"name"`
		Type       string            `json:"type"`
		Location   string            `json:"location"`
		Tags       map[string]string `json:"tags"`
		SKU        diskSKU           `json:"sku"`
		ManagedBy  string            `json:"managedBy,omitempty"`
		Properties diskProperties    `json:"properties"`
	}
	diskSKU struct {
		Name string `json:"name"`
		Tier string `json:"tier,omitempty"`
	}
	diskProperties struct {
		CreationData      creationData         `json:"creationData"`
		DiskSizeGB        int64                `json:"diskSizeGB"`
		DiskSizeBytes     int64                `json:"diskSizeBytes"`
		UniqueID          string               `json:"uniqueId"`
		OSType            string               `json:"osType,omitempty"`
		HyperVGeneration  string               `json:"hyperVGeneration,omitempty"`
		Encryption        diskEncryption       `json:"encryption"`
		SecurityProfile   *diskSecurityProfile `json:"securityProfile,omitempty"`
		DiskState         string               `json:"diskState"`
		ProvisioningState string               `json:"provisioningState"`
		TimeCreated       string               `json:"timeCreated"`
		Incremental       *bool                `json:"incremental,omitempty"`
	}
	creationData struct {
		CreateOption     string `json:"createOption"`
		SourceResourceID string `json:"sourceResourceId,omitempty"`
		UploadSizeBytes  int64  `json:"uploadSizeBytes,omitempty"`
	}
	diskEncryption struct {
		Type                string `json:"type,omitempty"`
		DiskEncryptionSetID string `json:"diskEncryptionSetId,omitempty"`
	}
	diskSecurityProfile struct {
		SecurityType                string `json:"securityType,omitempty"`
		SecureVMDiskEncryptionSetID string `json:"secureVMDiskEncryptionSetId,omitempty"`
	}
	accessURI struct {
		AccessSAS string `json:"accessSAS"`
	}
)

// diskParameters is the body of a PUT (Disk, Snapshot) or PATCH
// (DiskUpdate, SnapshotUpdate). Unknown fields are ignored.
type diskParameters struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	SKU        *diskSKU          `json:"sku"`
	Properties *struct {
		CreationData *struct {
			CreateOption     string `json:"createOption"`
			SourceResourceID string `json:"sourceResourceId"`
			UploadSizeBytes  int64  `json:"uploadSizeBytes"`
		} `json:"creationData"`
		DiskSizeGB       int64  `json:"diskSizeGB"`
		OSType           string `json:"osType"`
		HyperVGeneration string `json:"hyperVGeneration"`
		Encryption       *struct {
			Type                string  `json:"type"`
			DiskEncryptionSetID *string `json:"diskEncryptionSetId"`
		} `json:"encryption"`
		SecurityProfile *diskSecurityProfile `json:"securityProfile"`
	} `json:"properties"`
}

func diskWire(d compute.Disk) diskResource {
	tags := d.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	props := diskProperties{
		CreationData: creationData{CreateOption: d.CreateOption, SourceResourceID: d.SourceResourceID},
		DiskSizeGB:   (d.SizeBytes + 1<<30 - 1) >> 30, DiskSizeBytes: d.SizeBytes, UniqueID: d.UniqueID,
		OSType: d.OSType, HyperVGeneration: d.HyperVGeneration,
		Encryption: diskEncryption{Type: string(d.EncryptionType), DiskEncryptionSetID: d.DESID},
		DiskState:  string(d.State), ProvisioningState: d.ProvisioningState, TimeCreated: d.Created.UTC().Format(time.RFC3339),
	}
	if d.CreateOption == compute.CreateUpload {
		props.CreationData.UploadSizeBytes = d.SizeBytes
	}
	if d.SecurityType != "" {
		props.SecurityProfile = &diskSecurityProfile{SecurityType: d.SecurityType, SecureVMDiskEncryptionSetID: d.SecureDESID}
	}
	if d.Kind == compute.KindSnapshot {
		off := false
		props.Incremental = &off
	}
	tier := "Standard"
	if strings.HasPrefix(d.SKU, "Premium") {
		tier = "Premium"
	}
	return diskResource{
		ID: d.ID(), Name: d.Name, Type: compute.Namespace + "/" + string(d.Kind), Location: d.Location, Tags: tags,
		SKU: diskSKU{Name: d.SKU, Tier: tier}, ManagedBy: d.ManagedBy, Properties: props,
	}
}

func diskSpecOf(in diskParameters) compute.DiskSpec {
	var sp compute.DiskSpec
	if in.Location != nil {
		sp.Location = *in.Location
	}
	sp.Tags = in.Tags
	if in.SKU != nil {
		sp.SKU = in.SKU.Name
	}
	pr := in.Properties
	if pr == nil {
		return sp
	}
	if c := pr.CreationData; c != nil {
		sp.CreateOption, sp.SourceResourceID, sp.UploadSizeBytes = c.CreateOption, c.SourceResourceID, c.UploadSizeBytes
	}
	sp.DiskSizeGB, sp.OSType, sp.HyperVGeneration = pr.DiskSizeGB, pr.OSType, pr.HyperVGeneration
	if e := pr.Encryption; e != nil {
		sp.EncryptionType, sp.DESID = compute.DiskEncryptionType(e.Type), e.DiskEncryptionSetID
		if sp.DESID == nil && strings.EqualFold(e.Type, string(compute.PlatformKey)) {
			none := ""
			sp.DESID = &none
		}
	}
	if sec := pr.SecurityProfile; sec != nil {
		sp.SecurityType, sp.SecureDESID = sec.SecurityType, sec.SecureVMDiskEncryptionSetID
	}
	return sp
}

func (p *Provider) putDisk(w http.ResponseWriter, r *http.Request, kind compute.Kind) error {
	var in diskParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if in.Properties == nil || in.Properties.CreationData == nil {
		if _, err := p.Service.GetDisk(r.Context(), kind, armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name")); err != nil {
			return armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "properties.creationData is required.").WithReason(arm.ReasonInvalidParameter), "properties.creationData")
		}
	}
	if in.Tags == nil {
		in.Tags = map[string]string{}
	}
	sp := diskSpecOf(in)
	if err := authorizeLinks(r, sp); err != nil {
		return err
	}
	d, _, err := p.Service.CreateOrUpdateDisk(r.Context(), kind, armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name"), sp)
	if err != nil {
		return err
	}
	// 200 with the finished resource: the operation is complete, and the
	// SDKs' pollers take it as done.
	armhttp.WriteJSON(w, http.StatusOK, diskWire(d))
	return nil
}

func (p *Provider) patchDisk(w http.ResponseWriter, r *http.Request, kind compute.Kind) error {
	var in diskParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	sp := diskSpecOf(in)
	if err := authorizeLinks(r, sp); err != nil {
		return err
	}
	d, err := p.Service.UpdateDisk(r.Context(), kind, armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name"), sp)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, diskWire(d))
	return nil
}

func (p *Provider) getDisk(w http.ResponseWriter, r *http.Request, kind compute.Kind) error {
	d, err := p.Service.GetDisk(r.Context(), kind, armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name"))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, diskWire(d))
	return nil
}

func (p *Provider) deleteDisk(w http.ResponseWriter, r *http.Request, kind compute.Kind) error {
	deleted, err := p.Service.DeleteDisk(r.Context(), kind, armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name"))
	if err != nil {
		return err
	}
	armhttp.Deleted(w, deleted)
	return nil
}

func (p *Provider) listDisks(w http.ResponseWriter, r *http.Request, kind compute.Kind) error {
	ds, err := p.Service.ListDisks(r.Context(), kind, armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"))
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, ds, func(d compute.Disk) string { return d.ResourceGroup + "/" + d.Name })
	if err != nil {
		return err
	}
	out := armhttp.List[diskResource]{Value: make([]diskResource, 0, len(page)), NextLink: next}
	for _, d := range page {
		out.Value = append(out.Value, diskWire(d))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

// grantAccess is beginGetAccess (GrantAccessData → AccessUri), answered
// at once with 200.
func (p *Provider) grantAccess(w http.ResponseWriter, r *http.Request, kind compute.Kind) error {
	var in struct {
		Access            string `json:"access"`
		DurationInSeconds int64  `json:"durationInSeconds"`
	}
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if in.DurationInSeconds <= 0 || in.DurationInSeconds > 1<<31 {
		return armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "durationInSeconds must be a positive number of seconds.").WithReason(arm.ReasonInvalidParameter), "durationInSeconds")
	}
	sas, err := p.Service.GrantAccess(r.Context(), kind, armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name"),
		in.Access, time.Duration(in.DurationInSeconds)*time.Second)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, accessURI{AccessSAS: sas})
	return nil
}

func (p *Provider) revokeAccess(w http.ResponseWriter, r *http.Request, kind compute.Kind) error {
	if err := p.Service.RevokeAccess(r.Context(), kind, armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// keyVersion is one entry of a DES's keyVersions (a tresor extension).
type keyVersion struct {
	ResourceID string `json:"resourceId"`
	KeyURL     string `json:"keyUrl"`
	Generation int    `json:"generation"`
}

// listKeyVersions answers, for a DES, each artifact it protects and the
// key version that protects it.
func (p *Provider) listKeyVersions(w http.ResponseWriter, r *http.Request) error {
	vs, err := p.Service.KeyVersions(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("diskEncryptionSetName"))
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, vs, func(v compute.ArtifactVersion) string { return strings.ToLower(v.ResourceID) })
	if err != nil {
		return err
	}
	out := armhttp.List[keyVersion]{Value: make([]keyVersion, 0, len(page)), NextLink: next}
	for _, v := range page {
		out.Value = append(out.Value, keyVersion{ResourceID: v.ResourceID, KeyURL: v.KeyID, Generation: v.Gen})
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

// authorizeLinks checks that the caller may read what a disk request links
// to: the source of a copy and the disk encryption sets it names. The
// front door has checked only the disk itself.
func authorizeLinks(r *http.Request, sp compute.DiskSpec) error {
	if id := sp.SourceResourceID; id != "" {
		action := compute.Namespace + "/disks/read"
		if rid, err := arm.Parse(id); err == nil && len(rid.Types) == 1 && strings.EqualFold(rid.Types[0], string(compute.KindSnapshot)) {
			action = compute.Namespace + "/snapshots/read"
		}
		if err := armhttp.AuthorizeLinked(r, id, action); err != nil {
			return err
		}
	}
	for _, id := range []string{deref(sp.DESID), sp.SecureDESID} {
		if id == "" {
			continue
		}
		if err := armhttp.AuthorizeLinked(r, id, compute.Namespace+"/diskEncryptionSets/read"); err != nil {
			return err
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
