package blobhttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var nodeModules = flag.String("nodemodules", filepath.Join("..", "..", "e2e", "js", "node_modules"),
	"node_modules directory with @azure/storage-blob, for TestJSSDK")

// runNode runs testdata/sdk.cjs against s and decodes what it prints.
func runNode(t *testing.T, s *server, mode string, out any) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	mods, err := filepath.Abs(*nodeModules)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mods, "@azure", "storage-blob")); err != nil {
		t.Skipf("@azure/storage-blob is not installed in %s", mods)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "sdk.cjs"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods, "BLOB_URL="+s.URL, "ACCOUNT="+testAccount,
		"ACCOUNT_KEY="+base64.StdEncoding.EncodeToString(testKey), "MODE="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node testdata/sdk.cjs: %v\n%s", err, stderr.Bytes())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("node printed %s: %v", b, err)
	}
}

// TestJSSDK drives the unmodified @azure/storage-blob client: containers,
// uploads in one piece and in blocks, ranged downloads (x-ms-range),
// properties and metadata, listings, a page blob, a copy and a SAS; then
// the same client with the account key revoked. It is skipped unless node
// is installed and -nodemodules holds @azure/storage-blob.
func TestJSSDK(t *testing.T) {
	s := newServer(t)
	var got struct {
		ContainerMetadata map[string]string
		UploadEncrypted   bool
		BigEqual          bool
		RangeEqual        bool
		ContentRange      string
		BlockCount        int
		Properties        struct {
			ContentType string
			Metadata    map[string]string
			Encrypted   bool
			Length      int
		}
		MetadataAfterSet map[string]string
		Hierarchy        []string
		Flat             []string
		Pages            [][]string
		PageRanges       []struct{ Offset, Count int } // the JS SDK turns Start and End into these, Count = End - Start
		CopyStatus       string
		SASRead          string `json:"sasRead"`
		SASWrite         string `json:"sasWrite"`
		Missing          string
	}
	runNode(t, s, "", &got)
	checks := []struct {
		name      string
		got, want any
	}{
		{"container metadata", got.ContainerMetadata, map[string]string{"owner": "js"}},
		{"upload encrypted", got.UploadEncrypted, true},
		{"big blob round trip", got.BigEqual, true},
		{"ranged download", got.RangeEqual, true},
		{"content range", got.ContentRange, "bytes 10-109/3145745"},
		{"committed blocks", got.BlockCount, 4},
		{"properties", got.Properties, struct {
			ContentType string
			Metadata    map[string]string
			Encrypted   bool
			Length      int
		}{"text/plain", map[string]string{"k": "v"}, true, 13}},
		{"metadata after set", got.MetadataAfterSet, map[string]string{"a": "b"}},
		{"hierarchy", got.Hierarchy, []string{"prefix:dir/"}},
		// An empty <Metadata/> reads as "" in the JS SDK, as from Azure.
		{"flat with metadata", got.Flat, []string{`dir/big.bin=""`, `dir/small.txt={"a":"b"}`}},
		{"pages of one", got.Pages, [][]string{{"dir/big.bin"}, {"dir/small.txt"}}},
		{"page ranges", got.PageRanges, []struct{ Offset, Count int }{{512, 1023}}},
		{"copy status", got.CopyStatus, "success"},
		{"read with a read SAS", got.SASRead, "hello from js"},
		{"write with a read SAS", got.SASWrite, "403 AuthorizationPermissionMismatch"},
		{"missing blob", got.Missing, "404 BlobNotFound"},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}

	s.Keys.Revoke(true)
	var revoked map[string]string
	runNode(t, s, "revoked", &revoked)
	want := map[string]string{
		"download":            "403 KeyVaultEncryptionKeyNotFound",
		"getProperties":       "403 KeyVaultEncryptionKeyNotFound",
		"upload":              "403 KeyVaultEncryptionKeyNotFound",
		"listMetadata":        "403 KeyVaultEncryptionKeyNotFound",
		"list":                "ok",
		"containerProperties": "ok",
	}
	if diff := cmp.Diff(want, revoked); diff != "" {
		t.Errorf("with the key revoked (-want +got):\n%s", diff)
	}
}

// TestJSSDKEncryptionScopes drives encryption scopes through the
// unmodified @azure/storage-blob client: a container with a default scope
// and override denied, block uploads in a named scope, the scope in
// responses, properties and listings, and the refusals. Skipped as
// TestJSSDK is.
func TestJSSDKEncryptionScopes(t *testing.T) {
	s := newServer(t)
	s.Keys.AddScope(testAccount, "sa")
	s.Keys.AddScope(testAccount, "sb")
	var got map[string]any
	runNode(t, s, "scopes", &got)
	want := map[string]any{
		"containerScope":       "sa true",
		"listedContainerScope": "sa true",
		"uploadScope":          "sa",
		"override":             "403 RequestForbiddenByContainerEncryptionPolicy",
		"stageScope":           "sb",
		"commitScope":          "sb",
		"propertiesScope":      "sb",
		"downloaded":           "staged in sb",
		"mismatch":             "409 BlobCustomerSpecifiedEncryptionMismatch",
		"listed":               []any{"blocks=sb", "plain=none"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encryption scopes through the JS SDK (-want +got):\n%s", diff)
	}
}
