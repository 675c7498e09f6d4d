package keyvault

import (
	"context"
	"time"

	"github.com/tresorkms/tresor"
)

// PurgeDue purges, for good, every soft-deleted key and vault whose
// retention has passed at the Service's current time, purge protection or
// not (that is what the retention was for), and returns what it purged. It
// is the scheduler's work: it acts with no caller, so nothing is
// authorized. Its cost grows with the objects due, not with all objects.
func (s *Service) PurgeDue(ctx context.Context) ([]DuePurge, error) {
	now := s.now()
	var purged []DuePurge
	for {
		due, err := s.Store.DuePurges(ctx, now, dueBatch)
		if err != nil || len(due) == 0 {
			return purged, err
		}
		before := len(purged)
		for _, d := range due {
			if d.Key == "" {
				err = s.Store.PurgeVault(ctx, d.VaultID)
			} else {
				err = s.Store.PurgeKey(ctx, d.VaultID, d.Key)
			}
			switch {
			case tresor.IsKind(err, tresor.NotFound):
				// Purged or recovered meanwhile.
			case err != nil:
				return purged, err
			default:
				purged = append(purged, d)
			}
		}
		if len(purged) == before {
			return purged, nil // everything in the batch went meanwhile
		}
	}
}

// NextPurge returns when the earliest soft-deleted key or vault is due to
// be purged (it may be past), or the zero time if none is deleted: the
// scheduler's Next.
func (s *Service) NextPurge(ctx context.Context) (time.Time, error) {
	due, err := s.Store.DuePurges(ctx, time.Unix(1<<40, 0), 1)
	if err != nil || len(due) == 0 {
		return time.Time{}, err
	}
	return due[0].PurgeAt, nil
}
