package blobhttp

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/google/go-cmp/cmp"
)

func scopeInfo(name string) *blob.CPKScopeInfo {
	return &blob.CPKScopeInfo{EncryptionScope: to.Ptr(name)}
}

// deref returns *p, or "<none>" for nil.
func deref(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}

// TestAzblobEncryptionScopes drives encryption scopes through azblob:
// container defaults with and without override, uploads in one piece and
// in blocks with a scope, the scope in responses, properties and
// listings, and the refusals.
func TestAzblobEncryptionScopes(t *testing.T) {
	s := newServer(t)
	s.Keys.AddScope(testAccount, "sa")
	s.Keys.AddScope(testAccount, "sb")
	c := s.client(t)
	svc := c.ServiceClient()

	// Containers: a default scope with override denied, and none.
	if _, err := c.CreateContainer(ctx, "scoped", &azblob.CreateContainerOptions{
		CPKScopeInfo: &container.CPKScopeInfo{DefaultEncryptionScope: to.Ptr("sa"), PreventEncryptionScopeOverride: to.Ptr(true)},
	}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c, "open")
	for _, tt := range []struct {
		name, scope string
		deny        bool
	}{{"scoped", "sa", true}, {"open", "$account-encryption-key", false}} {
		p, err := svc.NewContainerClient(tt.name).GetProperties(ctx, nil)
		if err != nil || deref(p.DefaultEncryptionScope) != tt.scope || p.DenyEncryptionScopeOverride == nil || *p.DenyEncryptionScopeOverride != tt.deny {
			t.Errorf("GetProperties(%s) = scope %s, deny %v, %v; want %s, %v", tt.name, deref(p.DefaultEncryptionScope), p.DenyEncryptionScopeOverride, err, tt.scope, tt.deny)
		}
	}
	page, err := c.NewListContainersPager(nil).NextPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, it := range page.ContainerItems {
		listed[*it.Name] = deref(it.Properties.DefaultEncryptionScope)
		if it.Properties.PreventEncryptionScopeOverride != nil && *it.Properties.PreventEncryptionScopeOverride {
			listed[*it.Name] += " deny"
		}
	}
	if want := map[string]string{"scoped": "sa deny", "open": "$account-encryption-key"}; !cmp.Equal(listed, want) {
		t.Errorf("ListContainers scopes = %v, want %v", listed, want)
	}
	_, err = c.CreateContainer(ctx, "nope", &azblob.CreateContainerOptions{CPKScopeInfo: &container.CPKScopeInfo{DefaultEncryptionScope: to.Ptr("missing")}})
	if code, status := errorCode(err); code != "InvalidHeaderValue" || status != 400 {
		t.Errorf("CreateContainer(default scope missing) = %s %d, want InvalidHeaderValue 400", code, status)
	}

	// Put Blob: the container's default, or a refusal to override it.
	up, err := c.UploadBuffer(ctx, "scoped", "default", []byte("in sa"), nil)
	if err != nil || deref(up.EncryptionScope) != "sa" {
		t.Errorf("UploadBuffer(scoped) = scope %s, %v; want sa", deref(up.EncryptionScope), err)
	}
	_, err = c.UploadBuffer(ctx, "scoped", "other", []byte("x"), &azblob.UploadBufferOptions{CPKScopeInfo: scopeInfo("sb")})
	if code, status := errorCode(err); code != "RequestForbiddenByContainerEncryptionPolicy" || status != 403 {
		t.Errorf("UploadBuffer(scoped, sb) = %s %d, want RequestForbiddenByContainerEncryptionPolicy 403", code, status)
	}
	up, err = c.UploadBuffer(ctx, "open", "account", []byte("account"), nil)
	if err != nil || up.EncryptionScope != nil {
		t.Errorf("UploadBuffer(open) = scope %s, %v; want none: Azure omits the header for the account key", deref(up.EncryptionScope), err)
	}

	// Put Block and Put Block List in a named scope.
	oc := svc.NewContainerClient("open")
	bb := oc.NewBlockBlobClient("blocks")
	id := func(i int) string { return base64.StdEncoding.EncodeToString([]byte{byte(i), 0, 0, 0}) }
	parts := [][]byte{content(1, 100000), content(2, 10)}
	for i, part := range parts {
		r, err := bb.StageBlock(ctx, id(i), streaming.NopCloser(bytes.NewReader(part)), &blockblob.StageBlockOptions{CPKScopeInfo: scopeInfo("sa")})
		if err != nil || deref(r.EncryptionScope) != "sa" {
			t.Fatalf("StageBlock(%d, sa) = scope %s, %v", i, deref(r.EncryptionScope), err)
		}
	}
	if _, err := bb.StageBlock(ctx, id(2), streaming.NopCloser(strings.NewReader("account")), nil); err != nil {
		t.Fatal(err)
	}
	_, err = bb.CommitBlockList(ctx, []string{id(0), id(2)}, &blockblob.CommitBlockListOptions{CPKScopeInfo: scopeInfo("sa")})
	if code, status := errorCode(err); code != "InvalidBlockList" || status != 400 {
		t.Errorf("CommitBlockList(sa) with a block of the account key = %s %d, want InvalidBlockList 400", code, status)
	}
	cr, err := bb.CommitBlockList(ctx, []string{id(0), id(1)}, &blockblob.CommitBlockListOptions{
		CPKScopeInfo: scopeInfo("sa"), Metadata: map[string]*string{"k": to.Ptr("v")}})
	if err != nil || deref(cr.EncryptionScope) != "sa" {
		t.Fatalf("CommitBlockList(sa) = scope %s, %v", deref(cr.EncryptionScope), err)
	}
	want := append(append([]byte{}, parts[0]...), parts[1]...)
	d, err := c.DownloadStream(ctx, "open", "blocks", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(d.Body)
	d.Body.Close()
	if err != nil || !bytes.Equal(got, want) || deref(d.EncryptionScope) != "sa" {
		t.Errorf("DownloadStream(blocks) = scope %s, %d bytes, %v; want sa and the content committed", deref(d.EncryptionScope), len(got), err)
	}
	bc := oc.NewBlobClient("blocks")
	p, err := bc.GetProperties(ctx, nil)
	if err != nil || deref(p.EncryptionScope) != "sa" || ptrMap(p.Metadata)["k"] != "v" {
		t.Errorf("GetProperties(blocks) = scope %s, metadata %v, %v; want sa, k=v", deref(p.EncryptionScope), ptrMap(p.Metadata), err)
	}
	if p, err := oc.NewBlobClient("account").GetProperties(ctx, nil); err != nil || p.EncryptionScope != nil {
		t.Errorf("GetProperties(account) = scope %s, %v; want none", deref(p.EncryptionScope), err)
	}

	// Set Blob Metadata keeps the blob's scope.
	if r, err := bc.SetMetadata(ctx, map[string]*string{"a": to.Ptr("b")}, &blob.SetMetadataOptions{CPKScopeInfo: scopeInfo("sa")}); err != nil || deref(r.EncryptionScope) != "sa" {
		t.Errorf("SetMetadata(sa) = scope %s, %v; want sa", deref(r.EncryptionScope), err)
	}
	_, err = bc.SetMetadata(ctx, map[string]*string{"a": to.Ptr("c")}, &blob.SetMetadataOptions{CPKScopeInfo: scopeInfo("sb")})
	if code, status := errorCode(err); code != "BlobCustomerSpecifiedEncryptionMismatch" || status != 409 {
		t.Errorf("SetMetadata(sb) of a blob in sa = %s %d, want BlobCustomerSpecifiedEncryptionMismatch 409", code, status)
	}
	// So does Put Page.
	pb := oc.NewPageBlobClient("pages")
	if r, err := pb.Create(ctx, 1024, &pageblob.CreateOptions{CPKScopeInfo: scopeInfo("sb")}); err != nil || deref(r.EncryptionScope) != "sb" {
		t.Fatalf("Create(page blob, sb) = scope %s, %v", deref(r.EncryptionScope), err)
	}
	_, err = pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(make([]byte, 512))), blob.HTTPRange{Offset: 0, Count: 512},
		&pageblob.UploadPagesOptions{CPKScopeInfo: scopeInfo("sa")})
	if code, status := errorCode(err); code != "BlobCustomerSpecifiedEncryptionMismatch" || status != 409 {
		t.Errorf("UploadPages(sa) to a blob in sb = %s %d, want BlobCustomerSpecifiedEncryptionMismatch 409", code, status)
	}
	if r, err := pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(make([]byte, 512))), blob.HTTPRange{Offset: 0, Count: 512}, nil); err != nil || deref(r.EncryptionScope) != "sb" {
		t.Errorf("UploadPages = scope %s, %v; want sb", deref(r.EncryptionScope), err)
	}

	// A copy lands in the scope it names.
	cp, err := oc.NewBlobClient("copy").CopyFromURL(ctx, bc.URL(), &blob.CopyFromURLOptions{CPKScopeInfo: scopeInfo("sb")})
	if err != nil || deref(cp.EncryptionScope) != "sb" {
		t.Errorf("CopyFromURL(sb) = scope %s, %v; want sb", deref(cp.EncryptionScope), err)
	}

	// Listings carry each blob's scope.
	lp, err := oc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}}).NextPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scopes := map[string]string{}
	for _, b := range lp.Segment.BlobItems {
		scopes[*b.Name] = deref(b.Properties.EncryptionScope)
	}
	if want := map[string]string{"account": "<none>", "blocks": "sa", "copy": "sb", "pages": "sb"}; !cmp.Equal(scopes, want) {
		t.Errorf("ListBlobs scopes = %v, want %v", scopes, want)
	}

	// A disabled scope fails its blobs' reads and writes with 403; the
	// rest of the account works.
	for _, tt := range []struct {
		name string
		set  func(bool)
		code string
	}{
		{"disabled", func(on bool) { s.Keys.DisableScope(testAccount, "sa", on) }, "AuthorizationFailure"},
		{"revoked", func(on bool) { s.Keys.RevokeScope(testAccount, "sa", on) }, "KeyVaultEncryptionKeyNotFound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.set(true)
			defer tt.set(false)
			for name, op := range map[string]func() error{
				"DownloadStream": func() error { _, err := c.DownloadStream(ctx, "open", "blocks", nil); return err },
				"GetProperties":  func() error { _, err := bc.GetProperties(ctx, nil); return err },
				"UploadBuffer":   func() error { _, err := c.UploadBuffer(ctx, "scoped", "new", []byte("x"), nil); return err },
				"SetMetadata":    func() error { _, err := bc.SetMetadata(ctx, nil, nil); return err },
			} {
				if code, status := errorCode(op()); code != tt.code || status != 403 {
					t.Errorf("%s in sa %s = %s %d, want %s 403", name, tt.name, code, status, tt.code)
				}
			}
			if got := download(t, c, "open", "account"); string(got) != "account" {
				t.Errorf("download of a blob of the account key = %q", got)
			}
			if _, err := oc.NewListBlobsFlatPager(nil).NextPage(ctx); err != nil {
				t.Errorf("ListBlobs without metadata = %v, want success", err)
			}
		})
	}
	if got := download(t, c, "open", "blocks"); !bytes.Equal(got, want) {
		t.Errorf("content of blocks after recovery differs")
	}
	_, err = c.UploadBuffer(ctx, "open", "x", []byte("x"), &azblob.UploadBufferOptions{CPKScopeInfo: scopeInfo("missing")})
	if code, status := errorCode(err); code != "InvalidHeaderValue" || status != 400 {
		t.Errorf("UploadBuffer(missing scope) = %s %d, want InvalidHeaderValue 400", code, status)
	}
}
