package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// watch is the link between one chain worker and the caller waiting for it: the
// worker says which policy runs with begin and end, the caller cuts a policy off
// in wait.
type watch struct {
	ctx context.Context
	// phaseEnd is the phase budget's end (zero: none), enforced by this watchdog's
	// timer like the policies' own deadlines.
	phaseEnd time.Time
	timer    *time.Timer
	// done is closed when the worker stops; failure is its result, read after.
	done    chan struct{}
	failure *Failure

	mu sync.Mutex
	// running is the context of the policy in flight, nil between policies (the
	// worker is then on its own bookkeeping and may not be cut off).
	running *policyContext
	index   int
	start   time.Time
	cut     bool
}

// timers are the watchdogs' timers, stopped, for reuse: one per Envoy message
// otherwise. A stopped timer's channel holds no stale tick (Go 1.23 timers).
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// cutOff is a policy the watchdog stopped waiting for.
type cutOff struct {
	index int
	start time.Time
	err   error
}

func newWatch(ctx context.Context) *watch {
	// The timer is armed by begin for each policy, and stopped and returned to
	// the pool by wait: nothing else uses it after that.
	w := &watch{ctx: ctx, timer: timers.Get().(*time.Timer), done: make(chan struct{})}
	if pc, ok := ctx.(*phaseContext); ok {
		w.phaseEnd = pc.end
	}
	return w
}

// begin marks instance index as running with its deadline and returns its
// context; it fails at once, like a run cut off, when ctx has already ended.
func (w *watch) begin(index int, timeout time.Duration, start time.Time) (*policyContext, error) {
	now := start
	pc := &policyContext{Context: w.ctx, deadline: now.Add(timeout), timeout: timeout}
	if !w.phaseEnd.IsZero() && w.phaseEnd.Before(pc.deadline) {
		pc.deadline, pc.phase = w.phaseEnd, true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Checked under mu: wait leaves the end of ctx to begin only when it found
	// no policy running, so either it sees this one running or this sees the end.
	if w.ctx.Err() != nil || !now.Before(pc.deadline) {
		return nil, expired(w.ctx, pc)
	}
	w.running, w.index, w.start = pc, index, start
	w.timer.Reset(time.Until(pc.deadline))
	return pc, nil
}

// end marks the run of pc as over. It reports false when the watchdog already
// cut pc off: the worker must then stop without touching any shared state.
func (w *watch) end(pc *policyContext) bool {
	w.mu.Lock()
	cut := w.cut
	w.running = nil
	w.mu.Unlock()
	if !cut {
		pc.close(context.Canceled)
	}
	return !cut
}

// wait returns nil when the worker is done, or the policy it cut off at its
// deadline or at the end of ctx.
func (w *watch) wait() *cutOff {
	defer func() {
		w.timer.Stop()
		timers.Put(w.timer)
	}()
	ctxDone := w.ctx.Done()
	for {
		select {
		case <-w.done:
			return w.exited()
		case <-w.timer.C:
		case <-ctxDone:
			// Between policies the worker sees the end of ctx itself, in begin;
			// a closed channel must not be selected again.
			ctxDone = nil
		}
		w.mu.Lock()
		pc := w.running
		if pc != nil && (w.ctx.Err() != nil || !time.Now().Before(pc.deadline)) {
			w.cut = true
			c := &cutOff{index: w.index, start: w.start, err: expired(w.ctx, pc)}
			w.mu.Unlock()
			pc.close(context.DeadlineExceeded)
			return c
		}
		if pc != nil {
			// A fire meant for an earlier policy: the running one still has time.
			w.timer.Reset(time.Until(pc.deadline))
		}
		w.mu.Unlock()
	}
}

// exited returns nil when the worker finished the chain, or the policy that
// ended the worker's goroutine from inside (runtime.Goexit), which would
// otherwise pass for a chain that ran to its end.
func (w *watch) exited() *cutOff {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running == nil {
		return nil
	}
	w.running.close(context.Canceled)
	return &cutOff{index: w.index, start: w.start, err: errGoexit}
}

var errGoexit = errors.New("policy ended its goroutine (runtime.Goexit) without answering")

// expired is the error of a policy pc that did not answer in time: the cause of
// ctx's end when it has one, the phase budget when that ended first, else the
// policy's own deadline.
func expired(ctx context.Context, pc *policyContext) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) && !errors.Is(cause, context.Canceled) {
		return cause
	}
	err := ctx.Err()
	switch {
	case err == nil && pc.phase:
		return ErrPhaseTimeout
	case err == nil:
		err = context.DeadlineExceeded
	}
	return fmt.Errorf("policy did not answer within %v: %w", pc.timeout, err)
}

// PhaseContext bounds the policies run for one Envoy message together: ctx with
// a deadline that the executor's watchdog enforces with the timer it runs anyway,
// where context.WithTimeout would start a timer and register with ctx for every
// message. It is only for the executor's Run methods, which cut a policy off at
// the deadline with ErrPhaseTimeout; its own Done and Err are ctx's.
func PhaseContext(ctx context.Context, deadline time.Time) context.Context {
	return &phaseContext{Context: ctx, end: deadline}
}

type phaseContext struct {
	context.Context
	end time.Time
}

func (c *phaseContext) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.end) {
		return d, true
	}
	return c.end, true
}

// policyContext is the context of one policy run: the phase context with the
// policy's own deadline. It stands in for context.WithTimeout, whose timer and
// registration with the parent are not needed here: the watchdog's timer
// enforces the deadline and closes Done when it cuts the policy off, and the
// worker closes it when the run ends. Done is made only if a policy asks for it.
type policyContext struct {
	context.Context
	deadline time.Time
	timeout  time.Duration
	// phase: deadline is the phase budget's end, earlier than the policy's own.
	phase bool

	mu   sync.Mutex
	done chan struct{}
	err  error
}

func (c *policyContext) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *policyContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *policyContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// close ends the context with err (or the parent's error, when it ended first).
func (c *policyContext) close(err error) {
	if perr := c.Context.Err(); perr != nil {
		err = perr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		if c.done != nil {
			close(c.done)
		}
	}
}
