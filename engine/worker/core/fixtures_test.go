package core

import (
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// stepPolicy is a configurable test policy: its parameters say what it does.
type stepPolicy struct {
	name string
	md   policies.PolicyMetadata
}

func (p *stepPolicy) Name() string { return p.name }

func (p *stepPolicy) Validate(cfg map[string]any) error {
	if cfg["invalid"] == true {
		return errors.New("told to be invalid")
	}
	return nil
}

func (p *stepPolicy) ExecuteRequest(ctx *policies.RequestContext, cfg map[string]any) *policies.RequestPolicyAction {
	trace, _ := ctx.Shared["trace"].(string)
	ctx.Shared["trace"] = trace + cfg["tag"].(string)
	switch cfg["do"] {
	case "deny":
		return policies.Deny(401, "denied by "+cfg["tag"].(string))
	case "panic":
		panic("boom")
	case "error":
		return policies.Fail(errors.New("backend down"))
	case "sleep":
		<-ctx.Context.Done()
		return nil
	case "hang":
		time.Sleep(300 * time.Millisecond)
		return nil
	case "scribble":
		// Ignores its deadline and keeps writing Shared.
		for i := range 2000 {
			ctx.Shared["scribble"] = i
			time.Sleep(50 * time.Microsecond)
		}
		return nil
	case "badstatus":
		return policies.Deny(42, "")
	case "dropshared":
		ctx.Shared = nil
		return nil
	case "deadline":
		d, _ := ctx.Context.Deadline()
		ctx.Shared["deadline"] = time.Until(d)
		ctx.Shared["err"] = ctx.Context.Err()
		return nil
	case "goexit":
		runtime.Goexit()
	}
	return &policies.RequestPolicyAction{Headers: policies.HeaderChanges{
		Set: map[string]string{
			"x-step-" + cfg["tag"].(string): ctx.Headers.Get("x-in"),
			"x-last":                        cfg["tag"].(string),
			"x-prev-" + cfg["tag"].(string): ctx.Headers.Get("x-last"),
		},
	}}
}

func (p *stepPolicy) ExecuteResponse(ctx *policies.ResponseContext, cfg map[string]any) *policies.ResponsePolicyAction {
	switch cfg["do"] {
	case "panic":
		panic("boom")
	case "deny":
		return &policies.ResponsePolicyAction{Immediate: &policies.ImmediateResponse{Status: 502}}
	}
	return &policies.ResponsePolicyAction{Status: 299, Headers: policies.HeaderChanges{
		Set: map[string]string{"x-resp-" + cfg["tag"].(string): "1"},
	}}
}

// requestOnly implements only RequestPolicy.
type requestOnly struct{}

func (requestOnly) Name() string                  { return "requestOnly" }
func (requestOnly) Validate(map[string]any) error { return nil }
func (requestOnly) ExecuteRequest(*policies.RequestContext, map[string]any) *policies.RequestPolicyAction {
	return nil
}

// maybeResponse has a response phase that its skip parameter may make empty.
type maybeResponse struct {
	requestOnly
	skip bool
}

func (m maybeResponse) SkipResponsePhase() bool { return m.skip }
func (maybeResponse) ExecuteResponse(*policies.ResponseContext, map[string]any) *policies.ResponsePolicyAction {
	return nil
}

const stepSpec = `
name: step
version: v1.0.0
supportsResponsePhase: true
parameters:
  - {name: tag, type: string, default: "-"}
  - {name: do, type: string, enum: [continue, deny, panic, error, sleep, hang, badstatus, scribble, dropshared, goexit, deadline]}
  - {name: invalid, type: boolean}
`

func testRegistry(t testing.TB) *Registry {
	t.Helper()
	reg := NewRegistry()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	stepFactory := func(md policies.PolicyMetadata, _ map[string]any) (policies.Policy, error) {
		return &stepPolicy{name: md.Name, md: md}, nil
	}
	must(reg.Register(PolicyDefinition{Name: "step", Version: "v1.0.0", Factory: stepFactory, Spec: []byte(stepSpec)}))
	must(reg.Register(PolicyDefinition{Name: "step", Version: "v2.0.0", Factory: stepFactory,
		Spec: []byte("name: step\nversion: v2.0.0\nrequiresRequestBody: true\nparameters: [{name: tag, type: string}]\n")}))
	must(reg.Register(PolicyDefinition{Name: "requestOnly", Version: "v1.0.0",
		Factory: func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) { return requestOnly{}, nil },
		Spec:    []byte("name: requestOnly\nversion: v1.0.0\nsupportsResponsePhase: true\n")}))
	must(reg.Register(PolicyDefinition{Name: "maybeResponse", Version: "v1.0.0",
		Factory: func(_ policies.PolicyMetadata, params map[string]any) (policies.Policy, error) {
			return maybeResponse{skip: params["skip"] == true}, nil
		},
		Spec: []byte("name: maybeResponse\nversion: v1.0.0\nsupportsResponsePhase: true\nparameters: [{name: skip, type: boolean}]\n")}))
	must(reg.Register(PolicyDefinition{Name: "broken", Version: "v1.0.0",
		Factory: func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) { panic("factory boom") },
		Spec:    []byte("name: broken\nversion: v1.0.0\n")}))
	return reg
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type countingObserver struct{ applied, rejected atomic.Int64 }

func (o *countingObserver) ConfigApplied(uint64)  { o.applied.Add(1) }
func (o *countingObserver) ConfigRejected(string) { o.rejected.Add(1) }

func newTestStore(t testing.TB) (*ConfigStore, *countingObserver) {
	obs := &countingObserver{}
	return NewConfigStore(NewCatalog(testRegistry(t)), discardLogger(), obs), obs
}
