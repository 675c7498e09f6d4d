package vault

import (
	"maps"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/keyvault"
)

// settings are the vault settings a PUT or PATCH gives; nil means absent.
// Both resource types' requests convert to settings, which apply checks and
// copies onto a keyvault.Vault. keyvault.Service checks the rest (name,
// retention range, settings that cannot be turned off).
type settings struct {
	kind                keyvault.VaultKind
	location            *string
	tags                *map[string]string
	sku                 *sku
	tenantID            *string
	softDelete          *bool
	retentionDays       *int
	purgeProtection     *bool
	rbac                *bool
	deployment          *bool
	diskEncryption      *bool
	templateDeployment  *bool
	publicNetworkAccess *string
	accessPolicies      *[]accessPolicyEntry
	initialAdmins       *[]string
	recover             bool
}

// sku is the vault SKU ({family "A", name standard|premium}) or the
// managed HSM SKU ({family "B", name "Standard_B1"}).
type sku struct {
	Family string `json:"family"`
	Name   string `json:"name"`
}

// The SKU names by lower-cased spelling, with the family each belongs to.
var (
	vaultSKUs = map[string]sku{"standard": {"A", "standard"}, "premium": {"A", "premium"}}
	hsmSKUs   = map[string]sku{
		"standard_b1": {"B", "Standard_B1"}, "custom_b32": {"B", "Custom_B32"}, "custom_b6": {"B", "Custom_B6"},
		"custom_c42": {"C", "Custom_C42"}, "custom_c10": {"C", "Custom_C10"},
	}
)

func skuTarget(t resourceType) string {
	if t.kind == keyvault.ManagedHSM {
		return "sku"
	}
	return "properties.sku"
}

// skuOf returns the wire SKU of a stored SKU name.
func skuOf(kind keyvault.VaultKind, name string) sku {
	known := vaultSKUs
	if kind == keyvault.ManagedHSM {
		known = hsmSKUs
	}
	if s, ok := known[strings.ToLower(name)]; ok {
		return s
	}
	return sku{Name: name}
}

type accessPolicyEntry struct {
	TenantID      string      `json:"tenantId"`
	ObjectID      string      `json:"objectId"`
	ApplicationID string      `json:"applicationId,omitempty"`
	Permissions   permissions `json:"permissions"`
}

type permissions struct {
	Keys         []string `json:"keys,omitempty"`
	Secrets      []string `json:"secrets,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Storage      []string `json:"storage,omitempty"`
}

// permissionNames are the permissions of each kind in Azure's spelling
// (armkeyvault's KeyPermissions, ...). Requests may use any case.
var permissionNames = map[string][]string{
	"keys": {"all", "backup", "create", "decrypt", "delete", "encrypt", "get", "getrotationpolicy", "import", "list",
		"purge", "recover", "release", "restore", "rotate", "setrotationpolicy", "sign", "unwrapKey", "update", "verify", "wrapKey"},
	"secrets": {"all", "backup", "delete", "get", "list", "purge", "recover", "restore", "set"},
	"certificates": {"all", "backup", "create", "delete", "deleteissuers", "get", "getissuers", "import", "list", "listissuers",
		"managecontacts", "manageissuers", "purge", "recover", "restore", "setissuers", "update"},
	"storage": {"all", "backup", "delete", "deletesas", "get", "getsas", "list", "listsas", "purge", "recover",
		"regeneratekey", "restore", "set", "setsas", "update"},
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// maxAccessPolicies is Azure's limit per vault.
const maxAccessPolicies = 1024

// invalid is an Invalid error naming the property at fault.
func invalid(target, format string, args ...any) error {
	return armhttp.WithTarget(tresor.Errorf(tresor.Invalid, format, args...).WithReason(arm.ReasonInvalidParameter), target)
}

// apply checks the given settings and copies them onto v.
func (s settings) apply(v *keyvault.Vault) error {
	if s.location != nil {
		loc, err := arm.ValidateLocation(*s.location)
		if err != nil {
			return armhttp.WithTarget(err, "location")
		}
		v.Location = loc
	}
	if s.tags != nil {
		if err := arm.ValidateTags(*s.tags); err != nil {
			return armhttp.WithTarget(err, "tags")
		}
		v.Tags = maps.Clone(*s.tags)
	}
	if v.Tags == nil {
		v.Tags = map[string]string{}
	}
	if s.sku != nil {
		known, family := vaultSKUs, "A"
		if s.kind == keyvault.ManagedHSM {
			known, family = hsmSKUs, "B or C"
		}
		target := "properties.sku"
		if s.kind == keyvault.ManagedHSM {
			target = "sku"
		}
		k, ok := known[strings.ToLower(s.sku.Name)]
		if !ok {
			return invalid(target+".name", "The SKU name '%s' is not supported.", s.sku.Name)
		}
		if s.sku.Family != "" && !strings.EqualFold(s.sku.Family, k.Family) {
			return invalid(target+".family", "The SKU family '%s' is invalid; SKU '%s' belongs to family %s.", s.sku.Family, k.Name, family)
		}
		v.SKU = k.Name
	}
	if s.tenantID != nil && *s.tenantID != "" {
		if !guidPattern.MatchString(*s.tenantID) {
			return invalid("properties.tenantId", "The tenant id '%s' is not a GUID.", *s.tenantID)
		}
		v.TenantID = strings.ToLower(*s.tenantID)
	}
	if s.softDelete != nil {
		if !*s.softDelete && s.kind == keyvault.ManagedHSM {
			return invalid("properties.enableSoftDelete", "Soft delete is always enabled for managed HSMs.")
		}
		v.SoftDelete = *s.softDelete
	}
	if s.retentionDays != nil {
		v.RetentionDays = *s.retentionDays
	}
	setBool(&v.PurgeProtection, s.purgeProtection)
	setBool(&v.RBAC, s.rbac)
	setBool(&v.EnabledForDeployment, s.deployment)
	setBool(&v.EnabledForDiskEncryption, s.diskEncryption)
	setBool(&v.EnabledForTemplateDeployment, s.templateDeployment)
	if s.publicNetworkAccess != nil {
		switch strings.ToLower(*s.publicNetworkAccess) {
		case "enabled":
			v.PublicNetworkAccess = "Enabled"
		case "disabled":
			v.PublicNetworkAccess = "Disabled"
		default:
			return invalid("properties.publicNetworkAccess", "The value '%s' of publicNetworkAccess is invalid; use Enabled or Disabled.", *s.publicNetworkAccess)
		}
	}
	if s.accessPolicies != nil {
		policies, err := accessPolicies(*s.accessPolicies)
		if err != nil {
			return err
		}
		v.AccessPolicies = policies
	}
	if s.initialAdmins != nil {
		for i, id := range *s.initialAdmins {
			if strings.TrimSpace(id) == "" {
				return invalid("properties.initialAdminObjectIds", "Initial administrator object id %d is empty.", i)
			}
		}
		v.InitialAdmins = append([]string(nil), *s.initialAdmins...)
	}
	return nil
}

func setBool(dst *bool, src *bool) {
	if src != nil {
		*dst = *src
	}
}

// accessPolicies checks and converts access policies, spelling permissions
// as Azure does.
func accessPolicies(in []accessPolicyEntry) ([]keyvault.AccessPolicy, error) {
	if len(in) > maxAccessPolicies {
		return nil, invalid("properties.accessPolicies", "A vault has at most %d access policies, not %d.", maxAccessPolicies, len(in))
	}
	out := make([]keyvault.AccessPolicy, 0, len(in))
	for i, a := range in {
		target := "properties.accessPolicies[" + strconv.Itoa(i) + "]"
		if !guidPattern.MatchString(a.TenantID) {
			return nil, invalid(target+".tenantId", "The access policy's tenantId '%s' is not a GUID.", a.TenantID)
		}
		if strings.TrimSpace(a.ObjectID) == "" {
			return nil, invalid(target+".objectId", "The access policy's objectId is required.")
		}
		p := keyvault.AccessPolicy{TenantID: strings.ToLower(a.TenantID), ObjectID: a.ObjectID, ApplicationID: a.ApplicationID}
		var err error
		for _, kind := range []struct {
			name string
			in   []string
			out  *[]string
		}{
			{"keys", a.Permissions.Keys, &p.Keys},
			{"secrets", a.Permissions.Secrets, &p.Secrets},
			{"certificates", a.Permissions.Certificates, &p.Certificates},
			{"storage", a.Permissions.Storage, &p.Storage},
		} {
			if *kind.out, err = permissionList(kind.name, kind.in, target+".permissions."+kind.name); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// checkPolicyTenants applies Azure's rule that every access policy uses the
// vault's tenant.
func checkPolicyTenants(v keyvault.Vault) error {
	for i, a := range v.AccessPolicies {
		if !strings.EqualFold(a.TenantID, v.TenantID) {
			return invalid("properties.accessPolicies["+strconv.Itoa(i)+"].tenantId",
				"The access policy's tenant '%s' differs from the vault's tenant '%s'.", a.TenantID, v.TenantID)
		}
	}
	return nil
}

func permissionList(kind string, in []string, target string) ([]string, error) {
	var out []string
	for _, name := range in {
		i := indexFold(permissionNames[kind], name)
		if i < 0 {
			return nil, invalid(target, "'%s' is not a valid %s permission.", name, strings.TrimSuffix(kind, "s"))
		}
		out = append(out, permissionNames[kind][i])
	}
	return out, nil
}

func indexFold(list []string, s string) int {
	for i, x := range list {
		if strings.EqualFold(x, s) {
			return i
		}
	}
	return -1
}

func accessPolicyEntries(in []keyvault.AccessPolicy) []accessPolicyEntry {
	out := make([]accessPolicyEntry, 0, len(in))
	for _, a := range in {
		out = append(out, accessPolicyEntry{
			TenantID: a.TenantID, ObjectID: a.ObjectID, ApplicationID: a.ApplicationID,
			Permissions: permissions{Keys: a.Keys, Secrets: a.Secrets, Certificates: a.Certificates, Storage: a.Storage},
		})
	}
	return out
}

// systemData is the creation and modification metadata of a resource.
type systemData struct {
	CreatedAt      time.Time `json:"createdAt"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
}

func systemDataOf(v keyvault.Vault) *systemData {
	if v.Created.IsZero() {
		return nil
	}
	return &systemData{CreatedAt: v.Created, LastModifiedAt: v.Updated}
}

func tagsOf(v keyvault.Vault) map[string]string {
	if v.Tags == nil {
		return map[string]string{}
	}
	return v.Tags
}

// createMode parses properties.createMode: "recover" or "default".
func createMode(mode *string) (bool, error) {
	if mode == nil {
		return false, nil
	}
	switch strings.ToLower(*mode) {
	case "default", "":
		return false, nil
	case "recover":
		return true, nil
	}
	return false, invalid("properties.createMode", "The createMode '%s' is invalid; use default or recover.", *mode)
}
