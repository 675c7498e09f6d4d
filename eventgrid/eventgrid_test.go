package eventgrid

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
)

func TestFilterMatches(t *testing.T) {
	ev := Event{Type: KeyNewVersionCreated, Subject: "Payments-Key"}
	tests := []struct {
		name   string
		filter Filter
		want   bool
	}{
		{"zero filter", Filter{}, true},
		{"type listed", Filter{IncludedEventTypes: []string{KeyExpired, KeyNewVersionCreated}}, true},
		{"type in another case", Filter{IncludedEventTypes: []string{"microsoft.keyvault.KEYNEWVERSIONCREATED"}}, true},
		{"type not listed", Filter{IncludedEventTypes: []string{KeyExpired, KeyNearExpiry}}, false},
		{"type is a prefix of the event's", Filter{IncludedEventTypes: []string{"Microsoft.KeyVault.KeyNewVersion"}}, false},
		{"empty type list means all", Filter{IncludedEventTypes: []string{}}, true},
		{"prefix", Filter{SubjectBeginsWith: "Payments-"}, true},
		{"prefix in another case", Filter{SubjectBeginsWith: "payments-"}, true},
		{"prefix in another case, case-sensitive", Filter{SubjectBeginsWith: "payments-", SubjectCaseSensitive: true}, false},
		{"prefix exact, case-sensitive", Filter{SubjectBeginsWith: "Payments-", SubjectCaseSensitive: true}, true},
		{"prefix does not match", Filter{SubjectBeginsWith: "Orders-"}, false},
		{"prefix longer than the subject", Filter{SubjectBeginsWith: "Payments-Key-2"}, false},
		{"suffix", Filter{SubjectEndsWith: "-Key"}, true},
		{"suffix in another case", Filter{SubjectEndsWith: "-KEY"}, true},
		{"suffix in another case, case-sensitive", Filter{SubjectEndsWith: "-KEY", SubjectCaseSensitive: true}, false},
		{"suffix does not match", Filter{SubjectEndsWith: "-Secret"}, false},
		{"whole subject as prefix and suffix", Filter{SubjectBeginsWith: "Payments-Key", SubjectEndsWith: "Payments-Key"}, true},
		{"prefix and suffix both match", Filter{SubjectBeginsWith: "pay", SubjectEndsWith: "key"}, true},
		{"prefix matches, suffix does not", Filter{SubjectBeginsWith: "pay", SubjectEndsWith: "lock"}, false},
		{"subject matches, type does not", Filter{IncludedEventTypes: []string{KeyExpired}, SubjectBeginsWith: "Pay"}, false},
		{"type matches, subject does not", Filter{IncludedEventTypes: []string{KeyNewVersionCreated}, SubjectBeginsWith: "Ord"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.filter.Matches(ev); got != tt.want {
				t.Errorf("%+v.Matches(%q, %q) = %v, want %v", tt.filter, ev.Type, ev.Subject, got, tt.want)
			}
		})
	}
}

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		endpoint string
		ok       bool
	}{
		{"https://hooks.example/events", true},
		{"https://hooks.example:8443/events?code=s3cret", true},
		{"HTTPS://hooks.example/", true},
		{"https://user:pw@hooks.example/", true},
		{"http://127.0.0.1:8080/hook", true},
		{"http://127.8.9.10/hook", true},
		{"http://[::1]:9/hook", true},
		{"http://localhost/hook", true},
		{"http://LocalHost:80/hook", true},

		{"", false},
		{"hooks.example/events", false},
		{"/events", false},
		{"https://", false},
		{"https:///events", false},
		{"https:hooks.example", false},
		{"mailto:hook@hooks.example", false},
		{"https://[::1", false},
		{"http://hooks.example/events", false},
		{"http://10.0.0.1/events", false},
		{"http://0.0.0.0/events", false},
		{"http://localhost.hooks.example/events", false},
		{"http://127.0.0.1.nip.io/events", false},
		{"ws://localhost/events", false},
		{"ftp://hooks.example/events", false},
		{"file:///etc/passwd", false},

		// The query may hold a secret; messages must not show it.
		{"http://hooks.example/events?code=s3cret", false},
		{"http://hooks.example/events#code=s3cret", false},
		{"ftp://user:s3cret@hooks.example/events", false},
		{"hooks.example/events?code=s3cret", false},
		{"mailto:hook@hooks.example?code=s3cret", false},
		{"https://[::1?code=s3cret", false},
		{"https://hooks.example:bad/events?code=s3cret", false},
	}
	for _, tt := range tests {
		err := checkEndpoint(tt.endpoint)
		if tt.ok && err != nil {
			t.Errorf("checkEndpoint(%q) = %v, want nil", tt.endpoint, err)
		}
		if !tt.ok && !isBadRequest(err) {
			t.Errorf("checkEndpoint(%q) = %v, want Invalid with reason %s", tt.endpoint, err, ReasonBadRequest)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("checkEndpoint(%q) = %v, which shows the secret", tt.endpoint, err)
		}
	}
}

func isBadRequest(err error) bool {
	return tresor.KindOf(err) == tresor.Invalid && tresor.ReasonOf(err) == ReasonBadRequest
}

// FuzzNormalize checks that whatever a client sends, normalize either
// refuses it as a BadRequest that does not show the endpoint's query, or
// leaves a subscription within Azure's limits whose endpoint, shown without
// its query, shows no secret.
func FuzzNormalize(f *testing.F) {
	f.Add("sub-1", "https://hooks.example/x?code=1", 0, 0, 0, int64(0), "microsoft.keyvault.keyexpired")
	f.Add("ab", "http://127.0.0.1:1/", 5000, 1024, 30, int64(1440), "")
	f.Add("x-y-z", "http://[::1]/a#frag", 1, 1, 1, int64(1), "Microsoft.KeyVault.Nope")
	f.Add("abc", "https://u:p@h/%zz?q", -1, 1025, 31, int64(-3), KeyNearExpiry)
	topic := Topic{ID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v", EventTypes: KeyVaultEventTypes}
	const marker = "fuzz-s3cret"
	f.Fuzz(func(t *testing.T, name, endpoint string, batch, kb, attempts int, ttlMinutes int64, typ string) {
		// The marker is in the endpoint's query or fragment, wherever the
		// fuzzed part ends.
		endpoint += "?sig=" + marker
		s := Subscription{
			Name: name, Endpoint: endpoint, MaxEventsPerBatch: batch, PreferredBatchSizeKB: kb,
			MaxDeliveryAttempts: attempts, EventTTL: time.Duration(ttlMinutes) * time.Minute,
			Filter: Filter{IncludedEventTypes: []string{typ, strings.ToUpper(typ)}},
		}
		err := normalize(&s, topic)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("normalize = %v, want Invalid with reason %s", err, ReasonBadRequest)
			}
			if strings.Contains(err.Error(), marker) && !strings.Contains(name+typ, marker) {
				t.Errorf("normalize(endpoint %q) = %v, which shows the query", endpoint, err)
			}
			return
		}
		if !regexp.MustCompile(`^[A-Za-z0-9-]{3,64}$`).MatchString(s.Name) {
			t.Errorf("normalize accepted name %q", s.Name)
		}
		if s.MaxEventsPerBatch < 1 || s.MaxEventsPerBatch > 5000 || s.PreferredBatchSizeKB < 1 || s.PreferredBatchSizeKB > 1024 ||
			s.MaxDeliveryAttempts < 1 || s.MaxDeliveryAttempts > 30 || s.EventTTL < time.Minute || s.EventTTL > 1440*time.Minute {
			t.Errorf("normalize accepted %+v", s)
		}
		if len(s.Filter.IncludedEventTypes) != 1 || !strings.EqualFold(s.Filter.IncludedEventTypes[0], typ) {
			t.Errorf("normalize(types %q) left %q, want one canonical type", typ, s.Filter.IncludedEventTypes)
		}
		u, err := url.Parse(s.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname()))) {
			t.Errorf("normalize accepted endpoint %q", s.Endpoint)
		}
		base, err := url.Parse(s.EndpointBase())
		if err != nil {
			t.Fatalf("EndpointBase() = %q, which does not parse: %v", s.EndpointBase(), err)
		}
		if base.RawQuery != "" || base.User != nil || base.Fragment != "" {
			t.Errorf("EndpointBase() of %q = %q, which keeps a query, userinfo or fragment", s.Endpoint, s.EndpointBase())
		}
	})
}

func TestEndpointBase(t *testing.T) {
	tests := []struct{ endpoint, want string }{
		{"https://hooks.example/events", "https://hooks.example/events"},
		{"https://hooks.example/events?code=s3cret&x=1", "https://hooks.example/events"},
		{"https://hooks.example/events#frag", "https://hooks.example/events"},
		{"https://user:pw@hooks.example:8443/events?sig=1", "https://hooks.example:8443/events"},
		{"http://127.0.0.1:8080/a%2Fb?q", "http://127.0.0.1:8080/a%2Fb"},
		{"https://[::1", ""},
	}
	for _, tt := range tests {
		if got := (Subscription{Endpoint: tt.endpoint}).EndpointBase(); got != tt.want {
			t.Errorf("EndpointBase(%q) = %q, want %q", tt.endpoint, got, tt.want)
		}
	}
}

func TestSubscriptionID(t *testing.T) {
	const want = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v/providers/Microsoft.EventGrid/eventSubscriptions/n"
	for _, scope := range []string{
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v/",
	} {
		if got := SubscriptionID(scope, "n"); got != want {
			t.Errorf("SubscriptionID(%q, n) = %q, want %q", scope, got, want)
		}
		if got := (Subscription{Scope: scope, Name: "n"}).ID(); got != want {
			t.Errorf("Subscription{Scope: %q}.ID() = %q, want %q", scope, got, want)
		}
	}
}

func TestNewID(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, src := range [][]byte{bytes.Repeat([]byte{0}, 16), bytes.Repeat([]byte{0xff}, 16)} {
		id := NewID(bytes.NewReader(src))
		if !uuid4.MatchString(id) {
			t.Errorf("NewID(%x) = %q, want a version 4 UUID", src, id)
		}
	}
	if got, want := NewID(bytes.NewReader([]byte("0123456789abcdef"))), "30313233-3435-4637-b839-616263646566"; got != want {
		t.Errorf("NewID(0123456789abcdef) = %q, want %q", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewID(failing reader) did not panic")
		}
	}()
	NewID(iotest.ErrReader(iotest.ErrTimeout))
}

func TestNewKeyEvent(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	at := time.Date(2026, 11, 23, 13, 0, 0, 500, cet)
	tests := []struct {
		name     string
		nbf, exp time.Time
		wantData string
	}{
		{"no dates", time.Time{}, time.Time{},
			`{"Id":"https://v.vault.example/keys/k/01","VaultName":"v","ObjectType":"Key","ObjectName":"k","Version":"01","NBF":null,"EXP":null}`},
		{"both dates", time.Unix(1000, 0), time.Unix(2000, 999),
			`{"Id":"https://v.vault.example/keys/k/01","VaultName":"v","ObjectType":"Key","ObjectName":"k","Version":"01","NBF":1000,"EXP":2000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewKeyEvent(bytes.NewReader(bytes.Repeat([]byte{7}, 16)), KeyEvent{
				Type: KeyNearExpiry, Topic: "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v",
				VaultName: "v", KeyID: "https://v.vault.example/keys/k/01", Name: "k", Version: "01",
				NotBefore: tt.nbf, Expires: tt.exp, Time: at,
			})
			want := Event{
				ID: "07070707-0707-4707-8707-070707070707", Topic: "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v",
				Subject: "k", Type: KeyNearExpiry, Time: at.UTC(), Data: []byte(tt.wantData), DataVersion: "1",
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
				t.Errorf("NewKeyEvent (-want +got):\n%s\ndata %s", diff, got.Data)
			}
			if got.Time.Location() != time.UTC {
				t.Errorf("NewKeyEvent time in %v, want UTC", got.Time.Location())
			}
			if !json.Valid(got.Data) {
				t.Errorf("NewKeyEvent data %s is not JSON", got.Data)
			}
		})
	}
}

func TestBatchLen(t *testing.T) {
	sized := func(attempts int, sizes ...int) []Delivery {
		ds := make([]Delivery, len(sizes))
		for i, n := range sizes {
			ds[i] = Delivery{Attempts: attempts, Event: Event{Data: bytes.Repeat([]byte{'1'}, n)}}
		}
		return ds
	}
	tests := []struct {
		name       string
		max, kb    int
		due        []Delivery
		want       int
		wantSecond int // batchLen of what is left; 0 if nothing
	}{
		{"one at a time", 1, 64, sized(0, 10, 10, 10), 1, 1},
		{"up to the count", 2, 64, sized(0, 10, 10, 10), 2, 1},
		{"all fit", 10, 64, sized(0, 10, 10, 10), 3, 0},
		// Each event counts its data and 512 bytes of envelope: 2*(400+512)
		// fits in 2 KB, 3 do not.
		{"up to the size", 10, 2, sized(0, 400, 400, 400, 400, 400), 2, 2},
		{"one event over the size goes alone", 10, 1, sized(0, 5000, 10), 1, 1},
		{"an event over the size ends a batch", 10, 2, sized(0, 10, 5000, 10), 1, 1},
		{"equal attempt counts only", 10, 64, append(sized(1, 10, 10), sized(0, 10)...), 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Subscription{MaxEventsPerBatch: tt.max, PreferredBatchSizeKB: tt.kb}
			got := batchLen(s, tt.due)
			if got != tt.want {
				t.Fatalf("batchLen(max %d, %d KB) = %d, want %d", tt.max, tt.kb, got, tt.want)
			}
			second := 0
			if rest := tt.due[got:]; len(rest) > 0 {
				second = batchLen(s, rest)
			}
			if second != tt.wantSecond {
				t.Errorf("batchLen of the rest = %d, want %d", second, tt.wantSecond)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	var azure Dispatcher
	want := []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute,
		30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour}
	for i, w := range want {
		if got := azure.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	custom := Dispatcher{Backoff: []time.Duration{time.Second, 2 * time.Second}}
	for n, w := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 2 * time.Second, 30: 2 * time.Second} {
		if got := custom.backoff(n); got != w {
			t.Errorf("backoff(%d) with %v = %v, want %v", n, custom.Backoff, got, w)
		}
	}
}
