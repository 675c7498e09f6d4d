//go:build race

package e2e

// raceEnabled reports whether the tests run with the race detector, so
// that binaries they build can share its compiled packages.
const raceEnabled = true
