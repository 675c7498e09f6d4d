// Package computehttp is the ARM face of package compute: the
// Microsoft.Compute diskEncryptionSets, disks, snapshots and
// virtualMachines routes as armcompute calls them (api-version 2026-03-02
// for v8's disk resources, 2026-04-01 for its VMs; earlier versions send
// the same schema).
//
// Every operation completes before it answers, so PUT and PATCH answer 200
// with the finished resource (the Go client refuses 201 for a DES or a
// disk; a VM's PUT answers 201 when it creates one, with provisioningState
// Succeeded), which the SDKs' pollers take as done, POST actions answer
// 200, and DELETE answers 200 or 204.
package computehttp

import (
	"context"
	"net/http"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/msi/msihttp"
	"github.com/tresorkms/tresor/compute"
)

// Provider serves disk encryption sets, disks, snapshots and VMs.
type Provider struct {
	Service *compute.Service
}

var _ armhttp.Provider = (*Provider)(nil)

// Routes returns the provider's routes.
func (p *Provider) Routes() []armhttp.Route {
	const (
		sub   = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute"
		group = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute"
		one   = group + "/diskEncryptionSets/{diskEncryptionSetName}"
	)
	// Wrapping the intermediate key asks the key service.
	const slow = 2 * time.Minute
	return append([]armhttp.Route{
		{Pattern: "PUT " + one, Timeout: slow, Handler: p.createOrUpdate},
		{Pattern: "PATCH " + one, Timeout: slow, Handler: p.update},
		{Pattern: "GET " + one, Handler: p.get},
		{Pattern: "DELETE " + one, Handler: p.delete},
		{Pattern: "GET " + one + "/associatedResources", Handler: p.listAssociatedResources},
		{Pattern: "GET " + one + "/keyVersions", Handler: p.listKeyVersions},
		{Pattern: "GET " + group + "/diskEncryptionSets", Handler: p.list},
		{Pattern: "GET " + sub + "/diskEncryptionSets", Handler: p.list},
	}, append(p.diskRoutes(), p.vmRoutes()...)...)
}

// Resources lists a subscription's DESs, disks, snapshots and VMs.
func (p *Provider) Resources(ctx context.Context, subscriptionID string) ([]arm.Resource, error) {
	ds, err := p.Service.List(ctx, subscriptionID, "")
	if err != nil {
		return nil, err
	}
	out := make([]arm.Resource, 0, len(ds))
	for _, d := range ds {
		id, _ := arm.Parse(d.ID())
		out = append(out, arm.Resource{ID: id, Location: d.Location, Tags: d.Tags})
	}
	for _, kind := range []compute.Kind{compute.KindDisk, compute.KindSnapshot} {
		disks, err := p.Service.ListDisks(ctx, kind, subscriptionID, "")
		if err != nil {
			return nil, err
		}
		for _, d := range disks {
			id, _ := arm.Parse(d.ID())
			out = append(out, arm.Resource{ID: id, Location: d.Location, Tags: d.Tags})
		}
	}
	vms, err := p.Service.ListVMs(ctx, subscriptionID, "")
	if err != nil {
		return nil, err
	}
	for _, v := range vms {
		id, _ := arm.Parse(v.ID())
		out = append(out, arm.Resource{ID: id, Location: v.Location, Tags: v.Tags})
	}
	return out, nil
}

// DeleteResourceGroup deletes a group's VMs, snapshots, disks and DESs.
func (p *Provider) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	return p.Service.DeleteResourceGroup(ctx, subscriptionID, group)
}

// The wire types: armcompute's DiskEncryptionSet and friends.
type (
	diskEncryptionSet struct {
		ID         string                  `json:"id"`
		Name       string                  `json:"name"`
		Type       string                  `json:"type"`
		Location   string                  `json:"location"`
		Tags       map[string]string       `json:"tags"`
		Identity   *msihttp.Identity       `json:"identity,omitempty"`
		Properties encryptionSetProperties `json:"properties"`
	}
	encryptionSetProperties struct {
		EncryptionType                    string                    `json:"encryptionType"`
		ActiveKey                         *keyForDiskEncryptionSet  `json:"activeKey,omitempty"`
		PreviousKeys                      []keyForDiskEncryptionSet `json:"previousKeys"`
		ProvisioningState                 string                    `json:"provisioningState"`
		RotationToLatestKeyVersionEnabled bool                      `json:"rotationToLatestKeyVersionEnabled"`
		LastKeyRotationTimestamp          string                    `json:"lastKeyRotationTimestamp,omitempty"`
		AutoKeyRotationError              *apiError                 `json:"autoKeyRotationError,omitempty"`
		FederatedClientID                 string                    `json:"federatedClientId,omitempty"`
	}
	keyForDiskEncryptionSet struct {
		SourceVault *sourceVault `json:"sourceVault,omitempty"`
		KeyURL      string       `json:"keyUrl"`
	}
	sourceVault struct {
		ID string `json:"id"`
	}
	apiError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
)

// parameters is the body of a PUT (DiskEncryptionSet) or a PATCH
// (DiskEncryptionSetUpdate). Unknown fields are ignored.
type parameters struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	Identity   *msihttp.Identity `json:"identity"`
	Properties *struct {
		EncryptionType *string `json:"encryptionType"`
		ActiveKey      *struct {
			SourceVault *sourceVault `json:"sourceVault"`
			KeyURL      string       `json:"keyUrl"`
		} `json:"activeKey"`
		RotationToLatestKeyVersionEnabled *bool   `json:"rotationToLatestKeyVersionEnabled"`
		FederatedClientID                 *string `json:"federatedClientId"`
	} `json:"properties"`
}

func keyWire(k compute.KeyRef) keyForDiskEncryptionSet {
	out := keyForDiskEncryptionSet{KeyURL: k.KeyURL}
	if k.SourceVaultID != "" {
		out.SourceVault = &sourceVault{ID: k.SourceVaultID}
	}
	return out
}

func wire(d compute.DiskEncryptionSet) diskEncryptionSet {
	tags := d.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	active := keyWire(d.ActiveKey)
	props := encryptionSetProperties{
		EncryptionType: string(d.EncryptionType), ActiveKey: &active, PreviousKeys: []keyForDiskEncryptionSet{},
		ProvisioningState: d.ProvisioningState, RotationToLatestKeyVersionEnabled: d.RotationToLatestKeyVersionEnabled,
		FederatedClientID: d.FederatedClientID,
	}
	for _, k := range d.PreviousKeys {
		props.PreviousKeys = append(props.PreviousKeys, keyWire(k))
	}
	if !d.LastKeyRotation.IsZero() {
		props.LastKeyRotationTimestamp = d.LastKeyRotation.UTC().Format(time.RFC3339)
	}
	if e := d.AutoKeyRotationError; e != (compute.APIError{}) {
		props.AutoKeyRotationError = &apiError{Code: e.Code, Message: e.Message}
	}
	return diskEncryptionSet{
		ID: d.ID(), Name: d.Name, Type: compute.Namespace + "/diskEncryptionSets", Location: d.Location, Tags: tags,
		Identity: msihttp.IdentityOf(d.Identity), Properties: props,
	}
}

// specOf turns a request into a compute.Spec; cur is the DES's current
// state for a PATCH, nil for a PUT. A PUT replaces the settings: those it
// omits take their defaults.
func specOf(in parameters, cur *compute.DiskEncryptionSet) (compute.Spec, error) {
	var sp compute.Spec
	patch := cur != nil
	if in.Location != nil {
		sp.Location = *in.Location
	}
	sp.Tags = in.Tags
	if !patch && sp.Tags == nil {
		sp.Tags = map[string]string{}
	}
	if in.Identity != nil || !patch {
		var st compute.DiskEncryptionSet
		if cur != nil {
			st = *cur
		}
		id, err := msihttp.SpecOf(in.Identity, st.Identity, patch)
		if err != nil {
			return compute.Spec{}, err
		}
		sp.Identity = &id
	}
	if !patch {
		off, none := false, ""
		sp.EncryptionType, sp.RotationToLatestKeyVersionEnabled, sp.FederatedClientID = compute.EncryptionAtRestWithCustomerKey, &off, &none
	}
	pr := in.Properties
	if pr == nil {
		return sp, nil
	}
	if pr.EncryptionType != nil {
		if *pr.EncryptionType == "" {
			return compute.Spec{}, armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "The encryptionType is empty.").WithReason(arm.ReasonInvalidParameter),
				"properties.encryptionType")
		}
		sp.EncryptionType = compute.EncryptionType(*pr.EncryptionType)
	}
	if k := pr.ActiveKey; k != nil {
		sp.ActiveKey = &compute.KeyRef{KeyURL: k.KeyURL}
		if k.SourceVault != nil {
			sp.ActiveKey.SourceVaultID = k.SourceVault.ID
		}
	}
	if pr.RotationToLatestKeyVersionEnabled != nil {
		sp.RotationToLatestKeyVersionEnabled = pr.RotationToLatestKeyVersionEnabled
	}
	if pr.FederatedClientID != nil {
		sp.FederatedClientID = pr.FederatedClientID
	}
	return sp, nil
}

func (p *Provider) createOrUpdate(w http.ResponseWriter, r *http.Request) error {
	var in parameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	sub := armhttp.Subscription(r)
	sp, err := specOf(in, nil)
	if err != nil {
		return err
	}
	d, _, err := p.Service.CreateOrUpdate(r.Context(), sub.ID, sub.TenantID, r.PathValue("resourceGroupName"), r.PathValue("diskEncryptionSetName"), sp)
	if err != nil {
		return keyTarget(err)
	}
	// 200 with the finished resource, created or not: armcompute refuses
	// 201 here, and its poller is done at once.
	armhttp.WriteJSON(w, http.StatusOK, wire(d))
	return nil
}

func (p *Provider) update(w http.ResponseWriter, r *http.Request) error {
	var in parameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	sub := armhttp.Subscription(r)
	group, name := r.PathValue("resourceGroupName"), r.PathValue("diskEncryptionSetName")
	cur, err := p.Service.Get(ctx, sub.ID, group, name)
	if err != nil {
		return err
	}
	sp, err := specOf(in, &cur)
	if err != nil {
		return err
	}
	d, err := p.Service.Update(ctx, sub.ID, group, name, sp)
	if err != nil {
		return keyTarget(err)
	}
	armhttp.WriteJSON(w, http.StatusOK, wire(d))
	return nil
}

// keyTarget names properties.activeKey as the target of a key change that
// the resources on the DES refuse (confidential VMs running, or with
// ephemeral OS disks).
func keyTarget(err error) error {
	if tresor.ReasonOf(err) == compute.ReasonOperationNotAllowed {
		return armhttp.WithTarget(err, "properties.activeKey")
	}
	return err
}

func (p *Provider) get(w http.ResponseWriter, r *http.Request) error {
	d, err := p.Service.Get(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("diskEncryptionSetName"))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, wire(d))
	return nil
}

func (p *Provider) delete(w http.ResponseWriter, r *http.Request) error {
	deleted, err := p.Service.Delete(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("diskEncryptionSetName"))
	if err != nil {
		return err
	}
	armhttp.Deleted(w, deleted)
	return nil
}

func (p *Provider) list(w http.ResponseWriter, r *http.Request) error {
	ds, err := p.Service.List(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"))
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, ds, func(d compute.DiskEncryptionSet) string { return d.ResourceGroup + "/" + d.Name })
	if err != nil {
		return err
	}
	out := armhttp.List[diskEncryptionSet]{Value: make([]diskEncryptionSet, 0, len(page)), NextLink: next}
	for _, d := range page {
		out.Value = append(out.Value, wire(d))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

// listAssociatedResources answers a ResourceUriList: plain ids.
func (p *Provider) listAssociatedResources(w http.ResponseWriter, r *http.Request) error {
	ids, err := p.Service.ListAssociatedResources(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("diskEncryptionSetName"))
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, ids, func(id string) string { return id })
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, armhttp.List[string]{Value: append([]string{}, page...), NextLink: next})
	return nil
}
