package devproxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
)

// handler answers one ext_proc message. A nil response with nil error closes the
// stream cleanly; an error closes it with that error.
type handler func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error)

// fakeProcessor is an ext_proc server on real gRPC that records every message.
type fakeProcessor struct {
	extprocv3.UnimplementedExternalProcessorServer
	handle handler
	mu     sync.Mutex
	seen   []*extprocv3.ProcessingRequest
}

func (f *fakeProcessor) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.seen = append(f.seen, req)
		f.mu.Unlock()
		resp, err := f.handle(req)
		if err != nil || resp == nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (f *fakeProcessor) messages() []*extprocv3.ProcessingRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*extprocv3.ProcessingRequest(nil), f.seen...)
}

// kinds names the messages the processor saw, in order, e.g. "request_headers".
func (f *fakeProcessor) kinds() []string {
	var out []string
	for _, m := range f.messages() {
		out = append(out, string(m.ProtoReflect().WhichOneof(m.ProtoReflect().Descriptor().Oneofs().ByName("request")).Name()))
	}
	return out
}

// upstreamHit is what the upstream saw.
type upstreamHit struct {
	path   string
	host   string
	header http.Header
	body   string
	length int64
}

type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	hits []upstreamHit
}

func newUpstream(t *testing.T, name string) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.hits = append(u.hits, upstreamHit{r.URL.RequestURI(), r.Host, r.Header.Clone(), string(b), r.ContentLength})
		u.mu.Unlock()
		w.Header().Set("X-Upstream", name)
		w.Header().Set("X-Envoy-Upstream-Service-Time", "1")
		_, _ = io.WriteString(w, name+" saw "+r.URL.Path+" "+string(b))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) seen() []upstreamHit {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamHit(nil), u.hits...)
}

func (u *upstream) url(t *testing.T) *url.URL {
	p, err := url.Parse(u.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// env is one test's proxy, processor and upstream, all on loopback.
type env struct {
	proxy *httptest.Server
	proc  *fakeProcessor
	up    *upstream
}

// start wires a proxy configured by cfg (ExtProc and, if unset, Upstream filled in)
// to a fake processor answering with h.
func start(t *testing.T, cfg Config, h handler) *env {
	t.Helper()
	proc := &fakeProcessor{handle: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, proc)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)

	up := newUpstream(t, "default")
	if cfg.Upstream == nil {
		cfg.Upstream = up.url(t)
	}
	cfg.ExtProc = ln.Addr().String()
	if cfg.MessageTimeout == 0 {
		// Generous under -race on a busy machine; the default is checked in
		// TestEnvoyDefaults and timeouts in TestProcessorFailures.
		cfg.MessageTimeout = 2 * time.Second
	}
	p, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	return &env{proxy: ps, proc: proc, up: up}
}

type result struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(t *testing.T, method, path, body string, hdr map[string]string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.proxy.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

// cont answers every message with a plain CONTINUE of the matching type.
func cont(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	return answerWith(req, &extprocv3.CommonResponse{}), nil
}

// reply builds the matching response type for req carrying c.
func answerWith(req *extprocv3.ProcessingRequest, c *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	switch req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{Response: c}}}
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{Response: c}}}
	case *extprocv3.ProcessingRequest_RequestBody:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{Response: c}}}
	case *extprocv3.ProcessingRequest_ResponseBody:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{Response: c}}}
	}
	panic("unexpected message")
}

func setHeader(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, RawValue: []byte(v)},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}
}

// header returns the first raw value of name in a message's header map.
func header(m *corev3.HeaderMap, name string) (string, bool) {
	for _, h := range m.GetHeaders() {
		if h.GetKey() == name {
			return string(h.GetRawValue()), true
		}
	}
	return "", false
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}
