package blobauth

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var nodeModules = flag.String("nodemodules", filepath.Join("..", "..", "e2e", "js", "node_modules"),
	"node_modules directory with @azure/storage-blob, for TestJSSDK")

// TestJSSDK drives the unmodified @azure/storage-blob client with
// testdata/sdk.cjs: its Shared Key requests must verify, and the service and
// account SAS it generates for several sv must verify. The test is skipped
// unless node is installed and -nodemodules holds @azure/storage-blob.
func TestJSSDK(t *testing.T) {
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
	f := newFakeStorage(t, testAcct)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "sdk.cjs"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods, "BLOB_URL="+f.URL, "ACCOUNT=acct", "ACCOUNT_KEY="+b64(testKey1))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	recs := f.Records()
	for _, r := range recs {
		if !r.SharedKey || r.Err != nil {
			t.Errorf("%v; want SharedKey verified", r)
		}
	}
	if err != nil {
		t.Fatalf("node testdata/sdk.cjs: %v\n%s", err, stderr.Bytes())
	}
	if len(recs) < 9 {
		t.Errorf("server saw %d requests, want at least 9", len(recs))
	}

	var sas []struct {
		Name, Container, Blob, Query string
		Snapshot, VersionID          string
	}
	if err := json.Unmarshal(out, &sas); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if len(sas) < 18 {
		t.Errorf("node generated %d SAS, want 18 or more", len(sas))
	}
	for _, s := range sas {
		t.Run(s.Name, func(t *testing.T) {
			q, err := url.ParseQuery(s.Query)
			if err != nil {
				t.Fatal(err)
			}
			if s.Snapshot != "" {
				q.Set("snapshot", s.Snapshot)
			}
			if s.VersionID != "" {
				q.Set("versionid", s.VersionID)
			}
			tg := Target{Container: s.Container, Blob: s.Blob, ClientIP: netip.MustParseAddr("127.0.0.1")}
			got, err := VerifySAS(q, testAcct, tg, time.Now())
			if err != nil {
				t.Fatalf("VerifySAS(%s) = %v", s.Query, err)
			}
			if err := got.Allow(Read); err != nil {
				t.Errorf("Allow(Read) = %v", err)
			}
			if err := got.Allow(Delete); err == nil {
				t.Errorf("Allow(Delete) = nil, want AuthorizationPermissionMismatch")
			}
			q.Set("sp", q.Get("sp")+"d")
			if _, err := VerifySAS(q, testAcct, tg, time.Now()); err == nil {
				t.Errorf("VerifySAS with sp+d = nil, want AuthenticationFailed")
			}
		})
	}
}
