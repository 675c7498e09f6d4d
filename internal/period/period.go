// Package period parses and applies ISO 8601 durations ("P18M", "P2Y",
// "P28D", "PT12H") as Azure's key rotation policies write them. Years and
// months are calendar units: adding P1M to 31 January gives 3 March, as
// time.AddDate does, so "18 months after creation" is a date, not a count
// of seconds.
package period

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is an ISO 8601 duration. The zero Period is empty (no duration
// was given), which IsZero reports.
type Period struct {
	Years, Months, Weeks, Days int
	Hours, Minutes, Seconds    int
	text                       string // the canonical form, set by Parse
}

// maxField bounds each number, far beyond any useful policy, so that
// arithmetic cannot overflow.
const maxField = 100000

// Parse reads a duration of the form PnYnMnWnDTnHnMnS: at least one part,
// each a non-negative integer, in this order, with T before time parts.
// Fractions and negative durations are not accepted. The letters may be
// lower case.
func Parse(s string) (Period, error) {
	bad := func(why string) (Period, error) {
		return Period{}, fmt.Errorf("%q is not an ISO 8601 duration such as P90D, P18M or P2Y: %s", clip(s), why)
	}
	u := strings.ToUpper(s)
	rest, ok := strings.CutPrefix(u, "P")
	if !ok {
		return bad("it must start with P")
	}
	var p Period
	order := "YMWD"
	inTime := false
	parts := 0
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return bad("T appears twice")
			}
			inTime, order, rest = true, "HMS", rest[1:]
			if rest == "" {
				return bad("T must be followed by a time part")
			}
			continue
		}
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return bad("each part is a number followed by a unit")
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > maxField {
			return bad("a number is too large")
		}
		unit := rest[i]
		at := strings.IndexByte(order, unit)
		if at < 0 {
			return bad(fmt.Sprintf("unit %c is out of order or unknown", unit))
		}
		order = order[at+1:]
		switch {
		case !inTime && unit == 'Y':
			p.Years = n
		case !inTime && unit == 'M':
			p.Months = n
		case !inTime && unit == 'W':
			p.Weeks = n
		case !inTime && unit == 'D':
			p.Days = n
		case inTime && unit == 'H':
			p.Hours = n
		case inTime && unit == 'M':
			p.Minutes = n
		case inTime && unit == 'S':
			p.Seconds = n
		}
		parts++
		rest = rest[i+1:]
	}
	if parts == 0 {
		return bad("it has no parts")
	}
	p.text = p.format()
	return p, nil
}

// MustParse is Parse for constants; it panics on a malformed duration.
func MustParse(s string) Period {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// IsZero reports whether p is the empty Period.
func (p Period) IsZero() bool { return p == Period{} }

// String returns p in canonical form ("P1Y6M"), or "" for the empty
// Period. A zero-length duration is "P0D".
func (p Period) String() string {
	if p.IsZero() {
		return ""
	}
	if p.text != "" {
		return p.text
	}
	return p.format()
}

func (p Period) format() string {
	var b strings.Builder
	b.WriteByte('P')
	for _, f := range []struct {
		n    int
		unit byte
	}{{p.Years, 'Y'}, {p.Months, 'M'}, {p.Weeks, 'W'}, {p.Days, 'D'}} {
		if f.n != 0 {
			b.WriteString(strconv.Itoa(f.n))
			b.WriteByte(f.unit)
		}
	}
	if p.Hours != 0 || p.Minutes != 0 || p.Seconds != 0 {
		b.WriteByte('T')
		for _, f := range []struct {
			n    int
			unit byte
		}{{p.Hours, 'H'}, {p.Minutes, 'M'}, {p.Seconds, 'S'}} {
			if f.n != 0 {
				b.WriteString(strconv.Itoa(f.n))
				b.WriteByte(f.unit)
			}
		}
	}
	if b.Len() == 1 {
		return "P0D"
	}
	return b.String()
}

// AddTo returns t plus p: the calendar parts with time.AddDate, then the
// clock parts.
func (p Period) AddTo(t time.Time) time.Time {
	t = t.AddDate(p.Years, p.Months, 7*p.Weeks+p.Days)
	return t.Add(time.Duration(p.Hours)*time.Hour + time.Duration(p.Minutes)*time.Minute + time.Duration(p.Seconds)*time.Second)
}

// SubFrom returns t minus p, the inverse of AddTo.
func (p Period) SubFrom(t time.Time) time.Time {
	t = t.Add(-(time.Duration(p.Hours)*time.Hour + time.Duration(p.Minutes)*time.Minute + time.Duration(p.Seconds)*time.Second))
	return t.AddDate(-p.Years, -p.Months, -(7*p.Weeks + p.Days))
}

// Nominal returns p's length with a year of 365 days and a month of 30,
// for comparing periods with each other (a policy's minimums), never for
// computing dates.
func (p Period) Nominal() time.Duration {
	days := 365*p.Years + 30*p.Months + 7*p.Weeks + p.Days
	return time.Duration(days)*24*time.Hour + time.Duration(p.Hours)*time.Hour +
		time.Duration(p.Minutes)*time.Minute + time.Duration(p.Seconds)*time.Second
}

// Sub returns the nominal difference p - q, which may be negative.
func (p Period) Sub(q Period) time.Duration { return p.Nominal() - q.Nominal() }

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
