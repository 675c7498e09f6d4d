package scheduler

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tresorkms/tresor/clock"
)

// periodic is a task with work every period from start, which records the
// times it ran the work (once per due time, whatever now says).
type periodic struct {
	start  time.Time
	period func(time.Time) time.Time
	next   time.Time
	ran    []time.Time
}

func (p *periodic) task(name string) Task {
	p.next = p.start
	return Task{
		Name: name,
		Next: func(context.Context) (time.Time, error) { return p.next, nil },
		Run: func(_ context.Context, now time.Time) error {
			if !p.next.After(now) {
				p.ran = append(p.ran, now)
				p.next = p.period(now)
			}
			return nil
		},
	}
}

func TestAdvanceStepsThroughDueTimes(t *testing.T) {
	start := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	monthly := &periodic{start: start.AddDate(0, 18, 0), period: func(t time.Time) time.Time { return t.AddDate(0, 18, 0) }}
	daily := &periodic{start: start.AddDate(0, 0, 1), period: func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }}
	var at []time.Time
	s := &Scheduler{Clock: v, Tasks: []Task{monthly.task("rotation"), daily.task("daily"), {
		Name: "observer",
		Next: func(context.Context) (time.Time, error) { return time.Time{}, nil },
		Run:  func(_ context.Context, now time.Time) error { at = append(at, now); return nil },
	}}}
	to := start.AddDate(0, 37, 0)
	if err := s.Advance(context.Background(), v, to); err != nil {
		t.Fatal(err)
	}
	if !v.Now().Equal(to) {
		t.Errorf("clock at %v, want %v", v.Now(), to)
	}
	want := []time.Time{start.AddDate(0, 18, 0), start.AddDate(0, 36, 0)}
	if !slices.EqualFunc(monthly.ran, want, time.Time.Equal) {
		t.Errorf("18-monthly work ran at %v, want %v", monthly.ran, want)
	}
	days := int(to.Sub(start).Hours() / 24)
	if len(daily.ran) != days || !daily.ran[len(daily.ran)-1].Equal(to) {
		t.Errorf("daily work ran %d times (last %v), want %d ending %v", len(daily.ran), daily.ran[len(daily.ran)-1], days, to)
	}
	if !slices.IsSortedFunc(at, time.Time.Compare) || !at[len(at)-1].Equal(to) {
		t.Errorf("passes not in time order or not ending at the target")
	}

	// Setting the clock back runs the work due now and moves nothing.
	if err := s.Advance(context.Background(), v, start); err != nil || !v.Now().Equal(to) {
		t.Errorf("Advance into the past: %v, clock %v", err, v.Now())
	}
}

func TestAdvanceStopsAtAnError(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	boom := errors.New("boom")
	s := &Scheduler{Clock: v, Tasks: []Task{{
		Name: "failing",
		Next: func(context.Context) (time.Time, error) { return start.Add(time.Hour), nil },
		Run: func(_ context.Context, now time.Time) error {
			if now.Before(start.Add(time.Hour)) {
				return nil
			}
			return boom
		},
	}}}
	err := s.Advance(context.Background(), v, start.AddDate(1, 0, 0))
	if !errors.Is(err, boom) || !v.Now().Equal(start.Add(time.Hour)) {
		t.Errorf("Advance = %v with the clock at %v; want boom at the failing task's time", err, v.Now())
	}
}

func TestStartRunsAtOnceAndStops(t *testing.T) {
	ran := make(chan time.Time, 10)
	s := &Scheduler{Clock: clock.Real{}, Interval: time.Hour, Tasks: []Task{{
		Name: "t",
		Next: func(context.Context) (time.Time, error) { return time.Time{}, nil },
		Run:  func(_ context.Context, now time.Time) error { ran <- now; return nil },
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Start(ctx); close(done) }()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not run the due work at once")
	}
	cancel()
	<-done
}
