package fault_test

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/tresorkms/tresor/internal/fault"
)

// TestPoint runs this test binary again with TRESOR_FAULT naming a point
// that the child then reaches: with -tags faultinject the child dies there,
// killed, and in every other build it carries on.
func TestPoint(t *testing.T) {
	if os.Getenv("FAULT_TEST_CHILD") != "" {
		fault.Point("fault.other") // not the one named: returns
		fault.Point("fault.test")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPoint$")
	cmd.Env = append(os.Environ(), "FAULT_TEST_CHILD=1", fault.Env+"=fault.test")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	killed := errors.As(err, &ee) && !ee.Exited() // ended by a signal
	switch {
	case err != nil && !killed:
		t.Fatalf("the child failed: %v\n%s", err, out)
	case killed != fault.Enabled:
		t.Errorf("the child was killed at the point: %v; want %v (fault.Enabled)\n%s", killed, fault.Enabled, out)
	}
}
