// Package testproc is what the engine's tests share to run servers on loopback and
// talk to them: free ports, a policy-engine binary started on them and stopped by
// its own pid, HTTP requests, polling for a condition and rewriting a watched file.
package testproc

import (
	"context"
	"io"
	"net/http"
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

// Do sends one request with header's name, value pairs and returns the response
// with its body read.
func Do(t testing.TB, method, url string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// StartTimeout bounds a start-up wait: generous, so a busy machine does not fail a
// suite.
const StartTimeout = 30 * time.Second

// StartEngine runs "bin serve" with flags on free loopback ports until a
// configuration is in force. On cleanup it is stopped by its pid and must exit
// cleanly.
func StartEngine(t testing.TB, bin string, flags ...string) *sandbox.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	e, err := sandbox.StartEngine(ctx, bin, nil, append([]string{"--reload-interval", "100ms"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(20 * time.Second); err != nil {
			t.Errorf("engine did not stop cleanly: %v\n%s", err, e.Log)
		}
	})
	return e
}
