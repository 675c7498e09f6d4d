package cli

import (
	"context"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/eventgrid/webhook"
	"github.com/tresorkms/tresor/keyvault"
)

// openEvents prepares Event Grid: the subscriptions' service and the
// dispatcher that Serve runs. Webhooks are reached with the system's trust
// roots.
func (s *Server) openEvents() {
	sender := webhook.New(nil)
	s.Events = eventgrid.NewService(s.DB, s.eventTopic, sender)
	s.dispatcher = &eventgrid.Dispatcher{Store: s.DB, Sender: sender, Now: time.Now, Backoff: s.Config.EventBackoff, Logger: s.Logger}
}

// eventTopic resolves the scope of an event subscription: a Key Vault
// publishes key events; a Managed HSM, like everything else, publishes
// none.
func (s *Server) eventTopic(ctx context.Context, scope string) (eventgrid.Topic, error) {
	id, err := arm.Parse(scope)
	if err != nil {
		return eventgrid.Topic{}, err
	}
	typ := strings.ToLower(id.Type())
	if typ != "microsoft.keyvault/vaults" {
		what := "Resources of type " + id.Type()
		if typ == "microsoft.keyvault/managedhsms" {
			what = "A Managed HSM"
		}
		return eventgrid.Topic{}, tresor.Errorf(tresor.Invalid, "%s publish no events to Event Grid; a Key Vault does.", what).WithReason(eventgrid.ReasonBadRequest)
	}
	v, err := s.Keys.GetVault(ctx, keyvault.KeyVault, id.Name())
	if err == nil && (!strings.EqualFold(v.SubscriptionID, id.Subscription) || !strings.EqualFold(v.ResourceGroup, id.ResourceGroup)) {
		err = tresor.Errorf(tresor.NotFound, "no vault")
	}
	if err != nil {
		if tresor.IsKind(err, tresor.NotFound) {
			return eventgrid.Topic{}, tresor.Errorf(tresor.NotFound, "The Resource '%s' under resource group '%s' was not found.", id.Type()+"/"+id.Name(), id.ResourceGroup).WithReason(arm.ReasonResourceNotFound)
		}
		return eventgrid.Topic{}, err
	}
	return eventgrid.Topic{ID: v.ARMID(), EventTypes: eventgrid.KeyVaultEventTypes}, nil
}

// raiseExpiryEvents is the scheduler's expiry-event task.
func (s *Server) raiseExpiryEvents(ctx context.Context, _ time.Time) error {
	raised, err := s.Keys.RaiseExpiryEvents(ctx)
	if len(raised) > 0 {
		s.Logger.InfoContext(ctx, "key expiry events raised", "events", len(raised))
	}
	return err
}
