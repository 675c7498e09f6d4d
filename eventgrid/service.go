package eventgrid

import (
	"context"
	"crypto/rand"
	"io"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// Topic is a resource that publishes events.
type Topic struct {
	ID         string // its ARM id, as stored
	EventTypes []string
}

// Sender speaks to webhooks. Package webhook implements it over HTTPS.
type Sender interface {
	// Deliver posts events to s's endpoint as one batch; deliveryCount is
	// how many times the batch failed before. It returns the response's
	// status code, or an error if there was no response.
	Deliver(ctx context.Context, s Subscription, events []Event, deliveryCount int) (int, error)
	// Validate performs the validation handshake with endpoint: it posts
	// ev, a SubscriptionValidation event carrying code, and returns nil if
	// the endpoint echoed code back. Its errors are Invalid and say why.
	Validate(ctx context.Context, endpoint string, ev Event, code string) error
}

// Service manages event subscriptions. Authorization is the caller's
// business (ARM checks Microsoft.EventGrid/eventSubscriptions/* actions on
// the scope).
type Service struct {
	Store Store
	// Topic resolves a scope to the topic it publishes: NotFound if no
	// such resource exists, Invalid if it publishes no events.
	Topic  func(ctx context.Context, scope string) (Topic, error)
	Sender Sender
	Now    func() time.Time // real time
	Rand   io.Reader
}

// NewService returns a Service on real time and crypto/rand.
func NewService(store Store, topic func(context.Context, string) (Topic, error), sender Sender) *Service {
	return &Service{Store: store, Topic: topic, Sender: sender, Now: time.Now, Rand: rand.Reader}
}

// CreateOrUpdate creates s, or replaces the subscription of that scope and
// name, and reports whether it created it. A new endpoint must pass the
// validation handshake first: Event Grid sends nothing to an endpoint that
// has not shown it wants the events.
func (svc *Service) CreateOrUpdate(ctx context.Context, s Subscription) (Subscription, bool, error) {
	t, err := svc.Topic(ctx, s.Scope)
	if err != nil {
		return Subscription{}, false, err
	}
	s.Scope = t.ID
	if err := normalize(&s, t); err != nil {
		return Subscription{}, false, err
	}
	cur, err := svc.Store.EventSubscription(ctx, s.ID())
	switch {
	case tresor.IsKind(err, tresor.NotFound):
	case err != nil:
		return Subscription{}, false, err
	default:
		s.Name, s.Created = cur.Name, cur.Created
	}
	created := cur.Created.IsZero()
	if created || cur.Endpoint != s.Endpoint {
		if err := svc.validate(ctx, s); err != nil {
			return Subscription{}, false, err
		}
	}
	now := svc.Now().UTC().Truncate(time.Second)
	if created {
		s.Created = now
	}
	s.Updated = now
	if err := svc.Store.PutEventSubscription(ctx, s); err != nil {
		return Subscription{}, false, err
	}
	return s, created, nil
}

// Patch is a change to a subscription; nil fields stay.
type Patch struct {
	Endpoint             *string
	MaxEventsPerBatch    *int
	PreferredBatchSizeKB *int
	Filter               *Filter
	Labels               []string // nil keeps them
	MaxDeliveryAttempts  *int
	EventTTL             *time.Duration
}

// Apply sets the fields p names in s.
func (p Patch) Apply(s *Subscription) {
	set := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	if p.Endpoint != nil {
		s.Endpoint = *p.Endpoint
	}
	set(&s.MaxEventsPerBatch, p.MaxEventsPerBatch)
	set(&s.PreferredBatchSizeKB, p.PreferredBatchSizeKB)
	set(&s.MaxDeliveryAttempts, p.MaxDeliveryAttempts)
	if p.Filter != nil {
		s.Filter = *p.Filter
	}
	if p.Labels != nil {
		s.Labels = p.Labels
	}
	if p.EventTTL != nil {
		s.EventTTL = *p.EventTTL
	}
}

// Update applies p to the subscription with that id, as CreateOrUpdate
// does (a new endpoint is validated first).
func (svc *Service) Update(ctx context.Context, id string, p Patch) (Subscription, error) {
	s, err := svc.Store.EventSubscription(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	p.Apply(&s)
	s, _, err = svc.CreateOrUpdate(ctx, s)
	return s, err
}

// Get returns the subscription with that id.
func (svc *Service) Get(ctx context.Context, id string) (Subscription, error) {
	return svc.Store.EventSubscription(ctx, id)
}

// List returns the subscriptions on a scope, which must exist.
func (svc *Service) List(ctx context.Context, scope string) ([]Subscription, error) {
	t, err := svc.Topic(ctx, scope)
	if err != nil {
		return nil, err
	}
	return svc.Store.EventSubscriptions(ctx, t.ID)
}

// Delete removes the subscription with that id and the deliveries still
// pending for it, and reports whether it existed.
func (svc *Service) Delete(ctx context.Context, id string) (bool, error) {
	err := svc.Store.DeleteEventSubscription(ctx, id)
	if tresor.IsKind(err, tresor.NotFound) {
		return false, nil
	}
	return err == nil, err
}

// DeleteResourceGroup removes the subscriptions on every resource of a
// resource group that is being deleted.
func (svc *Service) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	return svc.deleteAll(ctx, "/subscriptions/"+subscriptionID+"/resourceGroups/"+group+"/")
}

// DeleteScope removes the subscriptions on a resource that was deleted.
func (svc *Service) DeleteScope(ctx context.Context, scope string) error {
	return svc.deleteAll(ctx, strings.TrimSuffix(scope, "/"))
}

// deleteAll removes the subscriptions Store.EventSubscriptions(scope) lists.
func (svc *Service) deleteAll(ctx context.Context, scope string) error {
	subs, err := svc.Store.EventSubscriptions(ctx, scope)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if _, err := svc.Delete(ctx, s.ID()); err != nil {
			return err
		}
	}
	return nil
}

// validate performs the handshake with s's endpoint.
func (svc *Service) validate(ctx context.Context, s Subscription) error {
	code := NewID(svc.Rand)
	data := `{"validationCode":"` + code + `"}`
	ev := Event{
		ID: NewID(svc.Rand), Topic: strings.ToLower(s.Scope), Type: SubscriptionValidation,
		Time: svc.Now().UTC(), Data: []byte(data), DataVersion: "2",
	}
	return svc.Sender.Validate(ctx, s.Endpoint, ev, code)
}
