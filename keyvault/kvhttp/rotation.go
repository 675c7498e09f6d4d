package kvhttp

import (
	"net/http"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/internal/period"
	"github.com/tresorkms/tresor/keyvault"
)

// rotationPolicy is KeyRotationPolicy on the wire.
type rotationPolicy struct {
	ID              string                    `json:"id,omitempty"`
	LifetimeActions []lifetimeAction          `json:"lifetimeActions"`
	Attributes      *rotationPolicyAttributes `json:"attributes,omitempty"`
}

type lifetimeAction struct {
	Trigger *lifetimeTrigger `json:"trigger"`
	Action  *lifetimeType    `json:"action"`
}

type lifetimeTrigger struct {
	TimeAfterCreate  *string `json:"timeAfterCreate,omitempty"`
	TimeBeforeExpiry *string `json:"timeBeforeExpiry,omitempty"`
}

type lifetimeType struct {
	Type string `json:"type"`
}

type rotationPolicyAttributes struct {
	ExpiryTime *string `json:"expiryTime,omitempty"`
	Created    *int64  `json:"created,omitempty"`
	Updated    *int64  `json:"updated,omitempty"`
}

func policyFrom(r *http.Request, p keyvault.RotationPolicy) rotationPolicy {
	out := rotationPolicy{LifetimeActions: make([]lifetimeAction, 0, len(p.Actions)), Attributes: &rotationPolicyAttributes{}}
	for _, a := range p.Actions {
		la := lifetimeAction{Trigger: &lifetimeTrigger{}, Action: &lifetimeType{Type: string(a.Type)}}
		if !a.TimeAfterCreate.IsZero() {
			la.Trigger.TimeAfterCreate = ptr(a.TimeAfterCreate.String())
		}
		if !a.TimeBeforeExpiry.IsZero() {
			la.Trigger.TimeBeforeExpiry = ptr(a.TimeBeforeExpiry.String())
		}
		out.LifetimeActions = append(out.LifetimeActions, la)
	}
	if !p.ExpiryTime.IsZero() {
		out.Attributes.ExpiryTime = ptr(p.ExpiryTime.String())
	}
	// A policy that was never set has no id and no times, as in Azure.
	if p.Set() {
		out.ID = baseURL(r) + "/keys/" + p.Name + "/rotationpolicy"
		out.Attributes.Created, out.Attributes.Updated = ptr(p.Created.Unix()), ptr(p.Updated.Unix())
	}
	return out
}

// policyTo reads a policy from the wire. Durations must be ISO 8601.
func policyTo(in rotationPolicy) (keyvault.RotationPolicy, error) {
	bad := func(format string, args ...any) (keyvault.RotationPolicy, error) {
		return keyvault.RotationPolicy{}, tresor.Errorf(tresor.Invalid, "Invalid rotation policy: "+format, args...).WithReason(keyvault.ReasonBadParameter)
	}
	parse := func(what string, s *string) (period.Period, error) {
		if s == nil {
			return period.Period{}, nil
		}
		return period.Parse(*s)
	}
	var p keyvault.RotationPolicy
	if in.Attributes != nil {
		d, err := parse("expiryTime", in.Attributes.ExpiryTime)
		if err != nil {
			return bad("expiryTime: %v", err)
		}
		p.ExpiryTime = d
	}
	p.Actions = make([]keyvault.LifetimeAction, 0, len(in.LifetimeActions))
	for i, la := range in.LifetimeActions {
		if la.Action == nil || la.Trigger == nil {
			return bad("lifetimeActions[%d] needs a trigger and an action.", i)
		}
		a := keyvault.LifetimeAction{Type: keyvault.ActionType(la.Action.Type)}
		var err error
		if a.TimeAfterCreate, err = parse("timeAfterCreate", la.Trigger.TimeAfterCreate); err != nil {
			return bad("lifetimeActions[%d].trigger.timeAfterCreate: %v", i, err)
		}
		if a.TimeBeforeExpiry, err = parse("timeBeforeExpiry", la.Trigger.TimeBeforeExpiry); err != nil {
			return bad("lifetimeActions[%d].trigger.timeBeforeExpiry: %v", i, err)
		}
		p.Actions = append(p.Actions, a)
	}
	return p, nil
}

func (h *Handler) getKeyRotationPolicy(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	p, err := h.Service.GetKeyRotationPolicy(r.Context(), v, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, policyFrom(r, p))
	return nil
}

func (h *Handler) updateKeyRotationPolicy(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	var in rotationPolicy
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := policyTo(in)
	if err != nil {
		return err
	}
	p, err = h.Service.UpdateKeyRotationPolicy(r.Context(), v, r.PathValue("name"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, policyFrom(r, p))
	return nil
}

func (h *Handler) rotateKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	kv, err := h.Service.RotateKey(r.Context(), v, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bundleFrom(r, v, kv))
	return nil
}

func ptr[T any](v T) *T { return &v }
