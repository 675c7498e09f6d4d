// Package diskblob keeps the content of managed disks and snapshots in
// the Blob data plane: each disk is a page blob in an account of its own,
// which blob.Service encrypts under the key that compute.Service gives for
// that account, and whose SAS URLs are signed with the key of the disk's
// current access grant.
package diskblob

import (
	"context"
	"io"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobauth"
	"github.com/tresorkms/tresor/compute"
)

// copyChunk is how much of a range Copy reads and writes at once, Azure's
// largest Put Page.
const copyChunk = 4 << 20

// Content implements compute.Content.
type Content struct {
	Blobs *blob.Service
	// AccountURL returns the URL of an account's Blob endpoint, with a
	// trailing slash.
	AccountURL func(account string) string
}

var _ compute.Content = (*Content)(nil)

func path(account string) blob.Path {
	return blob.Path{Account: account, Container: compute.BlobContainer, Blob: compute.BlobName}
}

// Create makes the container and the empty page blob of a disk.
func (c *Content) Create(ctx context.Context, account string, size int64) error {
	if _, err := c.Blobs.CreateContainer(ctx, account, compute.BlobContainer, nil, blob.EncryptionPolicy{}); err != nil {
		return err
	}
	_, err := c.Blobs.CreatePageBlob(ctx, path(account), (size+blob.PageSize-1)/blob.PageSize*blob.PageSize, 0, blob.PutOptions{})
	return err
}

// Copy copies the written pages of from to to, decrypted under from's key
// and sealed again under to's as they are written.
func (c *Content) Copy(ctx context.Context, from, to string) error {
	_, ranges, err := c.Blobs.GetPageRanges(ctx, path(from), blob.All, blob.Conditions{})
	if err != nil {
		return err
	}
	for _, r := range ranges {
		for off := r.Start; off < r.End; off += copyChunk {
			n := min(copyChunk, r.End-off)
			if err := c.copyRange(ctx, from, to, off, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Content) copyRange(ctx context.Context, from, to string, off, n int64) error {
	got, err := c.Blobs.GetBlob(ctx, path(from), blob.Range{Offset: off, Count: n}, blob.Conditions{})
	if err != nil {
		return err
	}
	defer got.Body.Close()
	_, _, err = c.Blobs.PutPage(ctx, path(to), off, io.LimitReader(got.Body, n), n, nil, blob.Conditions{}, blob.ScopeRequest{})
	return err
}

// Delete removes a disk's container and its content.
func (c *Content) Delete(ctx context.Context, account string) error {
	err := c.Blobs.DeleteContainer(ctx, account, compute.BlobContainer, blob.Conditions{})
	if tresor.IsKind(err, tresor.NotFound) {
		return nil
	}
	return err
}

// AccessURL returns the URL of a disk's blob with a SAS signed with key.
func (c *Content) AccessURL(account string, key []byte, write bool, expiry time.Time) string {
	perms := "r"
	if write {
		perms = "rw"
	}
	q, err := blobauth.SignBlobSAS(key, account, compute.BlobContainer, compute.BlobName, perms, expiry)
	if err != nil {
		panic("diskblob: sign a SAS: " + err.Error()) // its parameters are all ours
	}
	return c.AccountURL(account) + compute.BlobContainer + "/" + compute.BlobName + "?" + q.Encode()
}
