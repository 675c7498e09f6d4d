package blob_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the domain free of transports and storage
// technology: package blob must not depend, even indirectly, on net/http,
// database/sql or a database driver.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not available")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "net/http" || dep == "database/sql" || strings.HasPrefix(dep, "modernc.org/") {
			t.Errorf("package blob depends on %s", dep)
		}
	}
}
