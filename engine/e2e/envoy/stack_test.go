//go:build envoy

// Package envoy is the end-to-end suite through a real Envoy: a policy-engine binary
// built with the example policies and the test-only ones in testdata/policies, the
// Envoy configuration that binary generates (envoy-config), a real Envoy and echo
// upstreams, all on loopback:
//
//	POLICY_ENGINE_BIN=.build/envoy/policy-engine ENVOY_BIN=.venv/bin/envoy go test -tags envoy ./e2e/envoy/
package envoy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
	"github.com/policy-engine-builder/policy-engine/sandbox"
)

func binaries(t *testing.T) (engine, envoy string) {
	t.Helper()
	for _, v := range []string{"POLICY_ENGINE_BIN", "ENVOY_BIN"} {
		if os.Getenv(v) == "" {
			t.Fatalf("%s must be set (make test-envoy sets both)", v)
		}
	}
	engine, err := filepath.Abs(os.Getenv("POLICY_ENGINE_BIN"))
	if err != nil {
		t.Fatal(err)
	}
	envoy, err = exec.LookPath(os.Getenv("ENVOY_BIN"))
	if err != nil {
		t.Fatal(err)
	}
	return engine, envoy
}

// startEngine runs an engine with flags until it is ready, logging warnings only.
func startEngine(t *testing.T, bin string, flags ...string) *sandbox.Engine {
	t.Helper()
	return testproc.StartEngine(t, bin, append([]string{"--log-level", "warn"}, flags...)...)
}

// stack is Envoy in front of engines, with echo upstreams.
type stack struct {
	url   string
	envoy *sandbox.Envoy
	echo  *sandbox.Echo
	// other is the upstream of routes that name it (route recomputation).
	other *sandbox.Echo
}

// envoyFor generates the Envoy configuration with the engine binary itself and starts
// Envoy on it. routes are envoy-config --route values; "OTHER" in one stands for the
// second upstream's address.
func envoyFor(t *testing.T, config string, engines []string, hcInterval time.Duration, routes ...string) *stack {
	t.Helper()
	return envoyWith(t, config, engines, hcInterval, nil, routes...)
}

// envoyWith is envoyFor with extra envoy-config flags.
func envoyWith(t *testing.T, config string, engines []string, hcInterval time.Duration, extra []string, routes ...string) *stack {
	t.Helper()
	bin, envoyBin := binaries(t)
	s := &stack{}
	var err error
	if s.echo, err = sandbox.StartEcho("echo"); err != nil {
		t.Fatal(err)
	}
	if s.other, err = sandbox.StartEcho("other"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.echo.Close(); s.other.Close() })
	listen, admin := testproc.FreeAddr(t), testproc.FreeAddr(t)
	args := []string{"envoy-config", "--config", config, "--listen", listen, "--admin", admin,
		"--upstream", s.echo.Addr, "--health-check-interval", hcInterval.String()}
	args = append(args, extra...)
	for _, e := range engines {
		args = append(args, "--engine", e)
	}
	for _, r := range routes {
		args = append(args, "--route", strings.ReplaceAll(r, "OTHER", s.other.Addr))
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("envoy-config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testproc.StartTimeout)
	defer cancel()
	s.envoy, err = sandbox.StartEnvoy(ctx, envoyBin, t.TempDir(), out, admin, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.envoy.Stop(20 * time.Second); err != nil {
			t.Logf("envoy: %v\n%s", err, s.envoy.Log)
		}
	})
	s.url = "http://" + listen
	return s
}

// waitHealthy waits until Envoy counts n healthy engines.
func (s *stack) waitHealthy(t *testing.T, n int) {
	t.Helper()
	want := fmt.Sprintf("cluster.policy_engine.membership_healthy: %d", n)
	testproc.Eventually(t, want, testproc.StartTimeout, func() bool {
		resp, err := http.Get("http://" + s.envoy.Admin + "/stats?filter=policy_engine.membership_healthy")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), want)
	})
}

// traffic keeps workers sending req until stopped; every answer that is not 200 is
// a failure.
type traffic struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	mu       sync.Mutex
	first    string
}

func startTraffic(t *testing.T, workers int, req func() (*http.Request, error)) *traffic {
	t.Helper()
	tr := &traffic{stop: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second}
	for range workers {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for {
				select {
				case <-tr.stop:
					return
				default:
				}
				r, err := req()
				if err != nil {
					tr.failed(err.Error())
					return
				}
				resp, err := client.Do(r)
				if err != nil {
					tr.failed(err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					tr.failed(fmt.Sprintf("%d %s", resp.StatusCode, body))
					continue
				}
				tr.ok.Add(1)
			}
		}()
	}
	return tr
}

func (tr *traffic) failed(what string) {
	tr.fail.Add(1)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.first == "" {
		tr.first = what
	}
}

// finish stops the workers and fails the test on any failed request.
func (tr *traffic) finish(t *testing.T) {
	t.Helper()
	close(tr.stop)
	tr.wg.Wait()
	if tr.fail.Load() > 0 || tr.ok.Load() == 0 {
		t.Errorf("%d requests failed (first: %s), %d succeeded", tr.fail.Load(), tr.first, tr.ok.Load())
	} else {
		t.Logf("%d requests under way, none failed", tr.ok.Load())
	}
}
