package core

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const goodConfig = `routes:
  - name: orders
    policies:
      - name: step
        version: v1.0.0
        parameters: {tag: a}
      - name: step
        version: v1.0.0
        enabled: false
        parameters: {tag: off}
      - name: step
        version: v2.0.0
        timeout: 20ms
        parameters: {tag: b}
  - name: plain
    failOpen: true
    policies: []
defaultRoute: plain
policyTimeout: 50ms
`

func TestApplyBuildsChains(t *testing.T) {
	store, obs := newTestStore(t)
	if err := store.Apply([]byte(goodConfig), "engine.yaml"); err != nil {
		t.Fatal(err)
	}
	snap := store.Current()
	if snap.Version != 1 || snap.Source != "engine.yaml" || obs.applied.Load() != 1 {
		t.Fatalf("version %d source %q applied %d", snap.Version, snap.Source, obs.applied.Load())
	}
	orders := snap.Chain("orders")
	if len(orders.Request) != 2 {
		t.Fatalf("orders has %d request instances, want 2 (disabled one skipped)", len(orders.Request))
	}
	if orders.Request[0].Timeout != 50*time.Millisecond || orders.Request[1].Timeout != 20*time.Millisecond {
		t.Errorf("timeouts %v %v", orders.Request[0].Timeout, orders.Request[1].Timeout)
	}
	if orders.RequestBodyFrom != 1 || !orders.NeedsRequestBody() {
		t.Errorf("RequestBodyFrom %d, want 1 (step v2 needs the body)", orders.RequestBodyFrom)
	}
	if len(orders.Response) != 1 || orders.NeedsResponseBody() {
		t.Errorf("response instances %d, needs body %v", len(orders.Response), orders.NeedsResponseBody())
	}
	if orders.Request[1].Params["tag"] != "b" || orders.Request[0].Index != 0 || orders.Request[1].Index != 2 {
		t.Errorf("instance data wrong: %+v", orders.Request[1])
	}
	if snap.DefaultChain() != snap.Chain("plain") || snap.AllowNoRoute() {
		t.Error("default route or no-route action wrong")
	}
}

func TestApplyRejectsAndKeepsLastGood(t *testing.T) {
	store, obs := newTestStore(t)
	if err := store.Apply([]byte(goodConfig), "engine.yaml"); err != nil {
		t.Fatal(err)
	}
	good := store.Current()
	if err := store.Apply([]byte("routes:\n  - name: x\n    policies: [{name: nope, version: v1.0.0}]\n"), "engine.yaml"); err == nil {
		t.Fatal("invalid config accepted")
	}
	if store.Current() != good || obs.rejected.Load() != 1 {
		t.Fatalf("last good not kept (rejected=%d)", obs.rejected.Load())
	}
	if err := store.Apply([]byte("routes: []\nnoRouteAction: allow\n"), "xds"); err != nil {
		t.Fatal(err)
	}
	if v := store.Current().Version; v != 2 {
		t.Errorf("version %d, want 2", v)
	}
}

func TestApplyConcurrentReadersSeeWholeSnapshots(t *testing.T) {
	store, _ := newTestStore(t)
	if err := store.Apply([]byte(goodConfig), "a"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			snap := store.Current()
			if snap.Chain("orders") == nil {
				t.Error("snapshot without its routes")
				return
			}
		}
	}()
	for range 20 {
		if err := store.Apply([]byte(goodConfig), "b"); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestApplyRejectsAPolicyWhoseDefaultBreaksItsDeclaration(t *testing.T) {
	reg := testRegistry(t)
	called := false
	err := reg.Register(PolicyDefinition{Name: "badDefault", Version: "v1.0.0",
		Spec: []byte("name: badDefault\nversion: v1.0.0\nparameters:\n  - name: limit\n    type: integer\n    maximum: 10\n    default: 50\n"),
		Factory: func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
			called = true
			return requestOnly{}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	store := NewConfigStore(NewCatalog(reg), discardLogger(), nil)
	err = store.Apply([]byte("routes:\n  - name: r\n    policies:\n      - {name: badDefault, version: v1.0.0}\n"), "cfg.yaml")
	if err == nil || !strings.Contains(err.Error(), `parameter "limit": default:`) {
		t.Fatalf("Apply error %v, want the bad default named", err)
	}
	if called {
		t.Error("the factory received the out-of-range default")
	}
}

// An instance with nothing to do on responses stays out of the response phase, so
// its chain does not ask Envoy for the response.
func TestResponsePhaseSkipped(t *testing.T) {
	for _, skip := range []bool{true, false} {
		store, _ := newTestStore(t)
		cfg := fmt.Sprintf("routes: [{name: r, policies: [{name: maybeResponse, version: v1.0.0, parameters: {skip: %v}}]}]\n", skip)
		if err := store.Apply([]byte(cfg), "test"); err != nil {
			t.Fatal(err)
		}
		c := store.Current().Chain("r")
		if len(c.Request) != 1 || (len(c.Response) == 0) != skip {
			t.Errorf("skip=%v: %d request, %d response instances", skip, len(c.Request), len(c.Response))
		}
	}
}
