// Package testproc is what the engine's tests share to run servers on loopback and
// wait for them: free ports, a policy-engine binary started on them and stopped by
// its own pid, polling for a condition and rewriting a watched file.
package testproc

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/sandbox"
)

// FreeAddr returns a loopback address with a port nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := sandbox.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// pollInterval is short so that waits in unit tests stay fast, and long enough
// that polling a process's HTTP endpoints does not load it.
const pollInterval = 10 * time.Millisecond

// Eventually polls cond until it holds and fails the test if it does not within
// the given time; what names the condition in the failure.
func Eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(pollInterval)
	}
}

// WriteFile replaces path with content by writing beside it and renaming, as
// editors and ConfigMaps do: a watcher never reads half a file.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// StartTimeout bounds a start-up wait: generous, so a busy machine does not fail a
// suite.
const StartTimeout = 30 * time.Second

// Engine is a policy-engine binary serving on free loopback ports.
type Engine struct {
	*sandbox.Process
	Extproc, Admin, Debug string
}

// StartEngine runs "bin serve" with flags on free loopback ports until /readyz says
// a configuration is in force. On cleanup it is stopped by its pid and must exit
// cleanly.
func StartEngine(t testing.TB, bin string, flags ...string) *Engine {
	t.Helper()
	e := &Engine{Extproc: FreeAddr(t), Admin: FreeAddr(t), Debug: FreeAddr(t)}
	args := append([]string{"serve", "--listen", e.Extproc, "--admin", e.Admin, "--debug", e.Debug,
		"--reload-interval", "100ms"}, flags...)
	p, err := sandbox.Start("engine", nil, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	e.Process = p
	t.Cleanup(func() {
		if err := p.Stop(20 * time.Second); err != nil {
			t.Errorf("engine did not stop cleanly: %v\n%s", err, p.Log)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := sandbox.WaitHTTP(ctx, p, "http://"+e.Admin+"/readyz"); err != nil {
		t.Fatal(err)
	}
	return e
}
