// Package eventgrid is tresor's Azure Event Grid: the events a Key Vault
// publishes about its keys, the event subscriptions that ask for them, and
// their delivery to webhooks.
//
// Events are durable from the moment they happen: the service that raises
// one hands it to its store in the same transaction as the change it
// reports (keyvault writes KeyNewVersionCreated with the new version), into
// an outbox. The Dispatcher fans the outbox out to the matching
// subscriptions and delivers each event at least once, retrying on Azure's
// schedule, until the endpoint accepts it, refuses it for good, or the
// subscription's retry policy gives up. A restart loses nothing: undelivered
// events stay in the store.
package eventgrid

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// The Key Vault event types tresor raises. Managed HSM raises none, as in
// Azure.
const (
	KeyNewVersionCreated = "Microsoft.KeyVault.KeyNewVersionCreated"
	KeyNearExpiry        = "Microsoft.KeyVault.KeyNearExpiry"
	KeyExpired           = "Microsoft.KeyVault.KeyExpired"
)

// KeyVaultEventTypes are the event types a Key Vault topic offers, as Azure
// lists them. Subscriptions may name any of them; tresor has no secrets or
// certificates, so only the Key ones occur.
var KeyVaultEventTypes = []string{
	"Microsoft.KeyVault.CertificateNewVersionCreated",
	"Microsoft.KeyVault.CertificateNearExpiry",
	"Microsoft.KeyVault.CertificateExpired",
	KeyNewVersionCreated,
	KeyNearExpiry,
	KeyExpired,
	"Microsoft.KeyVault.SecretNewVersionCreated",
	"Microsoft.KeyVault.SecretNearExpiry",
	"Microsoft.KeyVault.SecretExpired",
	"Microsoft.KeyVault.VaultAccessPolicyChanged",
}

// SubscriptionValidation is the event type of the validation handshake.
const SubscriptionValidation = "Microsoft.EventGrid.SubscriptionValidationEvent"

// Event is one event in Event Grid's schema.
type Event struct {
	ID      string
	Topic   string // the publishing resource's ARM id
	Subject string
	Type    string
	Time    time.Time
	// Data is the event's data object, in JSON as Azure defines it for the
	// event type.
	Data        []byte
	DataVersion string
}

// keyVaultData is the data of the Key Vault events, spelled as Azure
// spells it (learn.microsoft.com event-grid/event-schema-key-vault).
type keyVaultData struct {
	ID         string `json:"Id"`
	VaultName  string `json:"VaultName"`
	ObjectType string `json:"ObjectType"`
	ObjectName string `json:"ObjectName"`
	Version    string `json:"Version"`
	NBF        *int64 `json:"NBF"`
	EXP        *int64 `json:"EXP"`
}

// KeyEvent describes a key version for a Key Vault event.
type KeyEvent struct {
	Type      string // KeyNewVersionCreated, KeyNearExpiry or KeyExpired
	Topic     string // the vault's ARM id
	VaultName string
	KeyID     string // the version's URL, https://{vault}/keys/{name}/{version}
	Name      string
	Version   string
	NotBefore time.Time // zero if unset
	Expires   time.Time // zero if unset
	Time      time.Time // when it happened
}

// NewKeyEvent returns the Event for k with a fresh id read from rand.
func NewKeyEvent(rand io.Reader, k KeyEvent) Event {
	unix := func(t time.Time) *int64 {
		if t.IsZero() {
			return nil
		}
		u := t.Unix()
		return &u
	}
	data, _ := json.Marshal(keyVaultData{ //nolint:errchkjson // plain strings and numbers
		ID: k.KeyID, VaultName: k.VaultName, ObjectType: "Key", ObjectName: k.Name, Version: k.Version,
		NBF: unix(k.NotBefore), EXP: unix(k.Expires),
	})
	return Event{
		ID: NewID(rand), Topic: k.Topic, Subject: k.Name, Type: k.Type, Time: k.Time.UTC(),
		Data: data, DataVersion: "1",
	}
}

// NewID returns a random UUID (version 4) read from rand.
func NewID(rand io.Reader) string {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand, b); err != nil {
		panic("eventgrid: random source failed: " + err.Error())
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Subscription is an event subscription: which of a topic's events go to
// which webhook, and how hard to try.
type Subscription struct {
	// Scope is the ARM id of the resource whose events are wanted, such as
	// a Key Vault; the subscription is an extension resource of it.
	Scope string
	Name  string

	// Endpoint is the webhook's URL. Its query may carry a secret, so
	// responses show EndpointBase only.
	Endpoint             string
	MaxEventsPerBatch    int // 1 to 5000
	PreferredBatchSizeKB int // 1 to 1024

	Filter Filter
	Labels []string

	MaxDeliveryAttempts int           // 1 to 30
	EventTTL            time.Duration // whole minutes, 1 to 1440

	Created time.Time
	Updated time.Time
}

// Filter selects events by type and subject. The zero Filter selects all.
type Filter struct {
	IncludedEventTypes   []string // empty means all
	SubjectBeginsWith    string
	SubjectEndsWith      string
	SubjectCaseSensitive bool
}

// Namespace is the resource provider of event subscriptions.
const Namespace = "Microsoft.EventGrid"

// ID returns the subscription's ARM id.
func (s Subscription) ID() string {
	return SubscriptionID(s.Scope, s.Name)
}

// SubscriptionID returns the ARM id of the subscription name on scope.
func SubscriptionID(scope, name string) string {
	return strings.TrimSuffix(scope, "/") + "/providers/" + Namespace + "/eventSubscriptions/" + name
}

// EndpointBase returns the endpoint without its query and fragment, as
// Azure shows webhooks (endpointBaseUrl).
func (s Subscription) EndpointBase() string {
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// Matches reports whether the subscription's filter selects e.
func (f Filter) Matches(e Event) bool {
	if len(f.IncludedEventTypes) > 0 && !slices.ContainsFunc(f.IncludedEventTypes, func(t string) bool { return strings.EqualFold(t, e.Type) }) {
		return false
	}
	subject, begins, ends := e.Subject, f.SubjectBeginsWith, f.SubjectEndsWith
	if !f.SubjectCaseSensitive {
		subject, begins, ends = strings.ToLower(subject), strings.ToLower(begins), strings.ToLower(ends)
	}
	return strings.HasPrefix(subject, begins) && strings.HasSuffix(subject, ends)
}

// Defaults Azure applies to a subscription that does not say.
const (
	DefaultMaxEventsPerBatch    = 1
	DefaultPreferredBatchSizeKB = 64
	DefaultMaxDeliveryAttempts  = 30
	DefaultEventTTL             = 1440 * time.Minute
)

// ReasonBadRequest is the code of Event Grid's validation errors.
const ReasonBadRequest = "BadRequest"

func invalid(format string, args ...any) error {
	return tresor.Errorf(tresor.Invalid, format, args...).WithReason(ReasonBadRequest)
}

// normalize fills Azure's defaults into s and checks it against Azure's
// limits and the topic's event types.
func normalize(s *Subscription, t Topic) error {
	if n := len(s.Name); n < 3 || n > 64 || strings.Trim(s.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return invalid("EventSubscription name must be between 3 and 64 characters in length and use alphanumeric letters and hyphen only; '%s' is not.", clip(s.Name))
	}
	if err := checkEndpoint(s.Endpoint); err != nil {
		return err
	}
	if s.MaxEventsPerBatch == 0 {
		s.MaxEventsPerBatch = DefaultMaxEventsPerBatch
	}
	if s.MaxEventsPerBatch < 1 || s.MaxEventsPerBatch > 5000 {
		return invalid("maxEventsPerBatch must be between 1 and 5000; it is %d.", s.MaxEventsPerBatch)
	}
	if s.PreferredBatchSizeKB == 0 {
		s.PreferredBatchSizeKB = DefaultPreferredBatchSizeKB
	}
	if s.PreferredBatchSizeKB < 1 || s.PreferredBatchSizeKB > 1024 {
		return invalid("preferredBatchSizeInKilobytes must be between 1 and 1024; it is %d.", s.PreferredBatchSizeKB)
	}
	if s.MaxDeliveryAttempts == 0 {
		s.MaxDeliveryAttempts = DefaultMaxDeliveryAttempts
	}
	if s.MaxDeliveryAttempts < 1 || s.MaxDeliveryAttempts > 30 {
		return invalid("maxDeliveryAttempts must be between 1 and 30; it is %d.", s.MaxDeliveryAttempts)
	}
	if s.EventTTL == 0 {
		s.EventTTL = DefaultEventTTL
	}
	if s.EventTTL < time.Minute || s.EventTTL > DefaultEventTTL || s.EventTTL%time.Minute != 0 {
		return invalid("eventTimeToLiveInMinutes must be between 1 and 1440; it is %v minutes.", s.EventTTL.Minutes())
	}
	types := make([]string, 0, len(s.Filter.IncludedEventTypes))
	for _, typ := range s.Filter.IncludedEventTypes {
		i := slices.IndexFunc(t.EventTypes, func(x string) bool { return strings.EqualFold(x, typ) })
		if i < 0 {
			return invalid("Invalid event type '%s' in includedEventTypes. The topic %s offers: %s.", clip(typ), t.ID, strings.Join(t.EventTypes, ", "))
		}
		if !slices.Contains(types, t.EventTypes[i]) {
			types = append(types, t.EventTypes[i])
		}
	}
	s.Filter.IncludedEventTypes = types
	if len(s.Labels) > 100 {
		return invalid("An event subscription has at most 100 labels; it has %d.", len(s.Labels))
	}
	return nil
}

// checkEndpoint accepts an absolute https URL, or an http URL whose host
// is a loopback address (tresor's allowance for local tests; Azure
// requires https). Its messages show no query or fragment, which may hold
// a secret.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.Opaque != "" {
		shown := endpoint
		if i := strings.IndexAny(shown, "?#"); i >= 0 {
			shown = shown[:i]
		}
		return invalid("The endpoint URL '%s' is not an absolute URL.", clip(shown))
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return invalid("The endpoint URL '%s' must use https (tresor also accepts http to a loopback address).", clip(Subscription{Endpoint: endpoint}.EndpointBase()))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clip shortens caller-supplied text echoed in a message.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
