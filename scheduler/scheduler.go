// Package scheduler runs tresor's periodic work: key rotation, purging
// soft-deleted objects, and the consumers' checks. Each piece of work is a
// Task that knows when it next has something to do. On real time the
// Scheduler ticks; on a virtual clock, Advance moves the clock through
// every due time in order and runs the work due at each, before it
// returns, so that a test of "18 months later" sees exactly what 18 months
// of real time would have done.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tresorkms/tresor/clock"
)

// Task is a kind of periodic work.
type Task struct {
	Name string
	// Next returns the earliest time at which the task has work, or the
	// zero time if it has none. It may return a time in the past (work
	// overdue); it must not return a time later than the real one.
	Next func(ctx context.Context) (time.Time, error)
	// Run does all the work due at now. It must be idempotent: running it
	// twice at one time does the work once.
	Run func(ctx context.Context, now time.Time) error
}

// Scheduler runs Tasks on a clock. Tasks are set before Start or Advance.
type Scheduler struct {
	Clock clock.Clock
	Tasks []Task
	// Interval is how often Start ticks on real time; 0 means a minute.
	Interval time.Duration
	Logger   *slog.Logger

	mu sync.Mutex // one pass at a time
}

// maxSteps bounds the due times one Advance steps through, so that a task
// whose Next misbehaves cannot hang it. A daily task over ten years takes
// 3,653.
const maxSteps = 100000

// Advance moves a virtual clock to t, stopping at each time at which a
// task has work, in order, and running the work due there; then it runs
// every task once at t. It returns the first error, after which the clock
// stays where the failing task was. A t not after the clock's time runs
// the work due now.
func (s *Scheduler) Advance(ctx context.Context, v *clock.Virtual, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range maxSteps {
		next, err := s.next(ctx)
		if err != nil {
			return err
		}
		if next.IsZero() || next.After(t) {
			break
		}
		v.Set(next)
		if err := s.runLocked(ctx, v.Now()); err != nil {
			return err
		}
	}
	v.Set(t)
	return s.runLocked(ctx, v.Now())
}

// next returns the earliest time any task has work, or zero.
func (s *Scheduler) next(ctx context.Context) (time.Time, error) {
	var min time.Time
	for _, task := range s.Tasks {
		n, err := task.Next(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", task.Name, err)
		}
		if !n.IsZero() && (min.IsZero() || n.Before(min)) {
			min = n
		}
	}
	return min, nil
}

// RunDue runs every task's work due at the clock's time.
func (s *Scheduler) RunDue(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runLocked(ctx, s.Clock.Now())
}

func (s *Scheduler) runLocked(ctx context.Context, now time.Time) error {
	var errs []error
	for _, task := range s.Tasks {
		if err := task.Run(ctx, now); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", task.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Start runs the due work every Interval until ctx ends, and once at once
// (catching up after downtime). Errors are logged, not fatal: the next tick
// retries. It returns when ctx ends.
func (s *Scheduler) Start(ctx context.Context) {
	interval := s.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.logger().ErrorContext(ctx, "scheduled work failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
