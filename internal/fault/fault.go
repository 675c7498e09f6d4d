// Package fault kills the process at named points, for crash tests. The
// points exist only in a binary built with -tags faultinject; in every
// other build Point is an empty function that the compiler removes.
//
// A test builds that binary, starts it with TRESOR_FAULT set to a point's
// name, and drives it there: the process then dies at once, by SIGKILL,
// with no deferred function run, no transaction committed or rolled back,
// and no file closed, as if the machine had lost power.
package fault

// Env is the environment variable that names the point at which to die.
const Env = "TRESOR_FAULT"
