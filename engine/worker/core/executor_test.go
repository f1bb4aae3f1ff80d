package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/pkg/cel"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

type recordingObserver struct {
	mu        sync.Mutex
	decisions []string
}

func (o *recordingObserver) PolicyExecuted(route, policy, phase, decision string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.decisions = append(o.decisions, phase+":"+decision)
}

func chainFor(t *testing.T, failOpen bool, steps ...string) *Chain {
	t.Helper()
	store, _ := newTestStore(t)
	var b strings.Builder
	b.WriteString("routes:\n  - name: r\n")
	if failOpen {
		b.WriteString("    failOpen: true\n")
	}
	b.WriteString("    policies:\n")
	for _, s := range steps {
		tag, do, _ := strings.Cut(s, "=")
		b.WriteString("      - {name: step, version: v1.0.0, timeout: 30ms, parameters: {tag: " + tag)
		if do != "" {
			b.WriteString(", do: " + do)
		}
		b.WriteString("}}\n")
	}
	if err := store.Apply([]byte(b.String()), "test"); err != nil {
		t.Fatal(err)
	}
	return store.Current().Chain("r")
}

func requestCtx() *policies.RequestContext {
	return &policies.RequestContext{
		Route:   "r",
		Headers: policies.NewHeaders(map[string][]string{"x-in": {"v"}}),
		Method:  "GET", Path: "/",
		Shared: map[string]any{},
	}
}

// runRequest and runResponse run a chain into a fresh Result.
func runRequest(ex *Executor, ctx context.Context, chain *Chain, instances []*Instance, rc *policies.RequestContext, vars func() map[string]any) Result {
	var res Result
	ex.RunRequest(ctx, chain, instances, rc, vars, &res)
	return res
}

func runResponse(ex *Executor, ctx context.Context, chain *Chain, instances []*Instance, rc *policies.ResponseContext, vars func() map[string]any) Result {
	var res Result
	ex.RunResponse(ctx, chain, instances, rc, vars, &res)
	return res
}

func noVars() map[string]any { panic("conditions not expected") }

// The SDK promises policies a non-nil Shared map: a policy that drops it (here
// "a", setting it to nil) must not make the next one's write panic.
func TestSharedIsNeverNil(t *testing.T) {
	chain := chainFor(t, false, "a=dropshared", "b")
	ex := &Executor{Logger: discardLogger()}
	rc := requestCtx()
	rc.Shared = nil
	res := runRequest(ex, context.Background(), chain, chain.Request, rc, noVars)
	if res.Failure != nil {
		t.Fatalf("a policy saw a nil Shared map: %v", res.Failure.Err)
	}
	if rc.Shared["trace"] != "b" {
		t.Errorf("trace %q, want b (a dropped its own write)", rc.Shared["trace"])
	}
}

func TestRunRequestInOrderAndMerges(t *testing.T) {
	chain := chainFor(t, false, "a", "b")
	obs := &recordingObserver{}
	ex := &Executor{Logger: discardLogger(), Observer: obs}
	rc := requestCtx()
	res := runRequest(ex, context.Background(), chain, chain.Request, rc, noVars)
	if res.Failure != nil || res.Immediate != nil {
		t.Fatalf("unexpected stop: %+v", res)
	}
	if rc.Shared["trace"] != "ab" {
		t.Errorf("order: trace %q, want ab", rc.Shared["trace"])
	}
	want := map[string]string{"x-step-a": "v", "x-step-b": "v", "x-last": "b"}
	for k, v := range want {
		if res.Headers.Set[k] != v {
			t.Errorf("header %s = %q, want %q (all: %v)", k, res.Headers.Set[k], v, res.Headers.Set)
		}
	}
	if len(obs.decisions) != 2 || obs.decisions[0] != "request:continue" {
		t.Errorf("decisions %v", obs.decisions)
	}
}

func TestRunRequestImmediateStopsChain(t *testing.T) {
	chain := chainFor(t, false, "a", "b=deny", "c")
	ex := &Executor{Logger: discardLogger()}
	rc := requestCtx()
	res := runRequest(ex, context.Background(), chain, chain.Request, rc, noVars)
	if res.Immediate == nil || res.Immediate.Status != 401 || string(res.Immediate.Body) != "denied by b" {
		t.Fatalf("immediate %+v", res.Immediate)
	}
	if rc.Shared["trace"] != "ab" {
		t.Errorf("c ran after the deny: trace %q", rc.Shared["trace"])
	}
}

func TestRunRequestFailuresBecomeFailures(t *testing.T) {
	for _, do := range []string{"panic", "error", "sleep", "hang", "badstatus", "goexit"} {
		t.Run(do, func(t *testing.T) {
			chain := chainFor(t, false, "a", "b="+do, "c")
			ex := &Executor{Logger: discardLogger()}
			start := time.Now()
			res := runRequest(ex, context.Background(), chain, chain.Request, requestCtx(), noVars)
			if res.Failure == nil || res.Failure.Policy != "step:v1.0.0" || len(res.Failure.ID) != 16 {
				t.Fatalf("failure %+v", res.Failure)
			}
			if elapsed := time.Since(start); elapsed > 200*time.Millisecond {
				t.Errorf("took %v; the 30ms deadline was not enforced", elapsed)
			}
			if res.Headers.Set["x-step-c"] != "" {
				t.Error("chain went on after a failure on a fail-closed route")
			}
		})
	}
}

func TestRunRequestFailOpenSkipsFailedPolicy(t *testing.T) {
	chain := chainFor(t, true, "a", "b=panic", "c")
	obs := &recordingObserver{}
	ex := &Executor{Logger: discardLogger(), Observer: obs}
	res := runRequest(ex, context.Background(), chain, chain.Request, requestCtx(), noVars)
	if res.Failure != nil {
		t.Fatalf("fail-open route failed: %+v", res.Failure)
	}
	if res.Headers.Set["x-step-c"] != "v" {
		t.Error("chain did not go on after the failed policy")
	}
	if got := strings.Join(obs.decisions, ","); got != "request:continue,request:error,request:continue" {
		t.Errorf("decisions %s", got)
	}
}

func TestAbandonedPolicyCannotRaceLaterPolicies(t *testing.T) {
	chain := chainFor(t, true, "a=scribble", "b", "c")
	ex := &Executor{Logger: discardLogger()}
	rc := requestCtx()
	res := runRequest(ex, context.Background(), chain, chain.Request, rc, noVars)
	if res.Failure != nil || res.Headers.Set["x-step-c"] != "v" {
		t.Fatalf("result %+v", res)
	}
	if _, leaked := rc.Shared["scribble"]; leaked {
		t.Error("a timed-out policy's writes reached the shared map")
	}
	if rc.Shared["trace"] != "bc" {
		t.Errorf("trace %q, want bc", rc.Shared["trace"])
	}
}

func TestLaterPoliciesSeeEarlierChanges(t *testing.T) {
	chain := chainFor(t, false, "a", "b", "c")
	cond, err := cel.Compile(`request.headers["x-last"] == "a"`)
	if err != nil {
		t.Fatal(err)
	}
	chain.Request[1].When = cond
	chain.Request[2].When = cond
	ex := &Executor{Logger: discardLogger()}
	rc := requestCtx()
	builds := 0
	vars := func() map[string]any {
		builds++
		return cel.RequestVars("r", rc.Method, rc.Path, rc.Headers)
	}
	res := runRequest(ex, context.Background(), chain, chain.Request, rc, vars)
	if res.Headers.Set["x-prev-b"] != "a" {
		t.Errorf("b saw x-last %q, want a's value", res.Headers.Set["x-prev-b"])
	}
	if _, ran := res.Headers.Set["x-step-c"]; ran {
		t.Error("c's condition saw the headers from before b's change")
	}
	if builds != 2 || rc.Headers.Get("x-last") != "b" {
		t.Errorf("condition variables built %d times (want 2), final x-last %q", builds, rc.Headers.Get("x-last"))
	}
}

func TestRunRequestWhenConditions(t *testing.T) {
	chain := chainFor(t, false, "a", "b")
	cond, err := cel.Compile(`request.headers["x-tenant"] == "t1"`)
	if err != nil {
		t.Fatal(err)
	}
	chain.Request[1].When = cond
	ex := &Executor{Logger: discardLogger()}
	for tenant, wantB := range map[string]bool{"t1": true, "t2": false} {
		rc := requestCtx()
		rc.Headers = policies.NewHeaders(map[string][]string{"x-tenant": {tenant}})
		vars := func() map[string]any { return cel.RequestVars("r", rc.Method, rc.Path, rc.Headers) }
		res := runRequest(ex, context.Background(), chain, chain.Request, rc, vars)
		if _, ran := res.Headers.Set["x-step-b"]; ran != wantB {
			t.Errorf("tenant %s: b ran = %v, want %v", tenant, ran, wantB)
		}
	}
}

func TestRunResponse(t *testing.T) {
	chain := chainFor(t, false, "a", "b")
	ex := &Executor{Logger: discardLogger()}
	rc := &policies.ResponseContext{Route: "r", Status: 200, Request: requestCtx(), Shared: map[string]any{}}
	res := runResponse(ex, context.Background(), chain, chain.Response, rc, noVars)
	if res.Status != 299 || res.Headers.Set["x-resp-a"] != "1" || res.Headers.Set["x-resp-b"] != "1" {
		t.Fatalf("result %+v", res)
	}
	chain = chainFor(t, false, "a=panic")
	res = runResponse(ex, context.Background(), chain, chain.Response, rc, noVars)
	if res.Failure == nil {
		t.Fatal("panic in a response policy did not fail")
	}
}

func TestHeaderMutationMergeOrder(t *testing.T) {
	var m HeaderMutation
	m.merge(policies.HeaderChanges{Set: map[string]string{"X-A": "1"}, Append: map[string][]string{"x-b": {"1"}}})
	m.merge(policies.HeaderChanges{Remove: []string{"x-a"}, Append: map[string][]string{"X-B": {"2"}}})
	m.merge(policies.HeaderChanges{Remove: []string{"x-c"}})
	m.merge(policies.HeaderChanges{Set: map[string]string{"x-c": "3"}})
	if _, ok := m.Set["x-a"]; ok {
		t.Error("x-a removed later but still set")
	}
	if _, ok := m.Remove["x-a"]; !ok {
		t.Error("x-a not removed")
	}
	if got := strings.Join(m.Append["x-b"], ","); got != "1,2" {
		t.Errorf("x-b appends %q", got)
	}
	if _, ok := m.Remove["x-c"]; ok || m.Set["x-c"] != "3" {
		t.Errorf("x-c set after removal: set %v remove %v", m.Set, m.Remove)
	}
}

// A hung policy is cut off at its own deadline and the rest of a fail-open chain
// runs after it, on a new worker, without anything of the hung run.
func TestHungPolicyThenMoreOnFailOpenRoute(t *testing.T) {
	chain := chainFor(t, true, "a", "b=hang", "c", "d=sleep", "e")
	obs := &recordingObserver{}
	ex := &Executor{Logger: discardLogger(), Observer: obs}
	rc := requestCtx()
	start := time.Now()
	res := runRequest(ex, context.Background(), chain, chain.Request, rc, noVars)
	if elapsed := time.Since(start); elapsed > 250*time.Millisecond {
		t.Errorf("took %v; the 30ms deadlines were not enforced", elapsed)
	}
	if res.Failure != nil {
		t.Fatalf("fail-open route failed: %+v", res.Failure)
	}
	if res.Headers.Set["x-step-e"] != "v" || res.Headers.Set["x-last"] != "e" {
		t.Errorf("the chain did not go on to e: %v", res.Headers.Set)
	}
	if rc.Shared["trace"] != "ace" {
		t.Errorf("trace %q, want ace (the cut-off runs' writes must be dropped)", rc.Shared["trace"])
	}
	want := "request:continue,request:error,request:continue,request:error,request:continue"
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if got := strings.Join(obs.decisions, ","); got != want {
		t.Errorf("decisions %s, want %s", got, want)
	}
}

// A failure is attributed to the policy that failed, by its index in the chain.
func TestFailureAttributedToItsPolicy(t *testing.T) {
	for _, do := range []string{"panic", "hang", "goexit"} {
		for _, failOpen := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/failOpen=%v", do, failOpen), func(t *testing.T) {
				chain := chainFor(t, failOpen, "a", "b", "c="+do, "d", "e")
				var logs bytes.Buffer
				obs := &recordingObserver{}
				ex := &Executor{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Observer: obs}
				res := runRequest(ex, context.Background(), chain, chain.Request, requestCtx(), noVars)
				if failOpen != (res.Failure == nil) {
					t.Fatalf("failure %+v on a route with failOpen=%v", res.Failure, failOpen)
				}
				if n := strings.Count(logs.String(), "policy failed"); n != 1 || !strings.Contains(logs.String(), " index=2 ") {
					t.Errorf("want one failure logged for index 2, got %d:\n%s", n, logs.String())
				}
				want := "continue,continue,error"
				if failOpen {
					want += ",continue,continue"
				}
				obs.mu.Lock()
				defer obs.mu.Unlock()
				if got := strings.ReplaceAll(strings.Join(obs.decisions, ","), "request:", ""); got != want {
					t.Errorf("decisions %s, want %s", got, want)
				}
			})
		}
	}
}

// A policy's context carries its own deadline, not the phase's.
func TestPolicySeesItsDeadline(t *testing.T) {
	chain := chainFor(t, false, "a=deadline")
	ex := &Executor{Logger: discardLogger()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := requestCtx()
	if res := runRequest(ex, ctx, chain, chain.Request, rc, noVars); res.Failure != nil {
		t.Fatal(res.Failure.Err)
	}
	left, _ := rc.Shared["deadline"].(time.Duration)
	if left <= 0 || left > 30*time.Millisecond {
		t.Errorf("policy saw %v left, want its 30ms timeout", left)
	}
	if rc.Shared["err"] != nil {
		t.Errorf("policy saw ctx.Err() = %v while running", rc.Shared["err"])
	}
}

// A cut-off policy's context ends like context.WithTimeout's would: Done closed,
// Err and Cause DeadlineExceeded; the cut names the phase budget when that ended
// first, and the stream's cause when the stream ended.
func TestCutOffPolicyContextEnds(t *testing.T) {
	for _, c := range []struct {
		name             string
		timeout, budget  time.Duration
		cancel           bool
		wantCut, wantCtx error
	}{
		{"own deadline", 10 * time.Millisecond, time.Minute, false, context.DeadlineExceeded, context.DeadlineExceeded},
		{"phase budget", time.Minute, 10 * time.Millisecond, false, ErrPhaseTimeout, context.DeadlineExceeded},
		{"stream ended", time.Minute, time.Minute, true, errStreamGone, errStreamGone},
	} {
		t.Run(c.name, func(t *testing.T) {
			stream, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			w := newWatch(PhaseContext(stream, time.Now().Add(c.budget)))
			pc, err := w.begin(0, c.timeout, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			done := pc.Done()
			if c.cancel {
				cancel(errStreamGone)
			}
			cut := w.wait()
			if cut == nil || cut.index != 0 || !errors.Is(cut.err, c.wantCut) {
				t.Fatalf("cut %+v, want policy 0 cut off with %v", cut, c.wantCut)
			}
			select {
			case <-done:
			default:
				t.Fatal("Done not closed after the cut")
			}
			if pc.Err() == nil || !errors.Is(context.Cause(pc), c.wantCtx) {
				t.Errorf("Err %v, Cause %v, want %v", pc.Err(), context.Cause(pc), c.wantCtx)
			}
			if w.end(pc) {
				t.Error("the cut-off worker was told to go on")
			}
		})
	}
}

var errStreamGone = errors.New("stream gone")

// A phase whose budget has run out runs no policy at all.
func TestSpentPhaseBudgetRunsNothing(t *testing.T) {
	w := newWatch(PhaseContext(context.Background(), time.Now().Add(-time.Millisecond)))
	if _, err := w.begin(0, time.Minute, time.Now()); !errors.Is(err, ErrPhaseTimeout) {
		t.Errorf("begin after the budget: %v, want ErrPhaseTimeout", err)
	}
}
