package kernel

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/policy-engine-builder/policy-engine/pkg/metrics"
	"github.com/policy-engine-builder/policy-engine/worker/core"
)

const fuzzConfig = phasesConfig + `  - name: orders
    policies:
      - {name: auth, version: v1.0.0, parameters: {key: good}}
      - {name: edit, version: v1.0.0, parameters: {set: {X-A: "1", host: h}, append: {x-b: "2"}, remove: [x-c, ":path"], path: /p, body: "b"}}
      - {name: resp, version: v1.0.0, parameters: {status: 203}, when: 'response.status == 200'}
routeMetadata: {namespace: ns, key: chain}
`

func fuzzServer(t testing.TB) *Server {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New(prometheus.NewRegistry())
	store := core.NewConfigStore(core.NewCatalog(testRegistry(t)), logger, m)
	if err := store.Apply([]byte(fuzzConfig), "fuzz"); err != nil {
		t.Fatal(err)
	}
	return &Server{Store: store, Executor: &core.Executor{Logger: logger, Observer: m}, Metrics: m, Logger: logger}
}

func seedMessages() [][]byte {
	msgs := []*extprocv3.ProcessingRequest{
		requestHeaders("upload", false, "x-api-key", "good"),
		requestBody("hello", true),
		responseHeaders("200", false),
		responseBody("done", true),
		requestHeaders("orders", true, "x-api-key", "good"),
		requestHeaders("orders", true),
	}
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i], _ = proto.Marshal(m)
	}
	return out
}

// FuzzAttributesAndHeaders feeds arbitrary ProcessingRequests to the attribute,
// header and route-metadata parsing: it must never panic.
func FuzzAttributesAndHeaders(f *testing.F) {
	for _, s := range seedMessages() {
		f.Add(s)
	}
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var req extprocv3.ProcessingRequest
		if proto.Unmarshal(data, &req) != nil {
			return
		}
		attrs := readAttributes(&req)
		_, _ = selectChain(srv.Store.Current(), attrs, req.GetMetadataContext())
		_ = headersOf(req.GetRequestHeaders().GetHeaders())
		_ = headersOf(req.GetResponseHeaders().GetHeaders())
	})
}

// FuzzMessageSequence plays arbitrary sequences of Envoy messages on one stream's
// processor: every message with a phase gets exactly one response, of the
// matching type or an immediate response, and nothing panics.
func FuzzMessageSequence(f *testing.F) {
	seeds := seedMessages()
	f.Add(frame(seeds[0], seeds[1], seeds[2], seeds[3]))
	f.Add(frame(seeds[4], seeds[2]))
	f.Add(frame(seeds[5], seeds[1], seeds[3]))
	f.Add(frame(seeds[3], seeds[0], seeds[0], seeds[2]))
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &processor{srv: srv, ctx: context.Background()}
		for n := 0; len(data) >= 2 && n < 16; n++ {
			size := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			if size > len(data) {
				size = len(data)
			}
			var req extprocv3.ProcessingRequest
			if proto.Unmarshal(data[:size], &req) != nil {
				return
			}
			data = data[size:]
			resp := srv.safeHandle(p, &req)
			if req.GetRequest() == nil {
				if resp != nil {
					t.Fatalf("answered a message without a phase: %v", resp)
				}
				continue
			}
			if !matches(&req, resp) {
				t.Fatalf("request %T answered with %T", req.GetRequest(), resp.GetResponse())
			}
		}
	})
}

func frame(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

func matches(req *extprocv3.ProcessingRequest, resp *extprocv3.ProcessingResponse) bool {
	if resp == nil {
		return false
	}
	if resp.GetImmediateResponse() != nil {
		return true
	}
	switch req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return resp.GetRequestHeaders() != nil
	case *extprocv3.ProcessingRequest_RequestBody:
		return resp.GetRequestBody() != nil
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return resp.GetRequestTrailers() != nil
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return resp.GetResponseHeaders() != nil
	case *extprocv3.ProcessingRequest_ResponseBody:
		return resp.GetResponseBody() != nil
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return resp.GetResponseTrailers() != nil
	}
	return false
}
