// Package clock is tresor's notion of "now" for everything that happens
// in time: key expiry and activation, rotation, purge, and the consumers'
// periodic work. A server runs on Real time, or on a Virtual clock that an
// operator moves, so that "the key rotates 18 months after creation" can be
// tested in seconds. Token validation never uses this clock: it stays on
// real time, so that clients' cached tokens keep working across a jump of
// years.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Virtual is a clock that stands still until it is set. It never goes
// backwards. It is safe for concurrent use. Moving it does not run
// anything; scheduler.Scheduler.Advance moves it and runs what became due.
type Virtual struct {
	mu  sync.RWMutex
	now time.Time
}

// NewVirtual returns a Virtual clock showing start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start.UTC()} }

// Now returns the time the clock shows.
func (v *Virtual) Now() time.Time {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.now
}

// Set moves the clock to t and reports whether it moved; a t before the
// current time leaves it where it is.
func (v *Virtual) Set(t time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !t.After(v.now) {
		return false
	}
	v.now = t.UTC()
	return true
}
