package kvtest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/internal/period"
	"github.com/tresorkms/tresor/keyvault"
)

func testRotationPolicy(t *testing.T, s keyvault.Store) {
	ctx := context.Background()
	newVaults(t, s, "v1")
	kvs := create(t, s, fullVersion("v1", "Key", 1))
	wantKind(t, "RotationPolicy(never set)", second(s.RotationPolicy(ctx, "v1", "key")), tresor.NotFound)

	p := keyvault.RotationPolicy{
		VaultID: "v1", Name: "Key",
		Actions: []keyvault.LifetimeAction{
			{Type: keyvault.LifetimeRotate, TimeAfterCreate: period.MustParse("P18M")},
			{Type: keyvault.LifetimeNotify, TimeBeforeExpiry: period.MustParse("P30D")},
		},
		ExpiryTime: period.MustParse("P2Y"),
		Created:    t0.In(cet), Updated: t0.Add(time.Hour),
	}
	cur := kvs[0]
	cur.RotationDue, cur.ExpiryEventDue = t0.AddDate(0, 18, 0), t0.AddDate(0, 23, 0)
	must(t, "PutRotationPolicy", s.PutRotationPolicy(ctx, p, cur))
	got, err := s.RotationPolicy(ctx, "v1", "KEY")
	must(t, "RotationPolicy", err)
	want := p
	want.Created = t0
	if diff := cmp.Diff(want, got, equate, cmp.Comparer(func(a, b period.Period) bool { return a.String() == b.String() })); diff != "" {
		t.Errorf("RotationPolicy mismatch (-want +got):\n%s", diff)
	}
	wantUTC(t, "policy", got.Created, got.Updated)
	v, err := s.KeyVersion(ctx, "v1", "key", "")
	must(t, "KeyVersion", err)
	if !v.ExpiryEventDue.Equal(cur.ExpiryEventDue) {
		t.Errorf("ExpiryEventDue = %v, want %v", v.ExpiryEventDue, cur.ExpiryEventDue)
	}
	if !v.RotationDue.Equal(cur.RotationDue) {
		t.Errorf("RotationDue = %v, want %v", v.RotationDue, cur.RotationDue)
	}

	// Replacing: an empty list of actions is a policy too.
	p.Actions, p.ExpiryTime = []keyvault.LifetimeAction{}, period.Period{}
	cur.RotationDue = time.Time{}
	must(t, "PutRotationPolicy(empty)", s.PutRotationPolicy(ctx, p, cur))
	if got, err := s.RotationPolicy(ctx, "v1", "key"); err != nil || len(got.Actions) != 0 || !got.ExpiryTime.IsZero() {
		t.Errorf("after replacing: %+v, %v", got, err)
	}

	// Refusals: a stale newest version, a missing or deleted key.
	kvs = create(t, s, fullVersion("v1", "Key", 2))
	wantKind(t, "PutRotationPolicy(stale version)", s.PutRotationPolicy(ctx, p, cur), tresor.Conflict)
	missing := p
	missing.Name = "nope"
	wantKind(t, "PutRotationPolicy(missing key)", s.PutRotationPolicy(ctx, missing, kvs[0]), tresor.NotFound)
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "key", deletion(1)))
	wantKind(t, "PutRotationPolicy(deleted key)", s.PutRotationPolicy(ctx, p, kvs[0]), tresor.NotFound)

	// Purging the key takes its policy.
	must(t, "PurgeKey", s.PurgeKey(ctx, "v1", "key"))
	create(t, s, fullVersion("v1", "key", 3))
	wantKind(t, "RotationPolicy(after purge)", second(s.RotationPolicy(ctx, "v1", "key")), tresor.NotFound)
	if n, err := s.KeyVersionCount(ctx, "v1", "key"); err != nil || n != 1 {
		t.Errorf("KeyVersionCount = %d, %v; want 1", n, err)
	}
	if n, err := s.KeyVersionCount(ctx, "v1", "nope"); err != nil || n != 0 {
		t.Errorf("KeyVersionCount(missing) = %d, %v; want 0", n, err)
	}
}

// schedule is one of the per-key schedules a Store indexes, with its
// query; other is the other schedule.
type schedule struct {
	name         string
	field, other func(*keyvault.KeyVersion) *time.Time
	due          func(keyvault.Store, context.Context, time.Time, int) ([]keyvault.DueKey, error)
}

var (
	rotationDue    = func(kv *keyvault.KeyVersion) *time.Time { return &kv.RotationDue }
	expiryEventDue = func(kv *keyvault.KeyVersion) *time.Time { return &kv.ExpiryEventDue }
)

var schedules = []schedule{
	{"DueRotations", rotationDue, expiryEventDue, keyvault.Store.DueRotations},
	{"DueExpiryEvents", expiryEventDue, rotationDue, keyvault.Store.DueExpiryEvents},
}

func testDueRotations(t *testing.T, s keyvault.Store)    { testDue(t, s, schedules[0]) }
func testDueExpiryEvents(t *testing.T, s keyvault.Store) { testDue(t, s, schedules[1]) }

// testDue checks one schedule's query: only the newest version of a live
// key counts, earliest first, at most max. Each key has the other
// schedule too, far later, so that a query of the wrong one fails.
func testDue(t *testing.T, s keyvault.Store, sched schedule) {
	ctx := context.Background()
	newVaults(t, s, "v1", "v2")
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	version := func(vault, name string, i, dueHour int) keyvault.KeyVersion {
		kv := fullVersion(vault, name, i)
		kv.RotationDue, kv.ExpiryEventDue = time.Time{}, time.Time{}
		if dueHour >= 0 {
			*sched.field(&kv), *sched.other(&kv) = at(dueHour), at(dueHour+10000)
		}
		return kv
	}
	create(t, s,
		version("v1", "a", 1, 5),
		version("v1", "b", 2, 1),
		version("v2", "c", 3, 3),
		version("v1", "d", 4, -1),
		version("v1", "late", 5, 100),
		version("v1", "gone", 6, 2),
	)
	must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "gone", deletion(1)))
	names := func(ds []keyvault.DueKey) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.VaultID+"/"+d.Name)
		}
		return out
	}
	got, err := sched.due(s, ctx, at(5), 10)
	must(t, sched.name, err)
	if diff := cmp.Diff([]string{"v1/b", "v2/c", "v1/a"}, names(got)); diff != "" {
		t.Errorf("%s at +5h (-want +got):\n%s", sched.name, diff)
	}
	if len(got) > 0 && !got[0].Due.Equal(at(1)) {
		t.Errorf("first due = %v, want %v", got[0].Due, at(1))
	}
	got, err = sched.due(s, ctx, at(5), 2)
	must(t, sched.name+"(max 2)", err)
	if diff := cmp.Diff([]string{"v1/b", "v2/c"}, names(got)); diff != "" {
		t.Errorf("%s with max 2 (-want +got):\n%s", sched.name, diff)
	}
	// A new version ends the schedule of the old one: only its own counts.
	create(t, s, version("v1", "B", 7, 50))
	got, err = sched.due(s, ctx, at(5), 10)
	must(t, sched.name, err)
	if diff := cmp.Diff([]string{"v2/c", "v1/a"}, names(got)); diff != "" {
		t.Errorf("%s after b's new version (-want +got):\n%s", sched.name, diff)
	}
	old, err := s.KeyVersion(ctx, "v1", "b", versionID(2))
	must(t, "KeyVersion", err)
	if !old.RotationDue.IsZero() || !old.ExpiryEventDue.IsZero() {
		t.Errorf("the old version keeps its schedules: %v, %v", old.RotationDue, old.ExpiryEventDue)
	}
	// Updating the newest version moves its due time.
	a, err := s.KeyVersion(ctx, "v1", "a", "")
	must(t, "KeyVersion", err)
	*sched.field(&a) = at(200)
	must(t, "UpdateKeyVersion", s.UpdateKeyVersion(ctx, a))
	got, err = sched.due(s, ctx, at(1000), 10)
	must(t, sched.name, err)
	if diff := cmp.Diff([]string{"v2/c", "v1/B", "v1/late", "v1/a"}, names(got)); diff != "" {
		t.Errorf("%s at +1000h (-want +got):\n%s", sched.name, diff)
	}
}

func testDuePurges(t *testing.T, s keyvault.Store) {
	ctx := context.Background()
	newVaults(t, s, "v1", "v2", "v3")
	create(t, s, fullVersion("v1", "a", 1), fullVersion("v1", "b", 2), fullVersion("v2", "c", 3), fullVersion("v1", "live", 4))
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	must(t, "DeleteKey a", s.DeleteKey(ctx, "v1", "a", keyvault.Deletion{Deleted: t0, PurgeAt: at(3)}))
	must(t, "DeleteKey b", s.DeleteKey(ctx, "v1", "b", keyvault.Deletion{Deleted: t0, PurgeAt: at(1)}))
	must(t, "DeleteKey c", s.DeleteKey(ctx, "v2", "c", keyvault.Deletion{Deleted: t0, PurgeAt: at(100)}))
	v3, err := s.Vault(ctx, keyvault.KeyVault, "kv-v3")
	must(t, "Vault", err)
	v3.Deleted, v3.PurgeAt = t0, at(2)
	must(t, "UpdateVault", s.UpdateVault(ctx, v3))
	names := func(ds []keyvault.DuePurge) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.VaultName+"/"+d.Key)
		}
		return out
	}
	got, err := s.DuePurges(ctx, at(3), 10)
	must(t, "DuePurges", err)
	if diff := cmp.Diff([]string{"kv-v1/b", "kv-v3/", "kv-v1/a"}, names(got)); diff != "" {
		t.Errorf("DuePurges at +3h (-want +got):\n%s", diff)
	}
	if len(got) == 3 && (!got[0].PurgeAt.Equal(at(1)) || got[1].VaultKind != keyvault.KeyVault || got[1].VaultID != "v3") {
		t.Errorf("DuePurges entries = %+v", got)
	}
	got, err = s.DuePurges(ctx, at(3), 1)
	must(t, "DuePurges(max 1)", err)
	if diff := cmp.Diff([]string{"kv-v1/b"}, names(got)); diff != "" {
		t.Errorf("DuePurges with max 1 (-want +got):\n%s", diff)
	}
	must(t, "PurgeKey", s.PurgeKey(ctx, "v1", "b"))
	must(t, "RecoverKey", s.RecoverKey(ctx, "v1", "a"))
	got, err = s.DuePurges(ctx, at(3), 10)
	must(t, "DuePurges", err)
	if diff := cmp.Diff([]string{"kv-v3/"}, names(got)); diff != "" {
		t.Errorf("DuePurges after purging b and recovering a (-want +got):\n%s", diff)
	}
}

// outbox is what the Store must offer besides keyvault.Store for this
// suite to see the events it raised: eventgrid.Store's Outbox.
type outbox interface {
	Outbox(ctx context.Context, max int) ([]eventgrid.Raised, error)
}

// testEventsRaised checks that events passed with a change are raised if
// and only if the change is made.
func testEventsRaised(t *testing.T, s keyvault.Store) {
	ctx := context.Background()
	var under any = s
	if u, ok := s.(interface{ Unwrap() keyvault.Store }); ok {
		under = u.Unwrap() // keyvault.Cached
	}
	o, ok := under.(outbox)
	if !ok {
		t.Fatalf("%T has no Outbox method", s)
	}
	newVaults(t, s, "v1")
	ev := func(id string) eventgrid.Event {
		return eventgrid.Event{ID: id, Topic: "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v1",
			Subject: "k", Type: eventgrid.KeyNewVersionCreated, Time: t0, Data: []byte(`{"Id":"x"}`), DataVersion: "1"}
	}
	k1 := fullVersion("v1", "k", 1)
	must(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, k1, ev("created")))
	wantKind(t, "CreateKeyVersion(same version)", s.CreateKeyVersion(ctx, k1, ev("refused-create")), tresor.Conflict)
	must(t, "UpdateKeyVersion", s.UpdateKeyVersion(ctx, k1, ev("updated")))
	wantKind(t, "UpdateKeyVersion(missing)", s.UpdateKeyVersion(ctx, fullVersion("v1", "nope", 2), ev("refused-update")), tresor.NotFound)
	wantKind(t, "RestoreKey(taken)", s.RestoreKey(ctx, []keyvault.KeyVersion{fullVersion("v1", "k", 3)}, ev("refused-restore")), tresor.Conflict)
	must(t, "RestoreKey", s.RestoreKey(ctx, []keyvault.KeyVersion{fullVersion("v1", "r", 4)}, ev("restored")))
	wantKind(t, "CreateKeyVersion(no vault)", s.CreateKeyVersion(ctx, fullVersion("v9", "k", 5), ev("refused-vault")), tresor.NotFound)
	must(t, "CreateKeyVersion(no events)", s.CreateKeyVersion(ctx, fullVersion("v1", "quiet", 6)))

	raised, err := o.Outbox(ctx, 100)
	must(t, "Outbox", err)
	var ids []string
	for i, r := range raised {
		ids = append(ids, r.Event.ID)
		if i > 0 && r.Seq <= raised[i-1].Seq {
			t.Errorf("outbox sequence not increasing: %d after %d", r.Seq, raised[i-1].Seq)
		}
	}
	if diff := cmp.Diff([]string{"created", "updated", "restored"}, ids); diff != "" {
		t.Errorf("raised events (-want +got):\n%s", diff)
	}
	if len(raised) > 0 {
		want := ev("created")
		if diff := cmp.Diff(want, raised[0].Event); diff != "" {
			t.Errorf("stored event (-want +got):\n%s", diff)
		}
	}
}
