package keyvault

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"

	"github.com/tresorkms/tresor"
)

// Decider answers role-based access decisions (rbac.Service implements
// it): may principalID perform action at scope in realm? data selects data
// actions.
type Decider interface {
	Decide(ctx context.Context, realm, principalID, scope, action string, data bool) (bool, error)
}

// Reasons of access denials, as Azure spells them. Key Vault answers 403
// Forbidden with the inner code ForbiddenByRbac or ForbiddenByPolicy; a
// Managed HSM answers 403 with the code AccessDenied.
const (
	ReasonForbiddenByRbac   = "ForbiddenByRbac"
	ReasonForbiddenByPolicy = "ForbiddenByPolicy"
	ReasonAccessDenied      = "AccessDenied"
)

// Action is what an operation needs, in the three vocabularies Azure uses:
// the key permission of a vault access policy, the Azure RBAC data action
// of a Key Vault, and the local RBAC data action of a Managed HSM.
type Action struct {
	Policy string
	RBAC   string
	HSM    string
}

func keyAction(policy, kvAction, hsmAction string) Action {
	return Action{Policy: policy, RBAC: "Microsoft.KeyVault/vaults/keys/" + kvAction, HSM: "Microsoft.KeyVault/managedHsm/keys/" + hsmAction}
}

// The actions of the keys API. Where Azure does not document the mapping
// (reading deleted keys in a Key Vault), the nearest documented action is
// used; docs/compatibility.md lists these choices.
var (
	ActionGet        = keyAction("get", "read", "read/action")
	ActionList       = keyAction("list", "read", "read/action")
	ActionCreate     = keyAction("create", "create/action", "create")
	ActionImport     = keyAction("import", "import/action", "import/action")
	ActionUpdate     = keyAction("update", "update/action", "write/action")
	ActionDelete     = keyAction("delete", "delete", "delete")
	ActionGetDeleted = keyAction("get", "read", "deletedKeys/read/action")
	ActionRecover    = keyAction("recover", "recover/action", "deletedKeys/recover/action")
	ActionPurge      = keyAction("purge", "purge/action", "deletedKeys/delete")
	ActionBackup     = keyAction("backup", "backup/action", "backup/action")
	ActionRestore    = keyAction("restore", "restore/action", "restore/action")
	ActionEncrypt    = keyAction("encrypt", "encrypt/action", "encrypt/action")
	ActionDecrypt    = keyAction("decrypt", "decrypt/action", "decrypt/action")
	ActionWrapKey    = keyAction("wrapKey", "wrap/action", "wrap/action")
	ActionUnwrapKey  = keyAction("unwrapKey", "unwrap/action", "unwrap/action")
	ActionSign       = keyAction("sign", "sign/action", "sign/action")
	ActionVerify     = keyAction("verify", "verify/action", "verify/action")
	ActionRandom     = Action{HSM: "Microsoft.KeyVault/managedHsm/rng/action"}
	ActionRotate     = keyAction("rotate", "rotate/action", "rotate/action")
	// Key Vault keeps rotation policies under their own data actions; a
	// Managed HSM reads them with the key and sets them with Key Write.
	ActionGetRotationPolicy = Action{Policy: "getrotationpolicy", RBAC: "Microsoft.KeyVault/vaults/keyrotationpolicies/read", HSM: "Microsoft.KeyVault/managedHsm/keys/read/action"}
	ActionSetRotationPolicy = Action{Policy: "setrotationpolicy", RBAC: "Microsoft.KeyVault/vaults/keyrotationpolicies/write", HSM: "Microsoft.KeyVault/managedHsm/keys/write/action"}
)

// ARMID returns the vault's Azure resource id, the scope of its Azure RBAC
// assignments.
func (v Vault) ARMID() string {
	typ := "vaults"
	if v.Kind == ManagedHSM {
		typ = "managedHSMs"
	}
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/%s/%s", v.SubscriptionID, v.ResourceGroup, typ, v.Name)
}

// authorize checks that the principal in ctx may perform a on key (or on
// the vault's keys as a whole if key is ""), as the vault decides: a
// Managed HSM by its local RBAC, a Key Vault by Azure RBAC if
// enableRbacAuthorization is set and by its access policies otherwise.
// Without an Access decider every caller is allowed (tests of domain rules
// only; the server always sets one).
func (s *Service) authorize(ctx context.Context, v Vault, key string, a Action) error {
	if s.Access == nil {
		return nil
	}
	p, ok := tresor.PrincipalFrom(ctx)
	if !ok || p.ObjectID == "" {
		return tresor.Errorf(tresor.Forbidden, "The request has no authenticated caller.").WithReason(ReasonAccessDenied)
	}
	switch {
	case v.Kind == ManagedHSM:
		scope := "/"
		if a != ActionRandom {
			scope = "/keys"
			if key != "" {
				scope += "/" + key
			}
		}
		ok, err := s.Access.Decide(ctx, HSMRealm(v.ID), p.ObjectID, scope, a.HSM, true)
		if err != nil || ok {
			return err
		}
		return tresor.Errorf(tresor.Forbidden, "Not authorized to access %s on %s (Activity ID: %s)", a.HSM, scope, activityID()).WithReason(ReasonAccessDenied)
	case v.RBAC:
		scope := v.ARMID()
		if key != "" {
			scope += "/keys/" + key
		}
		ok, err := s.Access.Decide(ctx, "", p.ObjectID, scope, a.RBAC, true)
		if err != nil || ok {
			return err
		}
		return tresor.Errorf(tresor.Forbidden, "Caller is not authorized to perform action on resource.\r\n"+
			"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"+
			"Caller: %s\r\nAction: '%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: %s;location=%s\r\n",
			caller(p), a.RBAC, strings.ToLower(scope), v.Name, v.Location).WithReason(ReasonForbiddenByRbac)
	default:
		if v.policyAllows(p, a.Policy) {
			return nil
		}
		return tresor.Errorf(tresor.Forbidden, "The user, group or application '%s' does not have keys %s permission on key vault '%s;location=%s'. "+
			"For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287", caller(p), a.Policy, v.Name, v.Location).WithReason(ReasonForbiddenByPolicy)
	}
}

// policyAllows reports whether an access policy of v grants p the key
// permission perm. A policy names a principal by tenant and object id; one
// that also names an application (a compound identity) applies only to
// that application acting for the principal.
func (v Vault) policyAllows(p tresor.Principal, perm string) bool {
	for _, ap := range v.AccessPolicies {
		if !strings.EqualFold(ap.TenantID, p.TenantID) || !strings.EqualFold(ap.ObjectID, p.ObjectID) {
			continue
		}
		if ap.ApplicationID != "" && !strings.EqualFold(ap.ApplicationID, p.AppID) {
			continue
		}
		if slices.ContainsFunc(ap.Keys, func(k string) bool { return strings.EqualFold(k, perm) || strings.EqualFold(k, "all") }) {
			return true
		}
	}
	return false
}

// HSMRealm is the realm of a Managed HSM's local RBAC (as rbac.HSMRealm).
func HSMRealm(hsmID string) string { return "managedHSM/" + hsmID }

func caller(p tresor.Principal) string {
	return fmt.Sprintf("appid=%s;oid=%s;iss=https://sts.windows.net/%s/", p.AppID, p.ObjectID, p.TenantID)
}

// activityID returns a random GUID for a Managed HSM error message.
func activityID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// actionOf maps the key operations that use key material to their actions.
var actionOf = map[KeyOp]Action{
	OpEncrypt: ActionEncrypt, OpDecrypt: ActionDecrypt, OpWrapKey: ActionWrapKey,
	OpUnwrapKey: ActionUnwrapKey, OpSign: ActionSign, OpVerify: ActionVerify,
}
