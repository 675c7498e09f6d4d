package computehttp

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/compute"
)

// vmRoutes are the routes of virtual machines. PUT answers 201 with the
// finished VM when it creates one and 200 when it updates one, as Azure's
// synchronous answers do; the power operations answer 200 once done.
func (p *Provider) vmRoutes() []armhttp.Route {
	const (
		sub   = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute"
		group = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute"
		one   = group + "/virtualMachines/{vmName}"
	)
	// Creating a VM creates its disks; starting one unwraps its keys.
	const slow, keys = 10 * time.Minute, 2 * time.Minute
	power := func(op func(ctx context.Context, subscriptionID, group, name string) (compute.VirtualMachine, error)) armhttp.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			if _, err := op(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("vmName")); err != nil {
				return err
			}
			w.WriteHeader(http.StatusOK)
			return nil
		}
	}
	return []armhttp.Route{
		{Pattern: "PUT " + one, Timeout: slow, Handler: p.putVM},
		{Pattern: "PATCH " + one, Timeout: slow, Handler: p.patchVM},
		{Pattern: "GET " + one, Handler: p.getVM},
		{Pattern: "DELETE " + one, Timeout: slow, Handler: p.deleteVM},
		{Pattern: "GET " + one + "/instanceView", Handler: p.vmInstanceView},
		{Pattern: "POST " + one + "/start", Timeout: keys, Handler: power(p.Service.StartVM)},
		{Pattern: "POST " + one + "/restart", Timeout: keys, Handler: power(p.Service.RestartVM)},
		{Pattern: "POST " + one + "/powerOff", Handler: power(p.Service.PowerOffVM)},
		{Pattern: "POST " + one + "/deallocate", Handler: p.deallocateVM},
		{Pattern: "GET " + group + "/virtualMachines", Handler: p.listVMs},
		{Pattern: "GET " + sub + "/virtualMachines", Handler: p.listVMs},
	}
}

// The wire types: armcompute's VirtualMachine and the parts of it tresor
// serves.
type (
	virtualMachine struct {
		ID         string            `json:"id"`
		Name       string            `json:"name"`
		Type       string            `json:"type"`
		Location   string            `json:"location"`
		Tags       map[string]string `json:"tags"`
		Properties vmProperties      `json:"properties"`
	}
	vmProperties struct {
		VMID              string           `json:"vmId"`
		HardwareProfile   *hardwareProfile `json:"hardwareProfile,omitempty"`
		StorageProfile    storageProfile   `json:"storageProfile"`
		SecurityProfile   *securityProfile `json:"securityProfile,omitempty"`
		OSProfile         json.RawMessage  `json:"osProfile,omitempty"`
		ProvisioningState string           `json:"provisioningState"`
		TimeCreated       string           `json:"timeCreated"`
		InstanceView      *instanceView    `json:"instanceView,omitempty"`
	}
	hardwareProfile struct {
		VMSize string `json:"vmSize"`
	}
	storageProfile struct {
		ImageReference *imageReference `json:"imageReference,omitempty"`
		OSDisk         *osDisk         `json:"osDisk,omitempty"`
		DataDisks      []dataDisk      `json:"dataDisks"`
	}
	imageReference struct {
		ID        string `json:"id,omitempty"`
		Publisher string `json:"publisher,omitempty"`
		Offer     string `json:"offer,omitempty"`
		SKU       string `json:"sku,omitempty"`
		Version   string `json:"version,omitempty"`
	}
	osDisk struct {
		OSType           string            `json:"osType,omitempty"`
		Name             string            `json:"name,omitempty"`
		CreateOption     string            `json:"createOption"`
		Caching          string            `json:"caching,omitempty"`
		DiskSizeGB       int64             `json:"diskSizeGB,omitempty"`
		DeleteOption     string            `json:"deleteOption,omitempty"`
		DiffDiskSettings *diffDiskSettings `json:"diffDiskSettings,omitempty"`
		ManagedDisk      *managedDisk      `json:"managedDisk,omitempty"`
	}
	dataDisk struct {
		Lun          int          `json:"lun"`
		Name         string       `json:"name,omitempty"`
		CreateOption string       `json:"createOption"`
		Caching      string       `json:"caching,omitempty"`
		DiskSizeGB   int64        `json:"diskSizeGB,omitempty"`
		DeleteOption string       `json:"deleteOption,omitempty"`
		ManagedDisk  *managedDisk `json:"managedDisk,omitempty"`
	}
	managedDisk struct {
		ID                 string                 `json:"id,omitempty"`
		StorageAccountType string                 `json:"storageAccountType,omitempty"`
		DiskEncryptionSet  *subResource           `json:"diskEncryptionSet,omitempty"`
		SecurityProfile    *vmDiskSecurityProfile `json:"securityProfile,omitempty"`
	}
	vmDiskSecurityProfile struct {
		SecurityEncryptionType string       `json:"securityEncryptionType,omitempty"`
		DiskEncryptionSet      *subResource `json:"diskEncryptionSet,omitempty"`
	}
	subResource struct {
		ID string `json:"id"`
	}
	diffDiskSettings struct {
		Option    string `json:"option"`
		Placement string `json:"placement,omitempty"`
	}
	securityProfile struct {
		SecurityType string        `json:"securityType,omitempty"`
		UEFISettings *uefiSettings `json:"uefiSettings,omitempty"`
	}
	uefiSettings struct {
		SecureBootEnabled *bool `json:"secureBootEnabled,omitempty"`
		VTPMEnabled       *bool `json:"vTpmEnabled,omitempty"`
	}
	instanceView struct {
		Statuses []instanceViewStatus `json:"statuses"`
		Disks    []diskInstanceView   `json:"disks"`
	}
	instanceViewStatus struct {
		Code          string `json:"code"`
		Level         string `json:"level"`
		DisplayStatus string `json:"displayStatus"`
		Time          string `json:"time,omitempty"`
	}
	diskInstanceView struct {
		Name     string               `json:"name"`
		Statuses []instanceViewStatus `json:"statuses"`
	}
)

// vmParameters is the body of a PUT (VirtualMachine) or a PATCH
// (VirtualMachineUpdate). Unknown fields, and the read-only ones, are
// ignored.
type vmParameters struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties *vmProperties     `json:"properties"`
}

func managedWire(d compute.VMDisk) *managedDisk {
	if d.ID == "" && d.StorageAccountType == "" && d.DESID == "" && d.SecurityEncryptionType == "" {
		return nil // an ephemeral OS disk of a VM that is not confidential
	}
	m := &managedDisk{ID: d.ID, StorageAccountType: d.StorageAccountType}
	if d.DESID != "" {
		m.DiskEncryptionSet = &subResource{ID: d.DESID}
	}
	if d.SecurityEncryptionType != "" {
		m.SecurityProfile = &vmDiskSecurityProfile{SecurityEncryptionType: d.SecurityEncryptionType}
		if d.SecureDESID != "" {
			m.SecurityProfile.DiskEncryptionSet = &subResource{ID: d.SecureDESID}
		}
	}
	return m
}

func vmWire(v compute.VirtualMachine, view bool) virtualMachine {
	tags := v.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	o := v.OSDisk
	props := vmProperties{
		VMID: v.VMID, ProvisioningState: v.ProvisioningState, TimeCreated: v.Created.UTC().Format(time.RFC3339),
		StorageProfile: storageProfile{
			OSDisk: &osDisk{
				OSType: o.OSType, Name: o.Name, CreateOption: o.CreateOption, Caching: o.Caching, DiskSizeGB: o.SizeGB,
				DeleteOption: o.DeleteOption, ManagedDisk: managedWire(o),
			},
			DataDisks: []dataDisk{},
		},
	}
	if o.Ephemeral != "" {
		props.StorageProfile.OSDisk.DiffDiskSettings = &diffDiskSettings{Option: "Local", Placement: o.Ephemeral}
	}
	for _, d := range v.DataDisks {
		props.StorageProfile.DataDisks = append(props.StorageProfile.DataDisks, dataDisk{
			Lun: d.Lun, Name: d.Name, CreateOption: d.CreateOption, Caching: d.Caching, DiskSizeGB: d.SizeGB,
			DeleteOption: d.DeleteOption, ManagedDisk: managedWire(d),
		})
	}
	if i := v.Image; i != (compute.ImageReference{}) {
		props.StorageProfile.ImageReference = &imageReference{ID: i.ID, Publisher: i.Publisher, Offer: i.Offer, SKU: i.SKU, Version: i.Version}
	}
	if v.Size != "" {
		props.HardwareProfile = &hardwareProfile{VMSize: v.Size}
	}
	if v.SecurityType != "" || v.UEFI != nil {
		props.SecurityProfile = &securityProfile{SecurityType: v.SecurityType}
		if u := v.UEFI; u != nil {
			props.SecurityProfile.UEFISettings = &uefiSettings{SecureBootEnabled: u.SecureBoot, VTPMEnabled: u.VTPM}
		}
	}
	if len(v.OSProfile) > 0 {
		props.OSProfile = v.OSProfile
	}
	if view {
		iv := viewOf(v)
		props.InstanceView = &iv
	}
	return virtualMachine{
		ID: v.ID(), Name: v.Name, Type: compute.Namespace + "/virtualMachines", Location: v.Location, Tags: tags, Properties: props,
	}
}

// viewOf is a VM's instance view: its provisioning and power states, and
// its disks', spelled as Azure's.
func viewOf(v compute.VirtualMachine) instanceView {
	state := strings.ToLower(v.ProvisioningState)
	provisioned := instanceViewStatus{Code: "ProvisioningState/" + state, Level: "Info", DisplayStatus: "Provisioning " + state,
		Time: v.PowerChanged.UTC().Format(time.RFC3339)}
	iv := instanceView{Statuses: []instanceViewStatus{
		provisioned,
		{Code: "PowerState/" + string(v.Power), Level: "Info", DisplayStatus: "VM " + string(v.Power)},
	}, Disks: []diskInstanceView{}}
	disks := append([]compute.VMDisk{v.OSDisk}, v.DataDisks...)
	for _, d := range disks {
		iv.Disks = append(iv.Disks, diskInstanceView{Name: d.Name, Statuses: []instanceViewStatus{provisioned}})
	}
	return iv
}

// secretFields are the osProfile properties that tresor never stores:
// Azure never returns them either.
var secretFields = []string{"adminPassword", "customData"}

// vmSpecOf turns a request into a compute.VMSpec.
func vmSpecOf(in vmParameters) (compute.VMSpec, error) {
	var sp compute.VMSpec
	if in.Location != nil {
		sp.Location = *in.Location
	}
	sp.Tags = in.Tags
	pr := in.Properties
	if pr == nil {
		return sp, nil
	}
	if h := pr.HardwareProfile; h != nil {
		sp.Size = h.VMSize
	}
	if s := pr.SecurityProfile; s != nil {
		sp.SecurityType = s.SecurityType
		if u := s.UEFISettings; u != nil {
			sp.UEFI = &compute.UEFISettings{SecureBoot: u.SecureBootEnabled, VTPM: u.VTPMEnabled}
		}
	}
	if len(pr.OSProfile) > 0 && string(pr.OSProfile) != "null" {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(pr.OSProfile, &fields); err != nil {
			return compute.VMSpec{}, armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "properties.osProfile must be an object.").WithReason(arm.ReasonInvalidParameter), "properties.osProfile")
		}
		for k := range fields {
			for _, secret := range secretFields {
				if strings.EqualFold(k, secret) {
					delete(fields, k)
				}
			}
		}
		b, err := json.Marshal(fields)
		if err != nil {
			return compute.VMSpec{}, err
		}
		sp.OSProfile = b
	}
	st := pr.StorageProfile
	if i := st.ImageReference; i != nil {
		sp.Image = &compute.ImageReference{ID: i.ID, Publisher: i.Publisher, Offer: i.Offer, SKU: i.SKU, Version: i.Version}
	}
	if o := st.OSDisk; o != nil {
		d := compute.VMDisk{Name: o.Name, CreateOption: o.CreateOption, SizeGB: o.DiskSizeGB, OSType: o.OSType, Caching: o.Caching, DeleteOption: o.DeleteOption}
		managedSpec(&d, o.ManagedDisk)
		if dd := o.DiffDiskSettings; dd != nil {
			if !strings.EqualFold(dd.Option, "Local") {
				return compute.VMSpec{}, armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "diffDiskSettings.option must be Local.").WithReason(arm.ReasonInvalidParameter),
					"properties.storageProfile.osDisk.diffDiskSettings.option")
			}
			d.Ephemeral = dd.Placement
			if d.Ephemeral == "" {
				d.Ephemeral = "CacheDisk"
			}
		}
		sp.OSDisk = &d
	}
	if st.DataDisks != nil {
		sp.DataDisks = make([]compute.VMDisk, 0, len(st.DataDisks))
		for _, dd := range st.DataDisks {
			d := compute.VMDisk{Lun: dd.Lun, Name: dd.Name, CreateOption: dd.CreateOption, SizeGB: dd.DiskSizeGB, Caching: dd.Caching, DeleteOption: dd.DeleteOption}
			managedSpec(&d, dd.ManagedDisk)
			sp.DataDisks = append(sp.DataDisks, d)
		}
	}
	return sp, nil
}

func managedSpec(d *compute.VMDisk, m *managedDisk) {
	if m == nil {
		return
	}
	d.ID, d.StorageAccountType = m.ID, m.StorageAccountType
	if m.DiskEncryptionSet != nil {
		d.DESID = m.DiskEncryptionSet.ID
	}
	if s := m.SecurityProfile; s != nil {
		d.SecurityEncryptionType = s.SecurityEncryptionType
		if s.DiskEncryptionSet != nil {
			d.SecureDESID = s.DiskEncryptionSet.ID
		}
	}
}

func (p *Provider) putVM(w http.ResponseWriter, r *http.Request) error {
	var in vmParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if in.Tags == nil {
		in.Tags = map[string]string{}
	}
	sp, err := vmSpecOf(in)
	if err != nil {
		return err
	}
	if err := authorizeVMLinks(r, sp); err != nil {
		return err
	}
	v, created, err := p.Service.CreateOrUpdateVM(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("vmName"), sp)
	if err != nil {
		return err
	}
	// The finished VM, provisioningState Succeeded, which the SDKs'
	// pollers take as done for 201 as for 200.
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	armhttp.WriteJSON(w, status, vmWire(v, false))
	return nil
}

func (p *Provider) patchVM(w http.ResponseWriter, r *http.Request) error {
	var in vmParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	sp, err := vmSpecOf(in)
	if err != nil {
		return err
	}
	if err := authorizeVMLinks(r, sp); err != nil {
		return err
	}
	v, err := p.Service.UpdateVM(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("vmName"), sp)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, vmWire(v, false))
	return nil
}

// expandsView reports whether a GET asks for instance views:
// $expand=instanceView, or statusOnly=true on a subscription's list.
func expandsView(r *http.Request) bool {
	q := r.URL.Query()
	only, _ := strconv.ParseBool(q.Get("statusOnly"))
	return strings.EqualFold(q.Get("$expand"), "instanceView") || only
}

func (p *Provider) getVM(w http.ResponseWriter, r *http.Request) error {
	v, err := p.Service.GetVM(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("vmName"))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, vmWire(v, expandsView(r)))
	return nil
}

func (p *Provider) vmInstanceView(w http.ResponseWriter, r *http.Request) error {
	v, err := p.Service.GetVM(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("vmName"))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, viewOf(v))
	return nil
}

func (p *Provider) deleteVM(w http.ResponseWriter, r *http.Request) error {
	deleted, err := p.Service.DeleteVM(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("vmName"))
	if err != nil {
		return err
	}
	armhttp.Deleted(w, deleted)
	return nil
}

// deallocateVM refuses hibernate=true: tresor keeps no memory to
// hibernate.
func (p *Provider) deallocateVM(w http.ResponseWriter, r *http.Request) error {
	if h, _ := strconv.ParseBool(r.URL.Query().Get("hibernate")); h {
		return armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "tresor does not hibernate VMs; deallocate without hibernate.").WithReason(arm.ReasonInvalidParameter), "hibernate")
	}
	if _, err := p.Service.DeallocateVM(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("vmName")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (p *Provider) listVMs(w http.ResponseWriter, r *http.Request) error {
	vs, err := p.Service.ListVMs(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"))
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, vs, func(v compute.VirtualMachine) string { return strings.ToLower(v.ResourceGroup + "/" + v.Name) })
	if err != nil {
		return err
	}
	view := expandsView(r)
	out := armhttp.List[virtualMachine]{Value: make([]virtualMachine, 0, len(page)), NextLink: next}
	for _, v := range page {
		out.Value = append(out.Value, vmWire(v, view))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

// authorizeVMLinks checks that the caller may use what a VM request links
// to: the disks it attaches (write, as attaching changes them) and the
// disk encryption sets its disks name.
func authorizeVMLinks(r *http.Request, sp compute.VMSpec) error {
	disks := sp.DataDisks
	if sp.OSDisk != nil {
		disks = append([]compute.VMDisk{*sp.OSDisk}, disks...)
	}
	for _, d := range disks {
		if d.ID != "" {
			if err := armhttp.AuthorizeLinked(r, d.ID, compute.Namespace+"/disks/write"); err != nil {
				return err
			}
		}
		for _, id := range []string{d.DESID, d.SecureDESID} {
			if id == "" {
				continue
			}
			if err := armhttp.AuthorizeLinked(r, id, compute.Namespace+"/diskEncryptionSets/read"); err != nil {
				return err
			}
		}
	}
	return nil
}
