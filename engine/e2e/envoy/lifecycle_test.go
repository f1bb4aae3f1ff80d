//go:build envoy

package envoy

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
)

// A chain that any request to /api passes with the key; its header shows which
// configuration answered.
const lifecycleConfig = `
routes:
  - name: api
    policies:
      - {name: apiKey, version: v1.0.0, parameters: {keys: [k1]}}
      - {name: setHeaders, version: v1.0.0, parameters: {headers: {x-config: "%s"}}}
phaseTimeout: %s
`

// lifecycleFile writes lifecycleConfig with the given x-config value and phase
// timeout to a new file and returns its path.
func lifecycleFile(t *testing.T, version, phaseTimeout string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "engine.yaml")
	testproc.WriteFile(t, path, fmt.Sprintf(lifecycleConfig, version, phaseTimeout))
	return path
}

func apiRequest(url string) func() (*http.Request, error) {
	return func() (*http.Request, error) {
		req, err := http.NewRequest("GET", url+"/api/items", nil)
		if err == nil {
			req.Header.Set("x-api-key", "k1")
		}
		return req, err
	}
}

// configSeen is the x-config header the upstream received for one request.
func configSeen(t *testing.T, s *stack) string {
	t.Helper()
	resp, body := testproc.Do(t, "GET", s.url+"/api/items", nil, "x-api-key", "k1")
	if resp.StatusCode != 200 {
		return fmt.Sprintf("status %d", resp.StatusCode)
	}
	return get(seen(t, body).Headers, "x-config")
}

func TestFailClosedWhenTheEngineIsDown(t *testing.T) {
	bin, _ := binaries(t)
	config := lifecycleFile(t, "one", "180ms")
	e := startEngine(t, bin, "--config", config)
	s := envoyFor(t, config, []string{e.Extproc}, 200*time.Millisecond, "/api=api")
	if got := configSeen(t, s); got != "one" {
		t.Fatalf("before: %s", got)
	}
	if err := e.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	n := s.echo.Count()
	for range 3 {
		resp, body := testproc.Do(t, "GET", s.url+"/api/items", nil, "x-api-key", "k1")
		if resp.StatusCode != 500 {
			t.Errorf("engine down: %d %s, want 500 (fail closed)", resp.StatusCode, body)
		}
	}
	if s.echo.Count() != n {
		t.Error("a request reached the upstream while the engine was down")
	}
}

func TestFailClosedWhenTheEngineIsTooSlow(t *testing.T) {
	bin, _ := binaries(t)
	// message_timeout is phaseTimeout + 100ms = 600ms.
	config := lifecycleFile(t, "one", "500ms")
	e := startEngine(t, bin, "--config", config)
	// Health checks far apart, so that the request meets a stopped engine, not
	// one already marked down.
	s := envoyFor(t, config, []string{e.Extproc}, time.Hour, "/api=api")
	if got := configSeen(t, s); got != "one" {
		t.Fatalf("before: %s", got)
	}
	// A stopped process accepts nothing and answers nothing: slower than any policy.
	if err := e.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// kill(2) returns before every thread has stopped; a request sent in that window
	// is answered by a still-running engine (seen as a 200 on a busy machine).
	testproc.Eventually(t, "the engine's threads to stop", testproc.StartTimeout, func() bool { return stopped(t, e.Pid()) })
	n := s.echo.Count()
	start := time.Now()
	resp, body := testproc.Do(t, "GET", s.url+"/api/items", nil, "x-api-key", "k1")
	took := time.Since(start)
	if err := e.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 504 || s.echo.Count() != n {
		t.Errorf("engine too slow: %d %s after %v, reached upstream %v; want 504 (fail closed)", resp.StatusCode, body, took, s.echo.Count() != n)
	}
	if took < 500*time.Millisecond {
		t.Errorf("answered after %v, before the engine could have run out of time", took)
	}
}

// changeUnderTraffic rewrites config from version "one" to "two" while requests
// flow through s, waits until Envoy's answers show it (what names that in a failure)
// and fails the test on any request that failed meanwhile.
func changeUnderTraffic(t *testing.T, s *stack, config, what string) {
	t.Helper()
	tr := startTraffic(t, 8, apiRequest(s.url))
	time.Sleep(300 * time.Millisecond)
	testproc.WriteFile(t, config, fmt.Sprintf(lifecycleConfig, "two", "2s"))
	testproc.Eventually(t, what, testproc.StartTimeout, func() bool { return configSeen(t, s) == "two" })
	time.Sleep(300 * time.Millisecond)
	tr.finish(t)
}

func TestReloadUnderTraffic(t *testing.T) {
	bin, _ := binaries(t)
	config := lifecycleFile(t, "one", "2s")
	e := startEngine(t, bin, "--config", config)
	s := envoyFor(t, config, []string{e.Extproc}, time.Second, "/api=api")
	changeUnderTraffic(t, s, config, "the reloaded configuration")
}

func TestXDSPushUnderTraffic(t *testing.T) {
	bin, _ := binaries(t)
	config := lifecycleFile(t, "one", "2s")
	xdsAddr := testproc.FreeAddr(t)
	startEngine(t, bin, "--config", config, "--xds-listen", xdsAddr)
	// The engine behind Envoy takes its configuration from the other over xDS only.
	sub := startEngine(t, bin, "--xds-server", xdsAddr, "--node-id", "e2e")
	s := envoyFor(t, config, []string{sub.Extproc}, time.Second, "/api=api")
	if got := configSeen(t, s); got != "one" {
		t.Fatalf("before: %s", got)
	}
	changeUnderTraffic(t, s, config, "the pushed configuration")
}

func TestSIGTERMDrainUnderTraffic(t *testing.T) {
	bin, _ := binaries(t)
	config := lifecycleFile(t, "one", "2s")
	// Health checks every 200ms; each engine keeps serving 1s after SIGTERM.
	flags := []string{"--config", config, "--drain-delay", "1s"}
	a := startEngine(t, bin, flags...)
	b := startEngine(t, bin, flags...)
	s := envoyFor(t, config, []string{a.Extproc, b.Extproc}, 200*time.Millisecond, "/api=api")
	s.waitHealthy(t, 2)
	tr := startTraffic(t, 8, apiRequest(s.url))
	time.Sleep(500 * time.Millisecond)
	before := tr.ok.Load()
	if err := a.Stop(20 * time.Second); err != nil {
		t.Fatalf("first engine: %v\n%s", err, a.Log)
	}
	s.waitHealthy(t, 1)
	time.Sleep(500 * time.Millisecond)
	if tr.ok.Load() == before {
		t.Error("no request succeeded after the drain")
	}
	tr.finish(t)
}

// stopped reports whether every thread of pid is in the stopped state (T in
// /proc/PID/task/TID/stat, the field after the parenthesised command name).
func stopped(t *testing.T, pid int) bool {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	for _, f := range stats {
		raw, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		i := bytes.LastIndexByte(raw, ')')
		if i < 0 || i+2 >= len(raw) || raw[i+2] != 'T' {
			return false
		}
	}
	return true
}
