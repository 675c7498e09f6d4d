package keyvault

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/hsm"
)

// backupFormat identifies the layout of a backup blob's sealed content.
const backupFormat = "tresor-key-backup-v1"

// backupDoc is the sealed content of a backup blob. It is a storage format,
// not a wire format: only tresor reads it.
type backupDoc struct {
	Format   string          `json:"format"`
	Kind     VaultKind       `json:"kind"`
	Name     string          `json:"name"`
	Versions []backupVersion `json:"versions"`
}

type backupVersion struct {
	Version       string            `json:"version"`
	Type          KeyType           `json:"kty"`
	Size          int               `json:"size,omitempty"`
	Curve         hsm.Curve         `json:"crv,omitempty"`
	Ops           []KeyOp           `json:"ops"`
	Enabled       bool              `json:"enabled"`
	NotBefore     int64             `json:"nbf,omitempty"`
	Expires       int64             `json:"exp,omitempty"`
	Created       int64             `json:"created"`
	Updated       int64             `json:"updated"`
	Exportable    bool              `json:"exportable,omitempty"`
	ReleasePolicy *ReleasePolicy    `json:"releasePolicy,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Material      []byte            `json:"material"` // hsm.Sealed
}

// backupBinding binds a backup blob to its purpose and vault kind: a Key
// Vault backup does not restore into a Managed HSM, as in Azure.
func backupBinding(kind VaultKind) []byte { return []byte("keyvault/backup/" + string(kind)) }

// BackupKey returns an opaque blob holding every version of a key, sealed
// so that only a tresor with the same root key can restore it.
func (s *Service) BackupKey(ctx context.Context, v Vault, name string) ([]byte, error) {
	if err := s.authorize(ctx, v, name, ActionBackup); err != nil {
		return nil, err
	}
	if _, err := s.key(ctx, v, name, ""); err != nil {
		return nil, err
	}
	doc := backupDoc{Format: backupFormat, Kind: v.Kind, Name: name}
	p := Page{Max: 25}
	for {
		kvs, next, err := s.Store.KeyVersions(ctx, v.ID, name, p)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			sealed, err := s.HSM.Export(ctx, kv.Handle, binding(kv.VaultID, kv.Name, kv.Version))
			if err != nil {
				return nil, hsmError(err, "backup key")
			}
			doc.Versions = append(doc.Versions, backupVersion{
				Version: kv.Version, Type: kv.Type, Size: kv.Size, Curve: kv.Curve, Ops: kv.Ops,
				Enabled: kv.Enabled, NotBefore: unixOrZero(kv.NotBefore), Expires: unixOrZero(kv.Expires),
				Created: kv.Created.Unix(), Updated: kv.Updated.Unix(), Exportable: kv.Exportable,
				ReleasePolicy: kv.ReleasePolicy, Tags: kv.Tags, Material: sealed,
			})
		}
		if next == "" {
			break
		}
		p.After = next
	}
	plain, err := json.Marshal(doc)
	if err != nil {
		return nil, tresor.Wrap(err, "backup key")
	}
	return s.Backup.Seal(plain, backupBinding(v.Kind)), nil
}

// RestoreKey restores every version of a backed-up key into v, keeping
// version ids. It returns Invalid for a blob that does not open (corrupt,
// from another tresor, or from the other vault kind) and Conflict if the
// name is taken.
func (s *Service) RestoreKey(ctx context.Context, v Vault, blob []byte) (KeyVersion, error) {
	if err := s.authorize(ctx, v, "", ActionRestore); err != nil {
		return KeyVersion{}, err
	}
	plain, err := s.Backup.Open(blob, backupBinding(v.Kind))
	if err != nil {
		return KeyVersion{}, tresor.Errorf(tresor.Invalid, "Backup blob contains invalid or corrupt version.")
	}
	var doc backupDoc
	if err := json.Unmarshal(plain, &doc); err != nil || doc.Format != backupFormat || len(doc.Versions) == 0 {
		return KeyVersion{}, tresor.Errorf(tresor.Invalid, "Backup blob contains invalid or corrupt version.")
	}
	// A deleted key of that name answers as Azure does; a live one is
	// refused by the Store below.
	if _, err := s.keyName(ctx, v, doc.Name); err != nil {
		return KeyVersion{}, err
	}
	kvs := make([]KeyVersion, 0, len(doc.Versions))
	for _, b := range doc.Versions {
		kv := KeyVersion{
			VaultID: v.ID, Name: doc.Name, Version: b.Version, Type: b.Type, Size: b.Size, Curve: b.Curve,
			Ops: b.Ops, Enabled: b.Enabled, NotBefore: timeOrZero(b.NotBefore), Expires: timeOrZero(b.Expires),
			Created: time.Unix(b.Created, 0).UTC(), Updated: time.Unix(b.Updated, 0).UTC(),
			Exportable: b.Exportable, ReleasePolicy: b.ReleasePolicy, Tags: b.Tags,
		}
		kv.Handle, kv.Public, err = s.HSM.Adopt(ctx, b.Material, binding(v.ID, doc.Name, b.Version))
		if err != nil {
			return KeyVersion{}, hsmError(err, "restore key")
		}
		kvs = append(kvs, kv)
	}
	// The newest version is the key's current one: it carries the
	// expiry events (there is no policy yet, so no rotation).
	newest := &kvs[len(kvs)-1]
	if err := s.schedule(ctx, v, newest); err != nil {
		return KeyVersion{}, err
	}
	if err := s.Store.RestoreKey(ctx, kvs, s.keyEvent(v, eventgrid.KeyNewVersionCreated, *newest, s.now())...); err != nil {
		if tresor.IsKind(err, tresor.Conflict) {
			return KeyVersion{}, tresor.Errorf(tresor.Conflict, "Key %s already exists in this vault; restore needs a free name.", doc.Name)
		}
		return KeyVersion{}, err
	}
	return kvs[len(kvs)-1], nil // versions are listed oldest first
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(u int64) time.Time {
	if u == 0 {
		return time.Time{}
	}
	return time.Unix(u, 0).UTC()
}
