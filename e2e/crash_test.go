package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/client"
	"github.com/tresorkms/tresor/internal/fault"
)

// TestCrashDuringScheduledRotation kills the real server in the middle of
// a scheduled rotation and proves that after a restart the key has lost no
// rotation and doubled none. The binary is built with -tags faultinject
// and started with TRESOR_FAULT naming the point at which it kills itself
// (SIGKILL: nothing deferred runs, nothing commits). The key rotates under
// the seed's first policy, 18 months after creation with new versions
// expiring two years later, on a virtual clock. The points are:
//
//   - sqlite.CreateKeyVersion.written: the rotated version and the cleared
//     schedule of the older versions are written, not committed. After the
//     restart the rotation is wholly absent, and the next advance carries
//     it out once.
//   - cli.rotateDue.rotated: the rotation is committed and its audit record
//     not yet written. After the restart the rotation is there once and is
//     not repeated; its audit record is missing.
//
// After each, the key rotates again exactly a whole period after its
// newest version, and every older version still unwraps.
func TestCrashDuringScheduledRotation(t *testing.T) {
	bin := buildFaultBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	// A server that hangs fails the test rather than stalling it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(args ...string) ([]byte, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var out, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &out, &errb); code != 0 {
			return out.Bytes(), fmt.Errorf("tresor %s = exit %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errb.String()))
		}
		return out.Bytes(), nil
	}
	must := func(args ...string) []byte {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	now := func() time.Time {
		t.Helper()
		var st struct{ Now time.Time }
		if err := json.Unmarshal(must("clock", "show"), &st); err != nil {
			t.Fatal(err)
		}
		return st.Now
	}
	set := func(at time.Time) { must("clock", "set", at.Format(time.RFC3339)) }

	s := startBinary(t, bin, dir, addr, "")
	start := now()
	kv := s.vault(t, "kv-crash", false, nil)
	first, err := kv.CreateKey(ctx, "cmk", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr[int32](2048)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.UpdateKeyRotationPolicy(ctx, "cmk", azkeys.KeyRotationPolicy{
		LifetimeActions: []*azkeys.LifetimeAction{{
			Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: to.Ptr("P18M")},
			Action:  &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)},
		}},
		Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P2Y")},
	}, nil); err != nil {
		t.Fatal(err)
	}
	cek := bytes.Repeat([]byte{7}, 32)
	wrapped := map[string][]byte{first.Key.KID.Version(): wrapCEK(ctx, t, kv, first.Key.KID.Version(), cek)}
	s.stop(t)

	// Each rotation is due 18 months after the previous version; adding
	// the months one rotation at a time is what the server does, which
	// differs from adding 36 months to the start at a month's end.
	at18 := start.AddDate(0, 18, 0)
	at36 := at18.AddDate(0, 18, 0)
	at54 := at36.AddDate(0, 18, 0)
	at72 := at54.AddDate(0, 18, 0)

	// 1. Killed with the rotated version written but not committed.
	s = startBinary(t, bin, dir, addr, "sqlite.CreateKeyVersion.written")
	if _, err := run("clock", "advance", "P18M"); err == nil {
		t.Fatal("clock advance P18M succeeded; the server was to die in the rotation it runs")
	} else {
		t.Logf("the advance failed as the server died: %v", err)
	}
	s.killedAt(t, "sqlite.CreateKeyVersion.written")

	s = startBinary(t, bin, dir, addr, "")
	kv = s.keys(t, "kv-crash")
	// The clock is saved when an advance completes, so its move died too.
	if got := now(); !got.Equal(start) {
		t.Errorf("clock after the crash before commit = %v, want %v", got, start)
	}
	wantVersions(ctx, t, kv, "after the crash before commit", start)
	must("clock", "advance", "P18M")
	wantVersions(ctx, t, kv, "after the next advance P18M", start, at18)
	set(at36.Add(-time.Second))
	wantVersions(ctx, t, kv, "a second before the next period", start, at18)
	set(at36)
	vs := wantVersions(ctx, t, kv, "after the next period", start, at18, at36)
	wrapped[vs[1]] = wrapCEK(ctx, t, kv, vs[1], cek)
	s.stop(t)

	// 2. Killed with the rotation committed, before its audit record.
	s = startBinary(t, bin, dir, addr, "cli.rotateDue.rotated")
	if _, err := run("clock", "set", at54.Format(time.RFC3339)); err == nil {
		t.Fatal("clock set succeeded; the server was to die after the rotation it runs")
	}
	s.killedAt(t, "cli.rotateDue.rotated")

	s = startBinary(t, bin, dir, addr, "")
	kv = s.keys(t, "kv-crash")
	// The clock resumes where the last completed advance left it, behind
	// the version created at the time it died at.
	if got := now(); !got.Equal(at36) {
		t.Errorf("clock after the crash after commit = %v, want %v", got, at36)
	}
	wantVersions(ctx, t, kv, "after the crash after commit", start, at18, at36, at54)
	set(at54)
	wantVersions(ctx, t, kv, "after moving the clock to the crashed rotation's time", start, at18, at36, at54)
	set(at72.Add(-time.Second))
	wantVersions(ctx, t, kv, "a second before the period after the crashed rotation", start, at18, at36, at54)
	set(at72)
	vs = wantVersions(ctx, t, kv, "after the period after the crashed rotation", start, at18, at36, at54, at72)

	for v, w := range wrapped {
		un, err := kv.UnwrapKey(ctx, "cmk", v, azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: w}, nil)
		if err != nil || !bytes.Equal(un.Result, cek) {
			t.Errorf("UnwrapKey(version %s) after the crashes = %x, %v; want %x", v, un.Result, err, cek)
		}
	}
	s.stop(t)

	// The audit chain survived both kills. The rotation committed just
	// before the second kill has no record: the scheduler writes it after
	// the rotation's transaction, so a crash in between loses it.
	if out, err := run("audit", "verify"); err != nil || !bytes.Contains(out, []byte("\nOK")) {
		t.Errorf("audit verify after the crashes: %v\n%s", err, out)
	}
	var audited []string
	for _, line := range strings.Split(string(must("audit", "tail", "-n", "1000")), "\n") {
		// time seq result/status object/app operation resource version request
		f := strings.Fields(line)
		if len(f) == 8 && f[4] == "RotateKey" && strings.HasSuffix(f[5], "/keys/cmk") && f[7] == "scheduler" {
			audited = append(audited, f[6])
		}
	}
	if want := []string{vs[1], vs[2], vs[4]}; !slices.Equal(audited, want) {
		t.Errorf("scheduled rotations audited = %v; want %v, all but %s, which was committed just before the kill", audited, want, vs[3])
	}
}

// wantVersions checks, through azkeys, that the key cmk has versions
// created at exactly the times given, in order, and that each after the
// first expires two years after its creation, as the policy says. It
// returns the versions' ids.
func wantVersions(ctx context.Context, tb testing.TB, kv *azkeys.Client, stage string, created ...time.Time) []string {
	tb.Helper()
	var ids []string
	var got []time.Time
	for pager := kv.NewListKeyPropertiesVersionsPager("cmk", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			tb.Fatalf("%s: list versions: %v", stage, err)
		}
		for _, v := range page.Value {
			ids, got = append(ids, v.KID.Version()), append(got, *v.Attributes.Created)
			if len(got) == 1 {
				continue
			}
			if v.Attributes.Expires == nil || !v.Attributes.Expires.Equal(v.Attributes.Created.AddDate(2, 0, 0)) {
				tb.Errorf("%s: version %s created %v expires %v; want created + P2Y", stage, v.KID.Version(), *v.Attributes.Created, v.Attributes.Expires)
			}
		}
	}
	if !slices.EqualFunc(got, created, time.Time.Equal) {
		tb.Fatalf("%s: versions created at\n\t%v\nwant\n\t%v", stage, got, created)
	}
	return ids
}

func wrapCEK(ctx context.Context, tb testing.TB, kv *azkeys.Client, version string, cek []byte) []byte {
	tb.Helper()
	w, err := kv.WrapKey(ctx, "cmk", version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: cek}, nil)
	if err != nil {
		tb.Fatalf("WrapKey(version %s): %v", version, err)
	}
	return w.Result
}

// buildFaultBinary builds cmd/tresor with its fault points into a
// temporary directory, with the race detector if the tests run with it,
// so that the build reuses the packages go test compiled. It skips the
// test if there is no go command to build with.
func buildFaultBinary(tb testing.TB) string {
	tb.Helper()
	faultBinary.once.Do(func() {
		gocmd, err := exec.LookPath("go")
		if err != nil {
			faultBinary.skip = fmt.Sprintf("cannot build cmd/tresor: %v", err)
			return
		}
		if faultBinary.dir, err = os.MkdirTemp("", "tresor-fault-"); err != nil {
			faultBinary.err = err.Error()
			return
		}
		bin := filepath.Join(faultBinary.dir, "tresor")
		args := []string{"build", "-tags", "faultinject", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command(gocmd, append(args, "github.com/tresorkms/tresor/cmd/tresor")...).CombinedOutput(); err != nil {
			faultBinary.err = fmt.Sprintf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		faultBinary.path = bin
	})
	switch {
	case faultBinary.skip != "":
		tb.Skip(faultBinary.skip)
	case faultBinary.err != "":
		tb.Fatal(faultBinary.err)
	}
	return faultBinary.path
}

// faultBinary is the binary with fault points, built once for every
// crash test of the run; TestMain removes its directory.
var faultBinary struct {
	once                 sync.Once
	dir, path, skip, err string
}

// freeAddr returns a loopback address with a port free at the moment. A
// server restarted on the same port keeps its vaults' URLs.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is the tresor binary serving a data directory, with clients
// configured for it.
type process struct {
	*env
	cmd    *exec.Cmd
	output bytes.Buffer  // stdout and stderr; complete once exited is closed
	exited chan struct{} // closed when the process has exited
}

// startBinary runs 'bin serve' on dir at addr with a virtual clock, with
// TRESOR_FAULT set to point unless it is empty, and waits until it serves.
// The test's cleanup kills it if it still runs.
func startBinary(tb testing.TB, bin, dir, addr, point string, flags ...string) *process {
	tb.Helper()
	args := append([]string{"serve", "--data", dir, "--addr", addr, "--blob-addr", "", "--clock", "virtual"}, flags...)
	p := &process{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, fault.Env+"=") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	if point != "" {
		p.cmd.Env = append(p.cmd.Env, fault.Env+"="+point)
	}
	// One writer for both, so that exec copies them in one goroutine.
	p.cmd.Stdout, p.cmd.Stderr = &p.output, &p.output
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		p.cmd.Wait() //nolint:errcheck // the test inspects ProcessState
		close(p.exited)
	}()
	tb.Cleanup(func() {
		p.cmd.Process.Kill() //nolint:errcheck // it may have exited
		<-p.exited
		if tb.Failed() || testing.Verbose() {
			tb.Logf("server (TRESOR_FAULT=%q) output:\n%s", point, p.output.String())
		}
	})

	// The tresor.env of an earlier run names the same address and CA, and
	// only this process can answer at that address now.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			tb.Fatalf("the server exited at start (%s):\n%s", p.cmd.ProcessState, p.output.String())
		default:
		}
		if e, ok := probe(dir); ok {
			p.env = e
			p.env.stop = func() {}
			return p
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the server did not serve within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe returns clients for the server of dir if it answers its health
// check.
func probe(dir string) (*env, bool) {
	ce, err := client.Load(dir)
	if err != nil {
		return nil, false
	}
	hc, err := ce.HTTPClient()
	if err != nil {
		return nil, false
	}
	resp, err := hc.Get(ce["TRESOR_ARM_ENDPOINT"] + "/healthz")
	if err != nil {
		return nil, false
	}
	resp.Body.Close()
	cred, err := ce.Credential(hc)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, false
	}
	return &env{env: ce, http: hc, cred: cred, dir: dir}, true
}

// keys returns an azkeys client for an existing vault.
func (p *process) keys(tb testing.TB, vault string) *azkeys.Client {
	tb.Helper()
	c, err := azkeys.NewClient(p.env.env.VaultURL(vault), p.cred, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: p.http}})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// stop interrupts the server and checks that it shut down cleanly.
func (p *process) stop(tb testing.TB) {
	tb.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		tb.Fatal(err)
	}
	p.wait(tb)
	if !p.cmd.ProcessState.Success() {
		tb.Fatalf("the server did not shut down cleanly: %s\n%s", p.cmd.ProcessState, p.output.String())
	}
}

// killedAt checks that the server died by SIGKILL at the fault point.
func (p *process) killedAt(tb testing.TB, point string) {
	tb.Helper()
	p.wait(tb)
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		tb.Fatalf("the server ended with %s; want killed by SIGKILL at %s\n%s", p.cmd.ProcessState, point, p.output.String())
	}
	if !strings.Contains(p.output.String(), "fault: "+point+": ") {
		tb.Fatalf("the server was killed, but not at %s:\n%s", point, p.output.String())
	}
}

func (p *process) wait(tb testing.TB) {
	tb.Helper()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		tb.Fatalf("the server did not exit within 30s")
	}
}
