package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tresorkms/tresor/blob"
)

// TestMigrateBlobScopes builds a database as the migrations before 0021
// left it, with a container, a blob and its block, and checks that after
// migrating they are all in the account encryption key's scope, with no
// container policy.
func TestMigrateBlobScopes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, exec := oldDatabase(t, path, "0021")
	exec(`INSERT INTO blob_containers (account, name, etag, created, modified) VALUES ('acct', 'ctr', '0x1', 0, 0)`)
	exec(`INSERT INTO blob_blobs (id, account, container, name, committed, type, size, etag, created, modified)
		VALUES (1, 'acct', 'ctr', 'b', 1, 'BlockBlob', 1, '0x2', 0, 0)`)
	exec(`INSERT INTO blob_blocks (id, blob_id, size, chunk_size, key, inline) VALUES (x'00112233445566778899aabbccddeeff', 1, 1, 65536, x'01', x'02')`)
	exec(`INSERT INTO blob_extents (blob_id, start, seq, name, length, block_id, offset) VALUES (1, 0, 0, '', 1, x'00112233445566778899aabbccddeeff', 0)`)
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	defer db.Close()
	c, err := db.Container(ctx, "acct", "ctr")
	if err != nil || c.EncryptionPolicy != (blob.EncryptionPolicy{}) {
		t.Errorf("Container = %+v, %v; want no encryption policy", c, err)
	}
	p := blob.Path{Account: "acct", Container: "ctr", Blob: "b"}
	b, extents, err := db.Extents(ctx, p, 0, 1)
	if err != nil || b.EncryptionScope != "" || len(extents) != 1 || extents[0].Block.Scope != "" {
		t.Fatalf("Extents = %+v, %+v, %v; want the blob and its block in scope \"\"", b, extents, err)
	}

	// New rows keep their scopes.
	c = blob.Container{Account: "acct", Name: "scoped", ETag: "0x3",
		EncryptionPolicy: blob.EncryptionPolicy{DefaultEncryptionScope: "sa", DenyEncryptionScopeOverride: true}}
	if err := db.CreateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Container(ctx, "acct", "scoped"); err != nil || got.EncryptionPolicy != c.EncryptionPolicy {
		t.Errorf("Container(scoped) = %+v, %v; want policy %+v", got.EncryptionPolicy, err, c.EncryptionPolicy)
	}
	blk := blob.Block{ID: blob.BlockID{9}, Size: 1, ChunkSize: 65536, Key: []byte{1}, Inline: []byte{2}, Scope: "sa"}
	p.Container = "scoped"
	_, _, err = db.PutBlob(ctx, p, []blob.Extent{{Length: 1, Block: blk}}, func(*blob.Blob) (blob.Blob, error) {
		return blob.Blob{Path: p, Type: blob.BlockBlob, Size: 1, ETag: "0x4", EncryptionScope: "sa"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, extents, err = db.Extents(ctx, p, 0, 1)
	if err != nil || b.EncryptionScope != "sa" || len(extents) != 1 || extents[0].Block.Scope != "sa" {
		t.Errorf("Extents(scoped) = %+v, %+v, %v; want the blob and its block in sa", b, extents, err)
	}
	if bs, err := db.Blobs(ctx, "acct", "scoped", "", "", 10); err != nil || len(bs) != 1 || bs[0].EncryptionScope != "sa" {
		t.Errorf("Blobs(scoped) = %+v, %v; want the blob in sa", bs, err)
	}
}
