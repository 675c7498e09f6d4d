package period

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
		nominal  time.Duration
	}{
		{"P18M", "P18M", 18 * 30 * 24 * time.Hour},
		{"P2Y", "P2Y", 2 * 365 * 24 * time.Hour},
		{"p28d", "P28D", 28 * 24 * time.Hour},
		{"P1Y6M", "P1Y6M", (365 + 180) * 24 * time.Hour},
		{"P2W", "P2W", 14 * 24 * time.Hour},
		{"PT12H30M5S", "PT12H30M5S", 12*time.Hour + 30*time.Minute + 5*time.Second},
		{"P1DT1H", "P1DT1H", 25 * time.Hour},
		{"P0D", "P0D", 0},
		{"P007D", "P7D", 7 * 24 * time.Hour},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q) = %v", tt.in, err)
			continue
		}
		if p.String() != tt.want || p.Nominal() != tt.nominal {
			t.Errorf("Parse(%q) = %s (%v), want %s (%v)", tt.in, p, p.Nominal(), tt.want, tt.nominal)
		}
	}
	for _, in := range []string{"", "P", "18M", "PT", "P1M1Y", "P1H", "PT1D", "P-1D", "P1.5D", "P1DT", "P1D2", "PD", "P1X", "P1DT1H1H", "P100001D", "P99999999999999999999D", "P1TT1H"} {
		if p, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, p)
		}
	}
}

func TestAddTo(t *testing.T) {
	base := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		p    string
		want time.Time
	}{
		{"P18M", time.Date(2027, 7, 31, 10, 0, 0, 0, time.UTC)},
		{"P1M", time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)}, // AddDate normalises 31 February
		{"P2Y", time.Date(2028, 1, 31, 10, 0, 0, 0, time.UTC)},
		{"P28D", time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC)},
		{"PT36H", time.Date(2026, 2, 1, 22, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		p := MustParse(tt.p)
		if got := p.AddTo(base); !got.Equal(tt.want) {
			t.Errorf("%s.AddTo(%v) = %v, want %v", tt.p, base, got, tt.want)
		}
	}
	if got := MustParse("P28D").SubFrom(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("P28D.SubFrom(1 March) = %v", got)
	}
	if !(Period{}).IsZero() || MustParse("P0D").IsZero() {
		t.Error("IsZero: the empty Period is zero, P0D is not")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"P18M", "P2Y", "PT1H", "P1Y2M3W4DT5H6M7S", "P", "PT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		// The canonical form parses to the same period.
		q, err := Parse(p.String())
		if err != nil || q.Nominal() != p.Nominal() || q.String() != p.String() {
			t.Fatalf("Parse(%q) = %s, reparsed %s, %v", s, p, q, err)
		}
		if p.Nominal() < 0 {
			t.Fatalf("negative duration %s", p)
		}
	})
}
