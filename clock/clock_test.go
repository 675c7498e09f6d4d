package clock

import (
	"testing"
	"time"
)

func TestVirtual(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	v := NewVirtual(start)
	if !v.Now().Equal(start) || v.Now().Location() != time.UTC {
		t.Fatalf("Now() = %v, want %v in UTC", v.Now(), start)
	}
	if v.Set(start.Add(-time.Second)) || !v.Now().Equal(start) {
		t.Errorf("the clock went backwards to %v", v.Now())
	}
	later := start.AddDate(1, 6, 0)
	if !v.Set(later) || !v.Now().Equal(later) {
		t.Errorf("Set(%v): now %v", later, v.Now())
	}
	var _ Clock = Real{}
	if d := time.Since(Real{}.Now()); d < 0 || d > time.Minute {
		t.Errorf("Real is off by %v", d)
	}
}
