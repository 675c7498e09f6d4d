//go:build faultinject

package fault

import (
	"fmt"
	"os"
)

// Enabled reports whether this build has fault points.
const Enabled = true

// armed is the point named by TRESOR_FAULT, read once at start.
var armed = os.Getenv(Env)

// Point kills the process if TRESOR_FAULT names this point, after a line
// on stderr that tells a test it got there. Otherwise it does nothing.
func Point(name string) {
	if armed == "" || name != armed {
		return
	}
	fmt.Fprintf(os.Stderr, "fault: %s: killing the process\n", name)
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill() //nolint:errcheck // if it failed, os.Exit below ends the process anyway
	}
	// On Linux a SIGKILL to oneself is delivered before the kill returns;
	// elsewhere, end the process without running anything more.
	os.Exit(99)
}
