package kernel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/policy-engine-builder/policy-engine/pkg/metrics"
	"github.com/policy-engine-builder/policy-engine/worker/core"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Test policies, registered in test code only.

type authPolicy struct{}

func (authPolicy) Name() string                  { return "auth" }
func (authPolicy) Validate(map[string]any) error { return nil }
func (authPolicy) ExecuteRequest(ctx *policies.RequestContext, cfg map[string]any) *policies.RequestPolicyAction {
	if ctx.Headers.Get(cfg["header"].(string)) != cfg["key"].(string) {
		return &policies.RequestPolicyAction{Immediate: &policies.ImmediateResponse{
			Status:  401,
			Headers: map[string]string{"WWW-Authenticate": "ApiKey", "content-type": "text/plain"},
			Body:    []byte("missing or invalid key"),
			Details: "auth failed",
		}}
	}
	ctx.Shared["user"] = "alice"
	return &policies.RequestPolicyAction{Headers: policies.HeaderChanges{Set: map[string]string{"x-user": "alice"}}}
}

// editPolicy applies whatever changes its parameters list.
type editPolicy struct{}

func (editPolicy) Name() string                  { return "edit" }
func (editPolicy) Validate(map[string]any) error { return nil }
func (editPolicy) ExecuteRequest(ctx *policies.RequestContext, cfg map[string]any) *policies.RequestPolicyAction {
	a := &policies.RequestPolicyAction{Headers: policies.HeaderChanges{Set: map[string]string{}, Append: map[string][]string{}}}
	for k, v := range cfg["set"].(map[string]any) {
		a.Headers.Set[k] = v.(string)
	}
	for k, v := range cfg["append"].(map[string]any) {
		a.Headers.Append[k] = []string{v.(string)}
	}
	for _, v := range cfg["remove"].([]any) {
		a.Headers.Remove = append(a.Headers.Remove, v.(string))
	}
	if p, ok := cfg["path"].(string); ok {
		a.Path = p
	}
	if m, ok := cfg["method"].(string); ok {
		a.Method = m
	}
	if b, ok := cfg["body"].(string); ok {
		a.Body = &policies.BodyChange{Content: []byte(b)}
	}
	return a
}

// bodyPolicy needs the request body: it refuses "evil" bodies and reports the size.
type bodyPolicy struct{}

func (bodyPolicy) Name() string                  { return "body" }
func (bodyPolicy) Validate(map[string]any) error { return nil }
func (bodyPolicy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]any) *policies.RequestPolicyAction {
	if strings.Contains(string(ctx.Body), "evil") {
		return policies.Deny(400, "evil body")
	}
	return policies.SetRequestHeaders(map[string]string{"x-body": string(ctx.Body)})
}

// respPolicy changes the response status and headers, and with body set, the body.
type respPolicy struct{}

func (respPolicy) Name() string                  { return "resp" }
func (respPolicy) Validate(map[string]any) error { return nil }
func (respPolicy) ExecuteResponse(ctx *policies.ResponseContext, cfg map[string]any) *policies.ResponsePolicyAction {
	user, _ := ctx.Shared["user"].(string)
	a := &policies.ResponsePolicyAction{Headers: policies.HeaderChanges{Set: map[string]string{
		"x-upstream-status": ctx.Headers.Get(":status"),
		"x-user-seen":       user,
	}}}
	if s, ok := cfg["status"].(float64); ok {
		a.Status = int(s)
	}
	if ctx.Body != nil {
		a.Body = &policies.BodyChange{Content: []byte(strings.ToUpper(string(ctx.Body)))}
	}
	return a
}

// faultPolicy misbehaves as told.
type faultPolicy struct{}

func (faultPolicy) Name() string                  { return "fault" }
func (faultPolicy) Validate(map[string]any) error { return nil }
func (faultPolicy) ExecuteRequest(ctx *policies.RequestContext, cfg map[string]any) *policies.RequestPolicyAction {
	switch cfg["do"] {
	case "panic":
		panic("fault policy panics")
	case "slow":
		time.Sleep(500 * time.Millisecond)
	case "error":
		return policies.Fail(errors.New("dependency unavailable"))
	}
	return nil
}

const (
	authSpec = `name: auth
version: v1.0.0
parameters:
  - {name: header, type: string, default: x-api-key}
  - {name: key, type: string, required: true}
`
	editSpec = `name: edit
version: v1.0.0
parameters:
  - {name: set, type: object, default: {}}
  - {name: append, type: object, default: {}}
  - {name: remove, type: array, items: {type: string}, default: []}
  - {name: path, type: string}
  - {name: method, type: string}
  - {name: body, type: string}
`
	bodySpec  = "name: body\nversion: v1.0.0\nrequiresRequestBody: true\n"
	respSpec  = "name: resp\nversion: v1.0.0\nsupportsRequestPhase: false\nsupportsResponsePhase: true\nparameters: [{name: status, type: integer}]\n"
	resp2Spec = "name: resp\nversion: v2.0.0\nsupportsRequestPhase: false\nsupportsResponsePhase: true\nrequiresResponseBody: true\n"
	faultSpec = "name: fault\nversion: v1.0.0\ntimeout: 50ms\nparameters: [{name: do, type: string, enum: [panic, slow, error]}]\n"
)

func testRegistry(t testing.TB) *core.Registry {
	reg := core.NewRegistry()
	add := func(name, version, spec string, p policies.Policy) {
		err := reg.Register(core.PolicyDefinition{Name: name, Version: version, Spec: []byte(spec),
			Factory: func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) { return p, nil }})
		if err != nil {
			t.Fatal(err)
		}
	}
	add("auth", "v1.0.0", authSpec, authPolicy{})
	add("edit", "v1.0.0", editSpec, editPolicy{})
	add("body", "v1.0.0", bodySpec, bodyPolicy{})
	add("resp", "v1.0.0", respSpec, respPolicy{})
	add("resp", "v2.0.0", resp2Spec, respPolicy{})
	add("fault", "v1.0.0", faultSpec, faultPolicy{})
	return reg
}

type engine struct {
	store   *core.ConfigStore
	client  extprocv3.ExternalProcessorClient
	metrics *prometheus.Registry
	logs    *strings.Builder
}

type syncWriter struct {
	mu chan struct{}
	b  *strings.Builder
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu <- struct{}{}
	defer func() { <-w.mu }()
	return w.b.Write(p)
}

// startEngine serves the ext_proc service over an in-memory gRPC connection.
// config may be empty to start without configuration.
func startEngine(t testing.TB, config string) *engine {
	t.Helper()
	logs := &strings.Builder{}
	logger := slog.New(slog.NewTextHandler(syncWriter{mu: make(chan struct{}, 1), b: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	promReg := prometheus.NewRegistry()
	m := metrics.New(promReg)
	store := core.NewConfigStore(core.NewCatalog(testRegistry(t)), logger, m)
	if config != "" {
		if err := store.Apply([]byte(config), "test.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	srv := &Server{Store: store, Executor: &core.Executor{Logger: logger, Observer: m}, Metrics: m, Logger: logger}
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
	})
	return &engine{store: store, client: extprocv3.NewExternalProcessorClient(conn), metrics: promReg, logs: logs}
}

// stream plays Envoy on one ext_proc stream.
type stream struct {
	t testing.TB
	s extprocv3.ExternalProcessor_ProcessClient
}

func (e *engine) open(t testing.TB) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	s, err := e.client.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &stream{t: t, s: s}
}

func (s *stream) send(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	s.t.Helper()
	if err := s.s.Send(req); err != nil {
		s.t.Fatal(err)
	}
	resp, err := s.s.Recv()
	if err != nil {
		s.t.Fatal(err)
	}
	return resp
}

func (s *stream) close() {
	s.t.Helper()
	if err := s.s.CloseSend(); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.s.Recv(); !errors.Is(err, io.EOF) {
		s.t.Fatalf("stream did not end cleanly: %v", err)
	}
}

// requestHeaders builds what Envoy sends: values in raw_value and the route name
// in the filter's attributes.
func requestHeaders(route string, endOfStream bool, kv ...string) *extprocv3.ProcessingRequest {
	req := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(kv...), EndOfStream: endOfStream},
	}}
	if route != "" {
		attrs, _ := structpb.NewStruct(map[string]any{"xds.route_name": route, "source.address": "10.0.0.1:5555"})
		req.Attributes = map[string]*structpb.Struct{"envoy.filters.http.ext_proc": attrs}
	}
	return req
}

func headerMap(kv ...string) *corev3.HeaderMap {
	hm := &corev3.HeaderMap{}
	base := []string{":method", "GET", ":path", "/orders", ":authority", "shop.example", ":scheme", "https"}
	all := append(base, kv...)
	for i := 0; i+1 < len(all); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: all[i], RawValue: []byte(all[i+1])})
	}
	return hm
}

func requestBody(body string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: eos}}}
}

func responseHeaders(status string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &extprocv3.HttpHeaders{EndOfStream: eos, Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: ":status", RawValue: []byte(status)}, {Key: "content-type", RawValue: []byte("text/plain")},
		}}}}}
}

func responseBody(body string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
		ResponseBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: eos}}}
}

// setHeaders returns the headers a CommonResponse sets, name → value ("+" prefix
// for appended values).
func setHeaders(c *extprocv3.CommonResponse) map[string]string {
	out := map[string]string{}
	for _, h := range c.GetHeaderMutation().GetSetHeaders() {
		v := string(h.GetHeader().GetRawValue())
		if h.GetAppendAction() == corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			v = "+" + v
		}
		out[h.GetHeader().GetKey()] = v
	}
	return out
}

func immediateHeaders(r *extprocv3.ImmediateResponse) map[string]string {
	out := map[string]string{}
	for _, h := range r.GetHeaders().GetSetHeaders() {
		out[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue())
	}
	return out
}

// metricValue reads one counter or gauge from the engine's registry; labels are
// name=value pairs that must all match.
func (e *engine) metricValue(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	families, err := e.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for _, kv := range labels {
				k, v, _ := strings.Cut(kv, "=")
				if have[k] != v {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
