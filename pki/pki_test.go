package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadOrCreateNames(t *testing.T) {
	dir := t.TempDir()
	b, err := LoadOrCreate(dir, "tresor.test")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Renewed {
		t.Errorf("first LoadOrCreate: Renewed = false, want true")
	}
	tests := []struct {
		name string
		host string
		ok   bool
	}{
		{"domain", "tresor.test", true},
		{"control plane subdomain", "management.tresor.test", true},
		{"vault", "kv1.vault.tresor.test", true},
		{"managed hsm", "hsm1.managedhsm.tresor.test", true},
		{"blob", "acct.blob.tresor.test", true},
		{"localhost", "localhost", true},
		{"ipv4 loopback", "127.0.0.1", true},
		{"ipv6 loopback", "::1", true},
		{"two levels below vault", "a.b.vault.tresor.test", false},
		{"other domain", "kv1.vault.example.com", false},
	}
	leaf := b.cert.Leaf
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: tt.host, Roots: b.CertPool()})
			if got := err == nil; got != tt.ok {
				t.Errorf("Verify(%q) = %v, want ok=%v", tt.host, err, tt.ok)
			}
		})
	}
}

func TestLoadOrCreateFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, "localhost"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		mode os.FileMode
	}{
		{CAFileName, 0o644},
		{CAKeyFileName, 0o600},
		{ServerFileName, 0o644},
		{ServerKeyFileName, 0o600},
	}
	for _, tt := range tests {
		fi, err := os.Stat(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != tt.mode {
			t.Errorf("mode of %s = %v, want %v", tt.file, got, tt.mode)
		}
	}
}

func TestLoadOrCreateReuses(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreate(dir, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadOrCreate(dir, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if second.Renewed {
		t.Errorf("second LoadOrCreate: Renewed = true, want false")
	}
	if !bytes.Equal(first.CAPEM, second.CAPEM) {
		t.Errorf("second LoadOrCreate changed the CA")
	}
	if !bytes.Equal(first.cert.Certificate[0], second.cert.Certificate[0]) {
		t.Errorf("second LoadOrCreate changed the server certificate")
	}
}

func TestLoadOrCreateRenews(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		domain string
		now    time.Time
	}{
		{"domain changed", "example.test", now},
		{"expires within 30 days", "localhost", now.Add(serverLifetime - 29*24*time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := loadOrCreate(dir, "localhost", now)
			if err != nil {
				t.Fatal(err)
			}
			second, err := loadOrCreate(dir, tt.domain, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if !second.Renewed {
				t.Errorf("Renewed = false, want true")
			}
			if !bytes.Equal(first.CAPEM, second.CAPEM) {
				t.Errorf("renewing the server certificate changed the CA")
			}
			host := "kv1.vault." + tt.domain
			opts := x509.VerifyOptions{DNSName: host, Roots: first.CertPool(), CurrentTime: tt.now}
			if _, err := second.cert.Leaf.Verify(opts); err != nil {
				t.Errorf("Verify(%q) = %v, want nil", host, err)
			}
		})
	}
}

func TestLoadOrCreateWithoutCAKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, "localhost"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, CAKeyFileName)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, "localhost"); err != nil {
		t.Errorf("LoadOrCreate with a valid server certificate and no CA key = %v, want nil", err)
	}
	if _, err := LoadOrCreate(dir, "example.test"); err == nil {
		t.Errorf("LoadOrCreate needing renewal without a CA key = nil, want error")
	}
}

func TestLoadOrCreateInvalidDomain(t *testing.T) {
	for _, d := range []string{"", "*.example.test", "localhost:8443"} {
		if _, err := LoadOrCreate(t.TempDir(), d); err == nil {
			t.Errorf("LoadOrCreate(%q) = nil error, want error", d)
		}
	}
}

// TestTLSConfig serves HTTPS with the bundle and connects as a client that
// trusts only ca.pem, by a vault host name, over HTTP/2.
func TestTLSConfig(t *testing.T) {
	b, err := LoadOrCreate(t.TempDir(), "tresor.test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.TLS = b.TLSConfig()
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: b.CertPool(), ServerName: "kv1.vault.tresor.test"},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got := string(body); got != "HTTP/2.0" {
		t.Errorf("protocol = %q, want HTTP/2.0", got)
	}
	if v := resp.TLS.Version; v < tls.VersionTLS12 {
		t.Errorf("TLS version = %x, want at least 1.2", v)
	}
}
