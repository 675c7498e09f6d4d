// Package pki gives tresor its own small certificate authority, so that one
// HTTPS port can serve the token issuer, the control plane and every vault
// host without the operator buying or configuring certificates.
//
// LoadOrCreate keeps four PEM files in a directory: the CA certificate
// (ca.pem, for clients to trust), the CA key (ca-key.pem), and the server
// certificate and key (server.pem, server-key.pem). The CA lives ten years;
// the server certificate about two and is renewed on start when it nears
// expiry or when the domain changes.
package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The file names inside the directory given to LoadOrCreate.
const (
	CAFileName        = "ca.pem"
	CAKeyFileName     = "ca-key.pem"
	ServerFileName    = "server.pem"
	ServerKeyFileName = "server-key.pem"
)

const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	serverLifetime = 730 * 24 * time.Hour // below the 825 days that Apple platforms allow any TLS certificate
	renewBefore    = 30 * 24 * time.Hour
	backdate       = time.Hour // tolerate clients whose clocks are a little behind

	certMode, keyMode = 0o644, 0o600
	directoryMode     = 0o700
)

// Bundle is a loaded CA and server certificate.
type Bundle struct {
	// CAPEM is the CA certificate, PEM-encoded, for clients to trust.
	CAPEM []byte
	// CAFile, CertFile and KeyFile are the paths of ca.pem, server.pem and
	// server-key.pem.
	CAFile, CertFile, KeyFile string
	// Renewed reports whether LoadOrCreate wrote a new server certificate.
	Renewed bool

	cert tls.Certificate
}

// LoadOrCreate loads the bundle kept in dir, creating dir, the CA and the
// server certificate on first use. The server certificate names domain,
// *.domain, *.vault.domain, *.managedhsm.domain, *.blob.domain, localhost,
// 127.0.0.1 and ::1. It is issued again, by the same CA, when those names
// change or it expires within 30 days; a CA that expires within 30 days is
// replaced, and clients must then trust the new ca.pem.
func LoadOrCreate(dir, domain string) (*Bundle, error) {
	return loadOrCreate(dir, domain, time.Now())
}

func loadOrCreate(dir, domain string, now time.Time) (*Bundle, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if domain == "" || strings.ContainsAny(domain, "*/: ") {
		return nil, fmt.Errorf("pki: invalid domain %q", domain)
	}
	if err := os.MkdirAll(dir, directoryMode); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	b := &Bundle{
		CAFile:   filepath.Join(dir, CAFileName),
		CertFile: filepath.Join(dir, ServerFileName),
		KeyFile:  filepath.Join(dir, ServerKeyFileName),
	}
	caKeyFile := filepath.Join(dir, CAKeyFileName)

	ca, caKey, err := loadCA(b.CAFile, caKeyFile, now)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		if ca, caKey, err = createCA(b.CAFile, caKeyFile, now); err != nil {
			return nil, err
		}
	}
	b.CAPEM, err = os.ReadFile(b.CAFile)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}

	cert, err := loadServer(b.CertFile, b.KeyFile, ca, domain, now)
	if err != nil {
		return nil, err
	}
	if cert == nil {
		if caKey == nil {
			return nil, fmt.Errorf("pki: server certificate must be renewed but %s is missing", caKeyFile)
		}
		if err := createServer(b.CertFile, b.KeyFile, ca, caKey, domain, now); err != nil {
			return nil, err
		}
		b.Renewed = true
		if cert, err = loadServer(b.CertFile, b.KeyFile, ca, domain, now); err != nil {
			return nil, err
		}
		if cert == nil {
			return nil, errors.New("pki: the new server certificate does not verify")
		}
	}
	b.cert = *cert
	return b, nil
}

// TLSConfig returns a server configuration with the bundle's certificate,
// TLS 1.2 or later, offering HTTP/2 and HTTP/1.1.
func (b *Bundle) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{b.cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// CertPool returns a pool holding the CA, for clients.
func (b *Bundle) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b.CAPEM)
	return pool
}

// serverNames returns the DNS names and IP addresses the server certificate
// must carry for domain.
func serverNames(domain string) ([]string, []net.IP) {
	dns := []string{domain, "*." + domain, "*.vault." + domain, "*.managedhsm." + domain, "*.blob." + domain, "localhost"}
	slices.Sort(dns)
	dns = slices.Compact(dns)
	return dns, []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
}

// loadCA returns the CA, and its key if present. It returns a nil
// certificate if there is no CA yet or it must be replaced.
func loadCA(certFile, keyFile string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	ca, err := readCert(certFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !ca.IsCA || now.Add(renewBefore).After(ca.NotAfter) {
		return nil, nil, nil
	}
	key, err := readKey(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		return ca, nil, nil // enough to serve an existing server certificate
	}
	if err != nil {
		return nil, nil, err
	}
	if !key.PublicKey.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("pki: %s does not match %s", keyFile, certFile)
	}
	return ca, key, nil
}

// loadServer returns the server certificate if it exists, is signed by ca,
// matches its key, carries domain's names and is not about to expire.
// Otherwise it returns nil, and the caller issues a new one.
func loadServer(certFile, keyFile string, ca *x509.Certificate, domain string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil // damaged or mismatched: issue a new one
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, nil
		}
	}
	dns, ips := serverNames(domain)
	have := slices.Clone(leaf.DNSNames)
	slices.Sort(have)
	switch {
	case leaf.CheckSignatureFrom(ca) != nil,
		now.Add(renewBefore).After(leaf.NotAfter),
		!slices.Equal(have, dns),
		!slices.EqualFunc(leaf.IPAddresses, ips, net.IP.Equal):
		return nil, nil
	}
	// Serve the chain so that clients trusting only the CA succeed.
	pair.Certificate = append(pair.Certificate, ca.Raw)
	pair.Leaf = leaf
	return &pair, nil
}

func createCA(certFile, keyFile string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// A unique name keeps two installations' CAs apart in a trust store.
		Subject:               pkix.Name{CommonName: fmt.Sprintf("tresor CA %016x", serial.Uint64()), Organization: []string{"tresor"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create CA: %w", err)
	}
	// The key first: a CA certificate without its key cannot renew anything.
	if err := writeKey(keyFile, key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certFile, "CERTIFICATE", der, certMode); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	return ca, key, nil
}

func createServer(certFile, keyFile string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, domain string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	dns, ips := serverNames(domain)
	notAfter := now.Add(serverLifetime)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: domain, Organization: []string{"tresor"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("pki: create server certificate: %w", err)
	}
	if err := writeKey(keyFile, key); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", der, certMode)
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // serial numbers must be positive
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pki: %s holds no certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return c, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("pki: %s holds no private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("pki: %s is not an ECDSA key", path)
	}
	return ek, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return writePEM(path, "PRIVATE KEY", der, keyMode)
}

// writePEM replaces path atomically, so that a crash leaves either the old
// file or the new one.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	var buf bytes.Buffer
	if err := pem.Encode(&buf, &pem.Block{Type: typ, Bytes: der}); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode) // O_CREATE's mode is reduced by the umask; a key must not be wider
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp) //nolint:errcheck // best effort; the error below matters
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	return nil
}
