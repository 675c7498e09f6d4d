package e2e

import (
	"os"
	"testing"
)

// TestMain removes what the tests of the run shared: the binary built with
// fault points.
func TestMain(m *testing.M) {
	code := m.Run()
	if faultBinary.dir != "" {
		os.RemoveAll(faultBinary.dir)
	}
	os.Exit(code)
}
