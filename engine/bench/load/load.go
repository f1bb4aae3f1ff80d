// Package load drives many concurrent ext_proc streams the way Envoy does for a
// headers-only chain: per simulated request one stream, one request_headers message,
// one response, then a half-close. It measures throughput and latency percentiles.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// Options bound and shape one run. A run stops at Requests (if > 0) or Duration,
// whichever comes first, so it always ends.
type Options struct {
	Concurrency int
	Requests    int64
	Duration    time.Duration
	Route       string            // sent as the xds.route_name attribute
	Headers     map[string]string // extra request headers, e.g. an API key
}

// Result is what one run measured.
type Result struct {
	Requests  int64 // answered with a matching response
	Immediate int64 // of which immediate responses (e.g. a policy denied)
	Errors    int64 // stream failures and wrong-type answers
	Elapsed   time.Duration
	Latencies []time.Duration // per answered request, sorted
	FirstErr  error
}

// RPS is answered requests per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile latency (0 < p <= 100), nearest rank.
func (r *Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*p/100+0.5) - 1
	return r.Latencies[max(0, min(i, n-1))]
}

// Merge adds another run's measurements (e.g. of another round) to r.
func (r *Result) Merge(o *Result) {
	r.add(o)
	slices.Sort(r.Latencies)
}

// add is Merge without sorting the latencies, for adding up many results.
func (r *Result) add(o *Result) {
	r.Requests += o.Requests
	r.Immediate += o.Immediate
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	r.Latencies = append(r.Latencies, o.Latencies...)
	if r.FirstErr == nil {
		r.FirstErr = o.FirstErr
	}
}

// Message builds the request_headers message every simulated request sends: what
// Envoy sends for a typical API call with request_attributes [xds.route_name,
// source.address]. It is built once and shared, so the generator's own allocations
// stay out of the measurement.
func Message(o Options) *extprocv3.ProcessingRequest {
	hdrs := []*corev3.HeaderValue{
		{Key: ":method", RawValue: []byte("GET")},
		{Key: ":path", RawValue: []byte("/api/items/42?expand=owner")},
		{Key: ":scheme", RawValue: []byte("http")},
		{Key: ":authority", RawValue: []byte("api.example.com")},
		{Key: "user-agent", RawValue: []byte("curl/8.5.0")},
		{Key: "accept", RawValue: []byte("application/json")},
		{Key: "x-request-id", RawValue: []byte("5c6d7a4e-0b1f-4d0e-9c1a-6f1d2b3c4d5e")},
		{Key: "x-forwarded-proto", RawValue: []byte("http")},
	}
	for k, v := range o.Headers {
		hdrs = append(hdrs, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	attrs := map[string]*structpb.Value{"source.address": structpb.NewStringValue("127.0.0.1:51234")}
	if o.Route != "" {
		attrs["xds.route_name"] = structpb.NewStringValue(o.Route)
	}
	return &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
			Headers: &corev3.HeaderMap{Headers: hdrs}, EndOfStream: true}},
		Attributes: map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: attrs}},
	}
}

// Run drives conn with o.Concurrency workers until the bound is reached.
func Run(ctx context.Context, conn grpc.ClientConnInterface, o Options) (*Result, error) {
	if o.Concurrency <= 0 || o.Duration <= 0 {
		return nil, errors.New("load: concurrency and duration must be positive")
	}
	// Stop by cancellation, not a deadline: a deadline travels to the server, which
	// may fail in-flight streams with DEADLINE_EXCEEDED before ctx.Err() is set here,
	// and those would be miscounted as server errors.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := time.AfterFunc(o.Duration, cancel)
	defer stop.Stop()
	client := extprocv3.NewExternalProcessorClient(conn)
	msg := Message(o)
	var issued atomic.Int64
	results := make([]*Result, o.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.Concurrency {
		results[w] = &Result{}
		wg.Add(1)
		go func(res *Result) {
			defer wg.Done()
			for ctx.Err() == nil && (o.Requests <= 0 || issued.Add(1) <= o.Requests) {
				t0 := time.Now()
				immediate, err := one(ctx, client, msg)
				lat := time.Since(t0)
				switch {
				case err != nil && ctx.Err() != nil:
					return // the bound cut this request short: not a server error
				case err != nil:
					res.Errors++
					if res.FirstErr == nil {
						res.FirstErr = err
					}
				default:
					res.Requests++
					res.Latencies = append(res.Latencies, lat)
					if immediate {
						res.Immediate++
					}
				}
			}
		}(results[w])
	}
	wg.Wait()
	total := &Result{Elapsed: time.Since(start)}
	// The workers' results have no Elapsed of their own: total keeps the run's.
	for _, r := range results {
		total.add(r)
	}
	slices.Sort(total.Latencies)
	return total, nil
}

// one is a single simulated request; latency is what Envoy would hold the request
// for: stream open to response.
func one(ctx context.Context, client extprocv3.ExternalProcessorClient, msg *extprocv3.ProcessingRequest) (immediate bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Process(sctx)
	if err != nil {
		return false, err
	}
	if err := stream.Send(msg); err != nil {
		return false, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return false, err
	}
	switch resp.GetResponse().(type) {
	case *extprocv3.ProcessingResponse_RequestHeaders:
	case *extprocv3.ProcessingResponse_ImmediateResponse:
		immediate = true
	default:
		return false, fmt.Errorf("wrong response type %T to request_headers", resp.GetResponse())
	}
	// Half-close and let the server end the stream cleanly, as a finished request does.
	if err := stream.CloseSend(); err != nil {
		return immediate, err
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		return immediate, fmt.Errorf("stream did not end cleanly: %v", err)
	}
	return immediate, nil
}
