//go:build !faultinject

package fault

// Enabled reports whether this build has fault points.
const Enabled = false

// Point does nothing: this build has no fault points.
func Point(name string) {}
