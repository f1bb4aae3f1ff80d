package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Decisions recorded per policy run.
const (
	DecisionContinue  = "continue"
	DecisionImmediate = "immediate"
	DecisionSkipped   = "skipped"
	DecisionError     = "error"
)

// Phases recorded per policy run.
const (
	PhaseRequest  = "request"
	PhaseResponse = "response"
)

// ErrPhaseTimeout is the cause of a phase context whose time is up: the policies of
// one Envoy message took longer, together, than the snapshot's PhaseTimeout.
var ErrPhaseTimeout = errors.New("the policies of this message ran out of time together (phaseTimeout)")

// ExecutionObserver is told about every policy run (metrics).
type ExecutionObserver interface {
	PolicyExecuted(route, policy, phase, decision string, elapsed time.Duration)
}

// Executor runs policy chains. Every policy call gets its own deadline and is
// isolated so that a panic, an error or a hang becomes a Failure (or, on a
// fail-open route, a skipped policy), never a crash or a silent pass.
type Executor struct {
	Logger   *slog.Logger
	Observer ExecutionObserver
}

// PanicError is a panic recovered from a policy.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("policy panicked: %v", e.Value) }

// RunRequest runs instances (a slice of chain.Request) in order against rc and
// adds their outcome to res. Each policy sees rc as changed by the policies before
// it (headers, path, method, body). vars builds the CEL variables from rc; it is
// called only when a condition needs them and again only after rc changed, so
// chains without conditions pay nothing.
func (e *Executor) RunRequest(ctx context.Context, chain *Chain, instances []*Instance, rc *policies.RequestContext, vars func() map[string]any, res *Result) {
	v := view{headers: &rc.Headers, body: &rc.Body, path: &rc.Path, method: &rc.Method}
	res.Failure = runChain(ctx, e, chain, instances, PhaseRequest, vars, requestPhase{rc}, v, res)
}

// RunResponse runs instances (a slice of chain.Response) in order against rc and
// adds their outcome to res. Each policy sees rc as changed by the policies before
// it (headers, status, body).
func (e *Executor) RunResponse(ctx context.Context, chain *Chain, instances []*Instance, rc *policies.ResponseContext, vars func() map[string]any, res *Result) {
	v := view{headers: &rc.Headers, body: &rc.Body, status: &rc.Status}
	res.Failure = runChain(ctx, e, chain, instances, PhaseResponse, vars, responsePhase{rc}, v, res)
}

// phase is what differs between running request and response policies: the
// context type C and how a policy is called on it.
type phase[C any] interface {
	// fork gives a run its own copy of the context, with its own Shared map, so
	// that a run abandoned at its deadline shares nothing mutable with what follows.
	fork() *C
	// exec runs inst's policy on the fork c with ctx.
	exec(ctx context.Context, inst *Instance, c *C) change
	// adopt takes the Shared map of a completed run's fork back into the context.
	adopt(c *C)
}

// runChain runs instances in order until one answers immediately or fails (on a
// fail-closed route), and returns that failure.
//
// The chain runs on one worker goroutine per phase rather than one per policy:
// starting a goroutine and a context.WithTimeout for every policy cost more than
// the policies themselves (docs/load-test.md). The caller waits as the watchdog:
// it knows which policy is running and cuts it off at that policy's own deadline
// or when ctx ends. The cut-off worker is abandoned; it touches no later state
// (the policy has its own fork of the context), and on a fail-open route a new
// worker goes on with the rest of the chain.
func runChain[C any](ctx context.Context, e *Executor, chain *Chain, instances []*Instance, name string, vars func() map[string]any, p phase[C], v view, res *Result) *Failure {
	r := &chainRun[C]{e: e, chain: chain, name: name, cond: conditionVars{build: vars}, p: p, v: v, res: res}
	for len(instances) > 0 {
		w := newWatch(ctx)
		runs := instances
		workers.run(func() { r.work(w, runs) })
		cut := w.wait()
		if cut == nil {
			return w.failure
		}
		inst := instances[cut.index]
		e.observe(chain, inst, name, DecisionError, cut.start)
		if f := e.fail(chain, inst, name, cut.err); f != nil {
			return f
		}
		instances = instances[cut.index+1:]
	}
	return nil
}

// chainRun is the state of one runChain that outlives a cut-off worker.
type chainRun[C any] struct {
	e     *Executor
	chain *Chain
	name  string
	cond  conditionVars
	p     phase[C]
	v     view
	res   *Result
}

// work runs instances on the worker goroutine under w. It stops touching
// anything but its own fork as soon as w cuts the running policy off.
func (r *chainRun[C]) work(w *watch, instances []*Instance) {
	defer close(w.done)
	for i, inst := range instances {
		start := time.Now()
		run, err := r.e.shouldRun(inst, &r.cond)
		decision := DecisionSkipped
		if run && err == nil {
			c := r.p.fork()
			var pc *policyContext
			if pc, err = w.begin(i, inst.Timeout, start); err == nil {
				var ch change
				ch, err = call(r.p, pc, inst, c)
				if !w.end(pc) {
					return
				}
				if err == nil {
					var changed bool
					decision, changed, err = r.take(c, &ch)
					if changed {
						r.cond.vars = nil
					}
				}
			}
		}
		if err != nil {
			decision = DecisionError
		}
		r.e.observe(r.chain, inst, r.name, decision, start)
		if err != nil {
			if w.failure = r.e.fail(r.chain, inst, r.name, err); w.failure != nil {
				return
			}
		}
		if decision == DecisionImmediate {
			return
		}
	}
}

// take checks the change of a completed run and applies it, with the fork's
// Shared map, to the context and the result. It returns the decision and whether
// the context's headers changed.
func (r *chainRun[C]) take(c *C, ch *change) (string, bool, error) {
	r.p.adopt(c)
	if err := ch.check(); err != nil {
		return DecisionError, false, err
	}
	if ch.immediate != nil {
		r.res.Immediate = ch.immediate
		return DecisionImmediate, false, nil
	}
	return DecisionContinue, r.res.apply(ch, r.v), nil
}

// call runs one policy, turning a panic into a PanicError.
func call[C any](p phase[C], ctx context.Context, inst *Instance, c *C) (ch change, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return p.exec(ctx, inst, c), nil
}

type requestPhase struct{ rc *policies.RequestContext }

func (p requestPhase) fork() *policies.RequestContext {
	c := *p.rc
	c.Shared = cloneShared(p.rc.Shared)
	return &c
}

func (p requestPhase) exec(ctx context.Context, inst *Instance, c *policies.RequestContext) change {
	c.Context = ctx
	return requestChange(inst.Request.ExecuteRequest(c, inst.Params))
}

func (p requestPhase) adopt(c *policies.RequestContext) { p.rc.Shared = c.Shared }

type responsePhase struct{ rc *policies.ResponseContext }

func (p responsePhase) fork() *policies.ResponseContext {
	c := *p.rc
	c.Shared = cloneShared(p.rc.Shared)
	return &c
}

func (p responsePhase) exec(ctx context.Context, inst *Instance, c *policies.ResponseContext) change {
	c.Context = ctx
	return responseChange(inst.Response.ExecuteResponse(c, inst.Params))
}

func (p responsePhase) adopt(c *policies.ResponseContext) { p.rc.Shared = c.Shared }

// conditionVars caches the CEL variables of one run until the context changes.
type conditionVars struct {
	build func() map[string]any
	vars  map[string]any
}

func (e *Executor) shouldRun(inst *Instance, cond *conditionVars) (bool, error) {
	if inst.When == nil {
		return true, nil
	}
	if cond.vars == nil {
		cond.vars = cond.build()
	}
	return inst.When.Eval(cond.vars)
}

// fail logs a policy failure and returns the Failure that stops the chain, or nil
// when the route is fail-open and the chain goes on without this policy.
func (e *Executor) fail(chain *Chain, inst *Instance, phase string, err error) *Failure {
	id := NewErrorID()
	attrs := []any{"error_id", id, "route", chain.Route, "policy", inst.Key, "index", inst.Index,
		"phase", phase, "error", err, "fail_open", chain.FailOpen}
	var perr *PanicError
	if errors.As(err, &perr) {
		attrs = append(attrs, "stack", string(perr.Stack))
	}
	e.Logger.Error("policy failed", attrs...)
	if chain.FailOpen {
		return nil
	}
	return &Failure{ID: id, Policy: inst.Key, Err: err}
}

func (e *Executor) observe(chain *Chain, inst *Instance, phase, decision string, start time.Time) {
	if e.Observer != nil {
		e.Observer.PolicyExecuted(chain.Route, inst.Key, phase, decision, time.Since(start))
	}
}

// NewErrorID returns a short random id that ties an error answer to its log line.
func NewErrorID() string { return rand.Text()[:16] }

// cloneShared gives each policy run its own copy of the Shared map, taken back
// only when the run completes: a policy abandoned at its deadline may still write
// to its copy, and must not race with the policies after it (a concurrent map
// write would crash the process).
func cloneShared(m map[string]any) map[string]any {
	// Sized for what is there: most chains share nothing, and a hint of one would
	// allocate a table per policy run for nothing.
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
