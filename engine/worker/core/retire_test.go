package core

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

type closable struct {
	requestOnly
	closed *atomic.Int64
}

func (c closable) Close() error {
	c.closed.Add(1)
	return nil
}

func closableStore(t *testing.T) (*ConfigStore, *atomic.Int64) {
	t.Helper()
	reg := testRegistry(t)
	closed := &atomic.Int64{}
	err := reg.Register(PolicyDefinition{Name: "closable", Version: "v1.0.0", Spec: []byte("name: closable\nversion: v1.0.0\n"),
		Factory: func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
			return closable{closed: closed}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	store := NewConfigStore(NewCatalog(reg), discardLogger(), nil)
	store.retireDelay = 10 * time.Millisecond
	return store, closed
}

const closableConfig = "routes:\n  - name: r\n    policies:\n      - {name: closable, version: v1.0.0}\n      - {name: closable, version: v1.0.0, enabled: false}\n"

func TestReplacedInstancesAreClosedAfterTheDelay(t *testing.T) {
	store, closed := closableStore(t)
	if err := store.Apply([]byte(closableConfig), "a"); err != nil {
		t.Fatal(err)
	}
	if err := store.Apply([]byte("routes: []\n"), "b"); err != nil {
		t.Fatal(err)
	}
	if closed.Load() != 0 {
		t.Fatal("closed before the retire delay")
	}
	testproc.Eventually(t, "both instances closed (disabled ones too)", 2*time.Second, func() bool { return closed.Load() == 2 })
}

func TestRejectedAndCheckedInstancesAreClosed(t *testing.T) {
	store, closed := closableStore(t)
	bad := closableConfig + "      - {name: nope, version: v1.0.0}\n"
	if err := store.Apply([]byte(bad), "a"); err == nil {
		t.Fatal("accepted")
	}
	if closed.Load() != 2 {
		t.Errorf("rejected config: closed %d, want 2", closed.Load())
	}
	if err := store.Check([]byte(closableConfig), "a"); err != nil {
		t.Fatal(err)
	}
	if closed.Load() != 4 || store.Current() != nil {
		t.Errorf("check: closed %d, want 4; current %v", closed.Load(), store.Current())
	}
	if err := store.Check([]byte(bad), "a"); err == nil {
		t.Error("check accepted a bad config")
	}
}
