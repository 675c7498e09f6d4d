package blobhttp

import (
	"net/url"
	"strings"
	"testing"
)

// TestLogURL: a logged URL keeps its SAS parameters but not the signature.
func TestLogURL(t *testing.T) {
	u, _ := url.Parse("https://md-x.blob.localhost/disk/abcd?sv=2020-12-06&sr=b&sp=rw&se=2026-11-24T00%3A00%3A00Z&sig=c2VjcmV0c2lnbmF0dXJl")
	got := logURL(u)
	if strings.Contains(got, "c2VjcmV0c2lnbmF0dXJl") || !strings.Contains(got, "sig=REDACTED") || !strings.Contains(got, "sp=rw") {
		t.Errorf("logURL = %s", got)
	}
	if u.Query().Get("sig") != "c2VjcmV0c2lnbmF0dXJl" {
		t.Error("logURL changed the request's URL")
	}
	plain, _ := url.Parse("https://a.blob.localhost/c/b?comp=list")
	if got := logURL(plain); got != plain.String() {
		t.Errorf("logURL without a SAS = %s", got)
	}
}
