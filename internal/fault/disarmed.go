//go:build !faultinject

package fault

// Point does nothing: this build has no fault points.
func Point(name string) {}
