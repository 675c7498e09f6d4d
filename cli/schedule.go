package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/clock"
	"github.com/tresorkms/tresor/internal/fault"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/scheduler"
	"github.com/tresorkms/tresor/scheduler/clockhttp"
)

// schedulerPrincipal is who the audit log names for scheduled work. Its
// records have request id "scheduler" and no HTTP status (0): no request
// asked for the work.
var schedulerPrincipal = tresor.Principal{Name: "tresor-scheduler", Type: tresor.ServicePrincipal}

// openClock chooses the server's clock. A virtual clock resumes at the
// time it showed when the server stopped, or starts at the real time.
func (s *Server) openClock(ctx context.Context) error {
	switch s.Config.Clock {
	case "", ClockReal:
		s.Clock = clock.Real{}
		return nil
	case ClockVirtual:
		start, ok, err := s.DB.VirtualClock(ctx)
		if err != nil {
			return err
		}
		if !ok {
			start = time.Now().UTC().Truncate(time.Second)
			if err := s.DB.SetVirtualClock(ctx, start); err != nil {
				return err
			}
		}
		s.Virtual = clock.NewVirtual(start)
		s.Clock = s.Virtual
		return nil
	}
	return fmt.Errorf("--clock %q: want %s or %s", s.Config.Clock, ClockReal, ClockVirtual)
}

// tasks are the server's periodic work.
func (s *Server) tasks() []scheduler.Task {
	return append([]scheduler.Task{
		{Name: "key rotation", Next: s.Keys.NextRotation, Run: s.rotateDue},
		{Name: "purge of deleted keys and vaults", Next: s.Keys.NextPurge, Run: s.purgeDue},
		{Name: "key expiry events", Next: s.Keys.NextExpiryEvent, Run: s.raiseExpiryEvents},
		{Name: "storage account key versions", Next: s.Storage.NextKeyCheck, Run: s.refreshStorageKeys},
		{Name: "disk encryption set key versions", Next: s.DiskEncryptionSets.NextKeyCheck, Run: s.refreshDESKeys},
		{
			// On real time whatever the server's clock: tokens must keep
			// working across a jump of the virtual clock.
			Name: "token signing key rollover",
			Next: func(context.Context) (time.Time, error) { return time.Time{}, nil },
			Run: func(ctx context.Context, _ time.Time) error {
				rotated, err := s.sys.identity.RolloverSigningKeys(ctx)
				if rotated {
					s.Logger.InfoContext(ctx, "token signing key rolled over")
				}
				return err
			},
		},
	}, s.blobTasks()...)
}

// rotateDue rotates the keys that are due and records each rotation, and
// each failure, in the audit log.
func (s *Server) rotateDue(ctx context.Context, _ time.Time) error {
	res, err := s.Keys.RotateDue(ctx)
	for _, r := range res.Rotated {
		// Crash tests kill the server here, with the rotations committed
		// and not yet audited (e2e/crash_test.go).
		fault.Point("cli.rotateDue.rotated")
		s.record(ctx, audit.Record{
			RequestID: "scheduler", Principal: schedulerPrincipal, Operation: "RotateKey",
			ResourceID: s.keyURL(r.Key), KeyVersion: r.New.Version, Result: "Allowed",
		})
	}
	for _, f := range res.Failed {
		s.Logger.WarnContext(ctx, "scheduled key rotation failed", "key", s.keyURL(f.Key), "err", f.Err)
		s.record(ctx, audit.Record{
			RequestID: "scheduler", Principal: schedulerPrincipal, Operation: "RotateKey",
			ResourceID: s.keyURL(f.Key), Result: "Failed",
		})
	}
	return err
}

// purgeDue purges the soft-deleted keys and vaults whose retention has
// passed, with a purged HSM's local role assignments, and records each
// purge in the audit log.
func (s *Server) purgeDue(ctx context.Context, _ time.Time) error {
	purged, err := s.Keys.PurgeDue(ctx)
	for _, p := range purged {
		op, id := "PurgeDeletedKey", s.vaultURL(p.VaultKind, p.VaultName)+"/deletedkeys/"+p.Key
		if p.Key == "" {
			op, id = "PurgeDeletedVault", p.VaultName
			if p.VaultKind == keyvault.ManagedHSM {
				if rerr := s.RBAC.DeleteRealm(ctx, rbac.HSMRealm(p.VaultID)); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
		}
		s.record(ctx, audit.Record{
			RequestID: "scheduler", Principal: schedulerPrincipal, Operation: op, ResourceID: id, Result: "Allowed",
		})
	}
	return err
}

// keyURL is a key's data-plane URL, as the audit log names keys.
func (s *Server) keyURL(d keyvault.DueKey) string {
	return s.vaultURL(d.VaultKind, d.VaultName) + "/keys/" + d.Name
}

// vaultURL is a vault's or HSM's data-plane URL, without a trailing slash.
func (s *Server) vaultURL(kind keyvault.VaultKind, name string) string {
	host := ".vault."
	if kind == keyvault.ManagedHSM {
		host = ".managedhsm."
	}
	return "https://" + strings.ToLower(name) + host + s.Domain + s.urls().suffix
}

// withClockAPI serves the virtual clock's admin API in front of control;
// a server on real time answers its paths 404.
func (s *Server) withClockAPI(control http.Handler, u urls) http.Handler {
	var api http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":"NotFound","message":"This server runs on real time and has no clock API; start it with --clock virtual."}}`)) //nolint:errcheck // the client went away
	})
	if s.Virtual != nil {
		api = &clockhttp.Handler{
			Clock: s.Virtual, Scheduler: s.Scheduler, Admin: s.sys.adminObjectID,
			Authenticate: s.sys.authenticator(u.armAudience), Persist: s.DB.SetVirtualClock, Audit: s.record,
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := strings.ToLower(r.URL.Path); p == clockhttp.Prefix || strings.HasPrefix(p, clockhttp.Prefix+"/") {
			api.ServeHTTP(w, r)
			return
		}
		control.ServeHTTP(w, r)
	})
}
