// Package azblobtest holds Blob API stories told through the unmodified
// azblob client, for every server that serves the API: the REST layer's
// tests run them against a fake key source, the end-to-end tests against
// a real customer-managed key.
package azblobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// ErrorCode returns the x-ms-error-code and status of err, ("", 0) for nil.
func ErrorCode(err error) (string, int) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode, re.StatusCode
	}
	if err == nil {
		return "", 0
	}
	return "not a response error: " + err.Error(), 0
}

// Download reads a whole blob.
func Download(tb testing.TB, c *azblob.Client, ctr, name string) []byte {
	tb.Helper()
	r, err := c.DownloadStream(context.Background(), ctr, name, nil)
	if err != nil {
		tb.Fatalf("DownloadStream(%s/%s) = %v", ctr, name, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Revocation is the seed's revocation story in container ctr of c's
// account, which must not exist yet. It writes blobs of each kind, calls
// revoke(true), checks that exactly the operations Azure lists fail with
// 403 KeyVaultEncryptionKeyNotFound and that the others work, calls
// revoke(false), and checks that nothing was lost. big is the content of
// the largest blob (a few MiB make it span several blocks).
func Revocation(t *testing.T, c *azblob.Client, ctr string, big []byte, revoke func(bool)) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateContainer(ctx, ctr, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadBuffer(ctx, ctr, "big", big, &azblob.UploadBufferOptions{Metadata: map[string]*string{"k": to.Ptr("v")}}); err != nil {
		t.Fatal(err)
	}
	cc := c.ServiceClient().NewContainerClient(ctr)
	for _, name := range []string{"staged", "staged2"} {
		if _, err := cc.NewBlockBlobClient(name).StageBlock(ctx, "AAAA", streaming.NopCloser(strings.NewReader(name)), nil); err != nil {
			t.Fatal(err)
		}
	}
	pb := cc.NewPageBlobClient("pages")
	if _, err := pb.Create(ctx, 4096, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(big[:1024])), blob.HTTPRange{Offset: 0, Count: 1024}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadBuffer(ctx, ctr, "doomed", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	other := ctr + "-other"
	revoke(true)

	bigBlob := cc.NewBlobClient("big")
	tests := []struct {
		name    string
		refused bool
		op      func() error
	}{
		{"Put Blob", true, func() error { _, err := c.UploadBuffer(ctx, ctr, "new", []byte("x"), nil); return err }},
		{"Put Block", true, func() error {
			_, err := cc.NewBlockBlobClient("big").StageBlock(ctx, "AAAB", streaming.NopCloser(strings.NewReader("x")), nil)
			return err
		}},
		{"Get Blob", true, func() error { _, err := c.DownloadStream(ctx, ctr, "big", nil); return err }},
		{"Get Blob Properties", true, func() error { _, err := bigBlob.GetProperties(ctx, nil); return err }},
		{"Set Blob Metadata", true, func() error {
			_, err := bigBlob.SetMetadata(ctx, map[string]*string{"a": to.Ptr("b")}, nil)
			return err
		}},
		{"Copy Blob", true, func() error { _, err := cc.NewBlobClient("copy").StartCopyFromURL(ctx, bigBlob.URL(), nil); return err }},
		{"Copy Blob From URL", true, func() error { _, err := cc.NewBlobClient("copy").CopyFromURL(ctx, bigBlob.URL(), nil); return err }},
		{"Put Blob (page blob)", true, func() error { _, err := cc.NewPageBlobClient("pages2").Create(ctx, 512, nil); return err }},
		{"Put Page", true, func() error {
			_, err := pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(make([]byte, 512))), blob.HTTPRange{Offset: 0, Count: 512}, nil)
			return err
		}},
		{"Put Page (clear)", true, func() error { _, err := pb.ClearPages(ctx, blob.HTTPRange{Offset: 0, Count: 512}, nil); return err }},
		{"List Blobs include=metadata", true, func() error {
			_, err := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}}).NextPage(ctx)
			return err
		}},

		{"Create Container", false, func() error { _, err := c.CreateContainer(ctx, other, nil); return err }},
		{"Get Container Properties", false, func() error { _, err := cc.GetProperties(ctx, nil); return err }},
		{"Set Container Metadata", false, func() error {
			_, err := cc.SetMetadata(ctx, &container.SetMetadataOptions{Metadata: map[string]*string{"a": to.Ptr("b")}})
			return err
		}},
		{"List Containers", false, func() error { _, err := c.NewListContainersPager(nil).NextPage(ctx); return err }},
		{"List Blobs", false, func() error { _, err := cc.NewListBlobsFlatPager(nil).NextPage(ctx); return err }},
		{"Put Block List", false, func() error {
			_, err := cc.NewBlockBlobClient("staged").CommitBlockList(ctx, []string{"AAAA"}, nil)
			return err
		}},
		{"Get Block List", false, func() error {
			_, err := cc.NewBlockBlobClient("staged2").GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
			return err
		}},
		{"Set Blob Properties", false, func() error {
			_, err := bigBlob.SetHTTPHeaders(ctx, blob.HTTPHeaders{BlobContentType: to.Ptr("text/x")}, nil)
			return err
		}},
		{"Get Page Ranges", false, func() error { _, err := pb.NewGetPageRangesPager(nil).NextPage(ctx); return err }},
		{"Delete Blob", false, func() error { _, err := c.DeleteBlob(ctx, ctr, "doomed", nil); return err }},
		{"Delete Container", false, func() error { _, err := c.DeleteContainer(ctx, other, nil); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, status := ErrorCode(tt.op())
			if tt.refused && (code != "KeyVaultEncryptionKeyNotFound" || status != 403) {
				t.Errorf("%s with the key revoked = %q %d, want KeyVaultEncryptionKeyNotFound 403", tt.name, code, status)
			}
			if !tt.refused && code != "" {
				t.Errorf("%s with the key revoked = %q %d, want success", tt.name, code, status)
			}
		})
	}

	revoke(false)
	if got := Download(t, c, ctr, "big"); !bytes.Equal(got, big) {
		t.Errorf("big after recovery: content differs")
	}
	p, err := bigBlob.GetProperties(ctx, nil)
	if err != nil || metadata(p.Metadata)["k"] != "v" || *p.ContentType != "text/x" {
		t.Errorf("big's properties after recovery = %+v, %v", p, err)
	}
	if got := Download(t, c, ctr, "staged"); string(got) != "staged" {
		t.Errorf("staged (committed while revoked) = %q", got)
	}
	if got := Download(t, c, ctr, "pages"); len(got) != 4096 || !bytes.Equal(got[:1024], big[:1024]) {
		t.Errorf("pages after recovery: content differs")
	}
}

// metadata reads azblob's metadata, whose names it capitalises, with
// lower-case names.
func metadata(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[strings.ToLower(k)] = *v
	}
	return out
}
