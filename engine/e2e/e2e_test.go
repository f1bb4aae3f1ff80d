//go:build e2e

// Package e2e tests a real policy-engine binary, built with the example policies
// apiKey:v1.0.0 and setHeaders:v1.0.0 compiled in, over a real gRPC connection; the
// xDS tests run a fleet of the binary (one server, two subscribers) on loopback.
// The suite through a real Envoy is in ./envoy.
//
//	POLICY_ENGINE_BIN=output/policy-engine go test -tags e2e ./e2e/
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/policy-engine-builder/policy-engine/internal/testproc"
	"github.com/policy-engine-builder/policy-engine/sandbox"
)

const configTemplate = `routes:
  - name: e2e-route
    policies:
      - name: apiKey
        version: v1.0.0
        parameters:
          keys: [e2e-secret]
      - name: setHeaders
        version: v1.0.0
        parameters:
          headers: {x-e2e: %s}
`

func binary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("POLICY_ENGINE_BIN")
	if bin == "" {
		t.Fatal("POLICY_ENGINE_BIN must name a policy-engine binary built with apiKey:v1.0.0 and setHeaders:v1.0.0")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("POLICY_ENGINE_BIN: %v", err)
	}
	return abs
}

// engine is a running policy-engine binary; config is the file it was started
// with, for tests that rewrite it ("" when it takes its configuration over xDS).
type engine struct {
	*sandbox.Engine
	config string
}

// start runs the binary with config and waits until it is ready.
func start(t *testing.T, bin, config string) *engine {
	t.Helper()
	return startWith(t, bin, config, "--config", config)
}

// startWith runs "bin serve" with extra flags (config is only recorded) and waits
// until /readyz says a configuration is in force. It logs JSON so that tests can
// search its log.
func startWith(t *testing.T, bin, config string, flags ...string) *engine {
	t.Helper()
	return &engine{Engine: testproc.StartEngine(t, bin, append([]string{"--log-format", "json"}, flags...)...), config: config}
}

// connect opens a plaintext gRPC connection to addr, closed on cleanup.
func connect(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func dial(t *testing.T, addr string) extprocv3.ExternalProcessorClient {
	t.Helper()
	return extprocv3.NewExternalProcessorClient(connect(t, addr))
}

// process sends request headers the way Envoy does (raw_value, route name in the
// ext_proc filter's attributes) and returns the engine's answer.
func process(t *testing.T, c extprocv3.ExternalProcessorClient, route string, headers ...string) *extprocv3.ProcessingResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := c.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hm := &corev3.HeaderMap{}
	kv := append([]string{":method", "GET", ":path", "/e2e", ":authority", "e2e.local", ":scheme", "http"}, headers...)
	for i := 0; i+1 < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	attrs, err := structpb.NewStruct(map[string]any{"xds.route_name": route})
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&extprocv3.ProcessingRequest{
		Request:    &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: hm, EndOfStream: true}},
		Attributes: map[string]*structpb.Struct{"envoy.filters.http.ext_proc": attrs},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	return resp
}

func healthStatus(t *testing.T, addr string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(connect(t, addr)).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetStatus()
}

func headerSet(resp *extprocv3.ProcessingResponse) map[string]string {
	out := map[string]string{}
	for _, h := range resp.GetRequestHeaders().GetResponse().GetHeaderMutation().GetSetHeaders() {
		out[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue())
	}
	return out
}

func TestVersionListsPolicies(t *testing.T) {
	out, err := exec.Command(binary(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "policy-engine ") || !strings.Contains(lines[0], "commit ") {
		t.Fatalf("unexpected --version output:\n%s", out)
	}
	for _, p := range []string{"apiKey:v1.0.0", "setHeaders:v1.0.0"} {
		if !strings.Contains(lines[1], p) {
			t.Errorf("--version does not list %s:\n%s", p, out)
		}
	}
}

func TestExtProcDecisions(t *testing.T) {
	config := filepath.Join(t.TempDir(), "engine.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(configTemplate, "first")), 0o600); err != nil {
		t.Fatal(err)
	}
	e := start(t, binary(t), config)
	if !strings.Contains(e.Log.String(), "Loaded ") || !strings.Contains(e.Log.String(), "apiKey:v1.0.0") {
		t.Errorf("start-up log does not list the policies:\n%s", e.Log)
	}
	c := dial(t, e.Extproc)
	if st := healthStatus(t, e.Extproc); st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health on the ext_proc port: %v, want SERVING", st)
	}

	resp := process(t, c, "e2e-route")
	if code := resp.GetImmediateResponse().GetStatus().GetCode(); code != 401 {
		t.Fatalf("no key: want immediate 401, got %v", resp)
	}
	resp = process(t, c, "e2e-route", "x-api-key", "wrong")
	if code := resp.GetImmediateResponse().GetStatus().GetCode(); code != 401 {
		t.Fatalf("wrong key: want immediate 401, got %v", resp)
	}

	resp = process(t, c, "e2e-route", "x-api-key", "e2e-secret")
	if resp.GetRequestHeaders() == nil || resp.GetRequestHeaders().GetResponse().GetStatus() != extprocv3.CommonResponse_CONTINUE {
		t.Fatalf("valid key: want CONTINUE, got %v", resp)
	}
	if got := headerSet(resp)["x-e2e"]; got != "first" {
		t.Errorf("valid key: x-e2e = %q, want first (mutation %v)", got, headerSet(resp))
	}

	resp = process(t, c, "unknown-route", "x-api-key", "e2e-secret")
	if code := resp.GetImmediateResponse().GetStatus().GetCode(); code != 403 {
		t.Errorf("unknown route: want the default deny (403), got %v", resp)
	}

	// Hot reload: a changed file is picked up; an invalid one is refused.
	if err := os.WriteFile(e.config, []byte(fmt.Sprintf(configTemplate, "second")), 0o600); err != nil {
		t.Fatal(err)
	}
	waitForHeader(t, c, "second")
	if err := os.WriteFile(e.config, []byte("routes: [{name: e2e-route, policies: [{name: apiKey, version: v9.9.9}]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testproc.Eventually(t, "the invalid config reported", 5*time.Second, func() bool {
		return strings.Contains(e.Log.String(), "configuration rejected")
	})
	if got := headerSet(process(t, c, "e2e-route", "x-api-key", "e2e-secret"))["x-e2e"]; got != "second" {
		t.Errorf("after a rejected reload: x-e2e = %q, want the last good value", got)
	}
	for _, url := range []string{e.Admin + "/metrics", e.Debug + "/policies", e.Debug + "/config_dump", e.Admin + "/healthz"} {
		resp, err := http.Get("http://" + url)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %v %v", url, err, resp)
			continue
		}
		resp.Body.Close()
	}
}

func waitForHeader(t *testing.T, c extprocv3.ExternalProcessorClient, want string) {
	t.Helper()
	testproc.Eventually(t, "x-e2e: "+want, 5*time.Second, func() bool {
		return headerSet(process(t, c, "e2e-route", "x-api-key", "e2e-secret"))["x-e2e"] == want
	})
}

// The shipped example configuration must load with the real example policies.
func TestExampleConfigLoads(t *testing.T) {
	e := start(t, binary(t), filepath.Join("..", "..", "examples", "engine-config.yaml"))
	c := dial(t, e.Extproc)
	resp := process(t, c, "orders", "x-api-key", "demo-key-1")
	if got := headerSet(resp)["x-gateway"]; got != "policy-engine" {
		t.Errorf("orders with a demo key: %v", resp)
	}
	resp = process(t, c, "unknown-route")
	if got := headerSet(resp)["x-public"]; got != "yes" {
		t.Errorf("unknown route must use the default route: %v", resp)
	}
}
