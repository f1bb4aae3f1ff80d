package xds

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
)

// fakeStore stands in for worker/core's store: it validates something real (every
// policy must be one the binary knows) and keeps the last good document.
type fakeStore struct {
	mu      sync.Mutex
	current map[string]any
	applied int
}

var knownPolicies = map[string]bool{"apiKey": true, "setHeaders": true, "rateLimiting": true}

func (s *fakeStore) Apply(raw []byte, source string) error {
	var doc struct {
		Routes []struct {
			Name     string `json:"name"`
			Policies []struct {
				Name string `json:"name"`
			} `json:"policies"`
		} `json:"routes"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	for _, r := range doc.Routes {
		for _, p := range r.Policies {
			if !knownPolicies[p.Name] {
				return fmt.Errorf("route %q: unknown policy %q", r.Name, p.Name)
			}
		}
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.applied = m, s.applied+1
	return nil
}

// routes lists the route names of the current config.
func (s *fakeStore) routes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	rs, _ := s.current["routes"].([]any)
	for _, r := range rs {
		out = append(out, r.(map[string]any)["name"].(string))
	}
	return out
}

func config(routes ...string) string {
	var b strings.Builder
	b.WriteString("defaultRoute: default\nroutes:\n")
	for _, r := range routes {
		name, policy, _ := strings.Cut(r, ":")
		if policy == "" {
			policy = "apiKey"
		}
		fmt.Fprintf(&b, "  - name: %s\n    policies:\n      - {name: %s, version: v1.0.0}\n", name, policy)
	}
	return b.String()
}

// counters count what a subscription does.
type counters struct {
	Updates, NACKs, Reconnects atomic.Int64
}

func (c *counters) hooks() SubscriberHooks {
	return SubscriberHooks{
		OnUpdate:    func(string) { c.Updates.Add(1) },
		OnNACK:      func(string, error) { c.NACKs.Add(1) },
		OnReconnect: func(error) { c.Reconnects.Add(1) },
	}
}

type nackRecord struct{ node, version, detail string }

type fleetEnv struct {
	addr    string
	server  *Server
	mu      sync.Mutex
	nacks   []nackRecord
	invalid int
	stop    context.CancelFunc
	done    chan error
}

func (f *fleetEnv) serverNACKs() []nackRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]nackRecord(nil), f.nacks...)
}

// startServer serves doc on f.addr (a fresh port when empty).
func (f *fleetEnv) startServer(t *testing.T, doc string) {
	t.Helper()
	f.server = NewServer(ServerConfig{Hooks: ServerHooks{
		OnNACK: func(node, version, detail string) {
			f.mu.Lock()
			f.nacks = append(f.nacks, nackRecord{node, version, detail})
			f.mu.Unlock()
		},
		OnInvalid: func(error) {
			f.mu.Lock()
			f.invalid++
			f.mu.Unlock()
		},
	}})
	f.publish(doc)
	addr := f.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	f.stop, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.server.Serve(ctx, ln) }()
}

func (f *fleetEnv) stopServer() {
	f.stop()
	<-f.done
}

// publish hands the server a changed config file, as the engine's file watcher
// does; an unpublishable one is counted by OnInvalid.
func (f *fleetEnv) publish(doc string) {
	_ = f.server.Apply([]byte(doc), "config.yaml")
}

func TestFleetSharesOneSource(t *testing.T) {
	f := &fleetEnv{}
	f.startServer(t, config("default", "api"))
	t.Cleanup(func() { f.stopServer() })

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stores := []*fakeStore{{}, {}}
	counters := []*counters{{}, {}}
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = Subscribe(ctx, SubscriberConfig{Server: f.addr, NodeID: fmt.Sprintf("engine-%d", i),
				Applier: stores[i], Hooks: counters[i].hooks(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	both := func(what string, want ...string) {
		t.Helper()
		for i, s := range stores {
			testproc.Eventually(t, fmt.Sprintf("engine-%d %s", i, what), 5*time.Second, func() bool { return strings.Join(s.routes(), ",") == strings.Join(want, ",") })
		}
	}
	both("initial config", "default", "api")

	// A file change reaches both subscribers.
	f.publish(config("default", "api", "admin:setHeaders"))
	both("changed config", "default", "api", "admin")
	for i, c := range counters {
		// The hook runs just after Apply returns: wait for it, then make sure
		// nothing was applied twice.
		testproc.Eventually(t, fmt.Sprintf("engine-%d update count", i), 5*time.Second, func() bool { return c.Updates.Load() >= 2 })
		if got := c.Updates.Load(); got != 2 {
			t.Errorf("engine-%d updates = %d, want 2", i, got)
		}
	}

	// An invalid chain is NACKed by both, with the reason reaching the server, and
	// both keep the last good config.
	f.publish(config("default", "api", "admin:noSuchPolicy"))
	testproc.Eventually(t, "NACKs at the server", 5*time.Second, func() bool { return len(f.serverNACKs()) >= 2 })
	nodes := map[string]bool{}
	for _, n := range f.serverNACKs() {
		nodes[n.node] = true
		if !strings.Contains(n.detail, `unknown policy "noSuchPolicy"`) || n.version == "" {
			t.Errorf("NACK from %s: version %q detail %q", n.node, n.version, n.detail)
		}
	}
	if !nodes["engine-0"] || !nodes["engine-1"] {
		t.Errorf("NACKs came from %v, want both engines", nodes)
	}
	// The server must not resend the rejected version in a loop.
	time.Sleep(200 * time.Millisecond)
	for i, c := range counters {
		if got := c.NACKs.Load(); got != 1 {
			t.Errorf("engine-%d NACKs = %d, want exactly 1 (no resend loop)", i, got)
		}
	}
	both("last good config after NACK", "default", "api", "admin")

	// A file that is not even a config document is not published at all.
	f.publish("routes: {not: a list}\n")
	testproc.Eventually(t, "invalid file reported", 5*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.invalid == 1
	})
	time.Sleep(100 * time.Millisecond)
	for i, c := range counters {
		if c.NACKs.Load() != 1 || c.Updates.Load() != 2 {
			t.Errorf("engine-%d saw the unpublishable file: %d NACKs, %d updates", i, c.NACKs.Load(), c.Updates.Load())
		}
	}

	// Server restart: the subscribers reconnect and pick up what changed meanwhile.
	f.stopServer()
	f.startServer(t, config("default", "v3"))
	both("config from the restarted server", "default", "v3")
	for i, c := range counters {
		if c.Reconnects.Load() == 0 {
			t.Errorf("engine-%d never reconnected", i)
		}
	}
}
