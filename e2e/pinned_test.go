package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tresorkms/tresor/client"
)

// BenchmarkPinned measures the server alone on one core against the
// in-process crypto/rsa rate on one core, the comparison issue 2's target
// is about. The server runs as its own process (the real binary) pinned to
// CPU 1 with GOMAXPROCS=1; this process, the load generator, is pinned to
// CPU 0, so client work does not take cycles from the server. 32 requests
// are in flight, as in BenchmarkUnwrapHTTPS.
//
// It needs two CPUs and taskset(1), and is skipped otherwise.
func BenchmarkPinned(b *testing.B) {
	if runtime.NumCPU() < 2 {
		b.Skip("needs two CPUs")
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		b.Skip("needs taskset")
	}
	if err := pinProcess(0); err != nil {
		b.Skipf("cannot pin the load generator: %v", err)
	}
	defer pinProcess(-1) //nolint:errcheck // best effort

	e := startPinned(b, taskset, 1)
	b.Run("Ceiling/RSA2048/unwrap", func(b *testing.B) {
		// On the server's CPU, which sits idle meanwhile.
		if err := pinProcess(1); err != nil {
			b.Fatal(err)
		}
		defer pinProcess(0) //nolint:errcheck // checked when pinning first
		priv, _ := rsa.GenerateKey(rand.Reader, 2048)
		ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, make([]byte, 32), nil)
		b.ResetTimer()
		for range b.N {
			if _, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, t := range benchTargets(b, e) {
		b.Run("Server/"+t.name, func(b *testing.B) {
			benchRequests(b, e.http, t.url, t.auth, t.body, 32)
		})
		// Latency at lower load: 32 requests in flight queue behind a
		// core that does about 1,100 RSA-2048 decryptions a second.
		if t.name == "RSA2048/unwrap" {
			for _, n := range []int{2, 8} {
				b.Run(fmt.Sprintf("Server/%s/inflight=%d", t.name, n), func(b *testing.B) {
					benchRequests(b, e.http, t.url, t.auth, t.body, n)
				})
			}
		}
	}
}

// startPinned builds cmd/tresor and runs it on a free loopback port, pinned
// to cpu with GOMAXPROCS=1, until the benchmark ends.
func startPinned(b *testing.B, taskset string, cpu int) *env {
	b.Helper()
	e, _ := startProcess(b, []string{taskset, "-c", strconv.Itoa(cpu)}, []string{"GOMAXPROCS=1"}, "--blob-addr", "")
	return e
}

// startProcess builds cmd/tresor and runs "tresor serve" as its own
// process on a free loopback port, with args added, until the benchmark
// ends. The command line is prefixed with wrap (such as taskset) and the
// environment extended with environ. It returns the server's environment
// and process.
func startProcess(b *testing.B, wrap, environ []string, args ...string) (*env, *os.Process) {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "tresor")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tresorkms/tresor/cmd/tresor").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithCancel(context.Background())
	argv := append(append(wrap, bin, "serve", "--data", data, "--addr", addr), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), environ...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cancel()
		cmd.Wait() //nolint:errcheck // interrupted on purpose
	})

	deadline := time.Now().Add(30 * time.Second)
	var ce client.Env
	for {
		if ce, err = client.Load(data); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("server wrote no tresor.env: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	hc, err := ce.HTTPClient()
	if err != nil {
		b.Fatal(err)
	}
	waitHealthy(b, hc, ce["TRESOR_ARM_ENDPOINT"]+"/healthz")
	// Serving, so the environment is complete (the Blob endpoint is
	// added once its listener is open).
	if ce, err = client.Load(data); err != nil {
		b.Fatal(err)
	}
	cred, err := ce.Credential(hc)
	if err != nil {
		b.Fatal(err)
	}
	return &env{env: ce, http: hc, cred: cred, dir: data, stop: func() {}}, cmd.Process
}

// pinProcess restricts every thread of this process to cpu, or, with cpu
// -1, lets them run anywhere again. Threads started later inherit the
// setting of the thread that starts them.
func pinProcess(cpu int) error {
	var set unix.CPUSet
	if cpu < 0 {
		for i := range runtime.NumCPU() {
			set.Set(i)
		}
	} else {
		set.Set(cpu)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}
