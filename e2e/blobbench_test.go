package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// The Azurite the comparison runs against: azurite-blob from -azurite, or
// on $PATH, or installed in the user cache directory by
//
//	npm install --prefix "$(go env GOCACHE)/../tresor-azurite" azurite@3.35.0
var (
	azuriteBin      = flag.String("azurite", "", "path of the azurite-blob command for BenchmarkBlobAzurite")
	azuriteInMemory = flag.Bool("azurite-inmemory", false, "run Azurite with --inMemoryPersistence instead of its default, loki and extent files on disk")
	azuriteHTTPS    = flag.Bool("azurite-https", false, "serve Azurite over HTTPS, with a certificate the benchmark makes, as tresor is served")
	// Azure Storage speaks HTTP/1.1 only; against tresor, Go's client
	// negotiates HTTP/2 unless told not to.
	blobBenchHTTP1 = flag.Bool("blobbench-http1", false, "BenchmarkBlobAzurite's client speaks HTTP/1.1 only, to tresor too")
	// The order matters on a VM where a process writing gigabytes pays
	// for memory the host has not yet given the guest (see
	// docs/benchmarks.md): the later targets of an upload row pay more.
	blobBenchReverse = flag.Bool("blobbench-reverse", false, "BenchmarkBlobAzurite measures Azurite last in each row rather than first")
	// In process, -cpuprofile covers the server, and the srv- metrics
	// count the client too.
	blobBenchInProcess = flag.Bool("blobbench-inprocess", false, "run BenchmarkBlobAzurite's tresor in the test process rather than as its own")
)

// azuriteAccount and azuriteKey are Azurite's well-known account.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// BenchmarkBlobAzurite compares the Blob data plane of the whole server,
// encrypting, with Azurite's, which does not encrypt, on the same data
// through the same unmodified azblob client (one http.Client, default
// azblob options) and the same concurrency. tresor runs as its own process
// (the real binary, "tresor serve") and is reached in path style at
// TRESOR_BLOB_ENDPOINT/{account} over HTTPS with Shared Key, in two
// accounts made through ARM: one with Microsoft-managed keys (MMK) and one
// with a customer-managed RSA-3072 key in a vault (CMK). Azurite is
// started by the benchmark, over plain HTTP (-azurite-https: over HTTPS).
// The client negotiates HTTP/2 with tresor, as Go's does by default
// (-blobbench-http1: HTTP/1.1, as with Azure Storage and Azurite).
//
// The rows:
//   - 1KiB/Upload: 10,000 blobs of 1 KiB, UploadBuffer (one Put Blob), 16
//     at a time;
//   - 1KiB/Download: the same 10,000, DownloadStream (one Get Blob), 16 at
//     a time;
//   - 256MiB/Upload: 4 blobs of 256 MiB one after the other, UploadBuffer
//     with azblob's defaults (one Put Blob each);
//   - 256MiB/UploadBlocks: the same with 8 MiB blocks, 4 at a time (Put
//     Block and Put Block List, as for blobs over 256 MiB);
//   - 256MiB/Download: the 4 blobs one after the other, DownloadBuffer
//     with azblob's defaults (4 MiB ranges, 5 at a time).
//
// Besides ns/op and MB/s, each row reports blobs/s, the server process's
// CPU time per operation (user and system) and its peak resident set
// during the row. Every download is compared with what was uploaded.
//
// It needs node and Azurite, and skips without them.
func BenchmarkBlobAzurite(b *testing.B) {
	if testing.Short() {
		b.Skip("-short")
	}
	bin := findAzurite(b)
	ctx := context.Background()
	var e *env
	var pid int
	if *blobBenchInProcess {
		e, pid = startWith(b, cli.Config{DataDir: b.TempDir()}), os.Getpid()
	} else {
		var p *os.Process
		e, p = startProcess(b, nil, nil, "--blob-addr", "127.0.0.1:0")
		pid = p.Pid
	}
	hc, azurite := benchHTTPClient(b, e)
	targets := []*blobTarget{startAzurite(b, bin, hc, azurite)}
	targets = append(targets, tresorTargets(b, e, pid, hc)...)

	small := randomBytes(1, 1<<10)
	large := randomBytes(2, 256<<20)
	const smallN, smallWorkers, largeN = 10000, 16, 4

	smallUpload := func(t *blobTarget) func() error {
		t.gen++
		prefix := fmt.Sprintf("small/%d/", t.gen)
		return func() error {
			err := each(smallN, smallWorkers, func(i int) error {
				_, err := t.c.UploadBuffer(ctx, "bench", prefix+strconv.Itoa(i), small, nil)
				return err
			})
			if err == nil {
				t.small = prefix
			}
			return err
		}
	}
	largeUpload := func(t *blobTarget, o *azblob.UploadBufferOptions) func() error {
		t.gen++
		prefix := fmt.Sprintf("large/%d/", t.gen)
		return func() error {
			for i := range largeN {
				if _, err := t.c.UploadBuffer(ctx, "bench", prefix+strconv.Itoa(i), large, o); err != nil {
					return err
				}
			}
			t.large = prefix
			return nil
		}
	}
	rows := []struct {
		name  string
		blobs int
		size  int64
		// op returns one operation over the row's blobs; it may prepare
		// (such as upload what a download reads) before it returns.
		op func(b *testing.B, t *blobTarget) func() error
	}{
		{"1KiB/Upload", smallN, 1 << 10, func(_ *testing.B, t *blobTarget) func() error { return smallUpload(t) }},
		{"1KiB/Download", smallN, 1 << 10, func(b *testing.B, t *blobTarget) func() error {
			if t.small == "" {
				must(b, smallUpload(t)())
			}
			prefix := t.small
			return func() error {
				return each(smallN, smallWorkers, func(i int) error {
					resp, err := t.c.DownloadStream(ctx, "bench", prefix+strconv.Itoa(i), nil)
					if err != nil {
						return err
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && !bytes.Equal(got, small) {
						err = fmt.Errorf("blob %s%d: %d bytes differ from the %d uploaded", prefix, i, len(got), len(small))
					}
					return err
				})
			}
		}},
		{"256MiB/Upload", largeN, 256 << 20, func(_ *testing.B, t *blobTarget) func() error { return largeUpload(t, nil) }},
		{"256MiB/UploadBlocks", largeN, 256 << 20, func(_ *testing.B, t *blobTarget) func() error {
			return largeUpload(t, &azblob.UploadBufferOptions{BlockSize: 8 << 20, Concurrency: 4})
		}},
		{"256MiB/Download", largeN, 256 << 20, func(b *testing.B, t *blobTarget) func() error {
			if t.large == "" {
				must(b, largeUpload(t, nil)())
			}
			prefix := t.large
			buf := make([]byte, len(large))
			return func() error {
				for i := range largeN {
					clear(buf)
					if _, err := t.c.DownloadBuffer(ctx, "bench", prefix+strconv.Itoa(i), buf, nil); err != nil {
						return err
					}
					if !bytes.Equal(buf, large) {
						return fmt.Errorf("blob %s%d differs from the one uploaded", prefix, i)
					}
				}
				return nil
			}
		}},
	}
	// Targets take turns within a row, so that a change in the machine's
	// speed falls on all of them alike. (-count repeats each row and
	// target in a row: run the benchmark several times instead.)
	if *blobBenchReverse {
		slices.Reverse(targets)
	}
	for _, row := range rows {
		for _, t := range targets {
			b.Run(row.name+"/"+t.name, func(b *testing.B) {
				op := row.op(b, t)
				// Each starts with no dirty pages left by the one before.
				syscall.Sync()
				b.SetBytes(int64(row.blobs) * row.size)
				clearPeak(t.pid)
				cpu0 := cpuTime(t.pid)
				for b.Loop() {
					if err := op(); err != nil {
						b.Fatal(err)
					}
					if strings.Contains(row.name, "Upload") {
						op = row.op(b, t) // the next iteration writes new blobs
					}
				}
				b.ReportMetric(float64(row.blobs*b.N)/b.Elapsed().Seconds(), "blobs/s")
				b.ReportMetric((cpuTime(t.pid)-cpu0).Seconds()/float64(b.N), "srv-cpu-s/op")
				b.ReportMetric(float64(peakRSS(t.pid))/(1<<20), "srv-peak-MiB")
			})
		}
	}
}

// A blobTarget is a Blob endpoint under test, with a container "bench",
// and the process that serves it.
type blobTarget struct {
	name  string
	c     *azblob.Client
	pid   int
	gen   int    // uploads so far, so that each writes new blobs
	small string // prefix of the last 1 KiB blobs uploaded
	large string // prefix of the last 256 MiB blobs uploaded
}

// tresorTargets creates two accounts through ARM, one with Microsoft-
// managed keys and one with a customer-managed key, and returns clients
// for them through the path-style Blob endpoint, with Shared Key.
func tresorTargets(b *testing.B, e *env, pid int, hc *http.Client) []*blobTarget {
	ctx := context.Background()
	f := newCMKFixture(b, e)
	f.assign(b, f.vaultID, rbac.KeyVaultCryptoServiceEncUser, f.miPrincipal)
	mmk := armstorage.AccountCreateParameters{
		Location: to.Ptr("westeurope"), Kind: to.Ptr(armstorage.KindStorageV2),
		SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
	}
	var out []*blobTarget
	for _, a := range []struct {
		name, account string
		p             armstorage.AccountCreateParameters
	}{
		{"tresor-MMK", "stbenchmmk", mmk},
		{"tresor-CMK", "stbenchcmk", f.params("cmk", "", f.vaultURI)},
	} {
		if _, err := f.create(a.account, a.p); err != nil {
			b.Fatalf("create account %s: %v", a.account, err)
		}
		keys, err := f.accounts.ListKeys(ctx, "rg-e2e", a.account, nil)
		if err != nil {
			b.Fatal(err)
		}
		c := blobClient(b, hc, e.env["TRESOR_BLOB_ENDPOINT"]+"/"+a.account+"/", a.account, *keys.Keys[0].Value)
		out = append(out, &blobTarget{name: a.name, c: c, pid: pid})
	}
	return out
}

// blobClient returns an azblob client with Shared Key and default options
// but for the transport, hc, which every target shares. It creates the
// container "bench".
func blobClient(b *testing.B, hc *http.Client, url, account, key string) *azblob.Client {
	cred, err := azblob.NewSharedKeyCredential(account, key)
	if err != nil {
		b.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(url, cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.CreateContainer(context.Background(), "bench", nil); err != nil {
		b.Fatalf("create container at %s: %v", url, err)
	}
	return c
}

// findAzurite returns the path of azurite-blob, or skips.
func findAzurite(b *testing.B) string {
	if *azuriteBin != "" {
		return *azuriteBin
	}
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p
	}
	if dir, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(dir, "tresor-azurite", "node_modules", ".bin", "azurite-blob")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	b.Skip(`needs Azurite: npm install --prefix "$(go env GOCACHE)/../tresor-azurite" azurite@3.35.0 (or -azurite PATH)`)
	return ""
}

// benchHTTPClient returns the http.Client of every target: e's, which
// trusts tresor's CA, trusting also the certificate it makes for Azurite
// with -azurite-https, which it returns (nil without), and speaking
// HTTP/1.1 only with -blobbench-http1.
func benchHTTPClient(b *testing.B, e *env) (*http.Client, *tls.Certificate) {
	tr := e.http.Transport.(*http.Transport).Clone()
	var cert *tls.Certificate
	if *azuriteHTTPS {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "azurite"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			b.Fatal(err)
		}
		cert = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		tr.TLSClientConfig.RootCAs = tr.TLSClientConfig.RootCAs.Clone()
		tr.TLSClientConfig.RootCAs.AddCert(leaf)
	}
	if *blobBenchHTTP1 {
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	return &http.Client{Transport: tr}, cert
}

// startAzurite runs Azurite's Blob service on a free loopback port, with
// its data in a temporary directory, until the benchmark ends; over
// HTTPS with cert if it is not nil.
func startAzurite(b *testing.B, bin string, hc *http.Client, cert *tls.Certificate) *blobTarget {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	args := []string{"--skipApiVersionCheck", "--disableTelemetry", "--silent",
		"--blobHost", "127.0.0.1", "--blobPort", port}
	if *azuriteInMemory {
		args = append(args, "--inMemoryPersistence") // refused with --location
	} else {
		args = append(args, "--location", b.TempDir())
	}
	scheme := "http"
	if cert != nil {
		dir := b.TempDir()
		pkcs8, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			b.Fatal(err)
		}
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		must(b, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600))
		must(b, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600))
		args = append(args, "--cert", certFile, "--key", keyFile)
		scheme = "https"
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start Azurite: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			b.Fatalf("Azurite exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("Azurite is not listening on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := blobClient(b, hc, scheme+"://"+addr+"/"+azuriteAccount+"/", azuriteAccount, azuriteKey)
	return &blobTarget{name: "Azurite", c: c, pid: cmd.Process.Pid}
}

// each calls fn for 0 ≤ i < n from workers goroutines and returns the
// first error.
func each(n, workers int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// randomBytes returns n reproducible bytes that do not compress.
func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	s[0] = byte(seed)
	buf := make([]byte, n)
	mathrand.NewChaCha8(s).Read(buf)
	return buf
}

// cpuTime returns the user and system time process pid has used.
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command, which is in parentheses.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz
}

// clearPeak resets process pid's peak resident set size.
func clearPeak(pid int) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) //nolint:errcheck,gosec // best effort: peakRSS then reports the peak since start
}

// peakRSS returns process pid's peak resident set size in bytes, or 0.
func peakRSS(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
