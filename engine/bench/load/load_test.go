package load

import (
	"context"
	"net"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/policy-engine-builder/policy-engine/bench/floor"
)

func dial(t *testing.T, srv extprocv3.ExternalProcessorServer) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, srv)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestRunAgainstFloorIsBoundedByCount(t *testing.T) {
	conn := dial(t, floor.Processor{})
	r, err := Run(context.Background(), conn, Options{Concurrency: 4, Requests: 300, Duration: 10 * time.Second, Route: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 300 || r.Errors != 0 || r.Immediate != 0 {
		t.Fatalf("requests %d errors %d immediate %d (first error %v), want 300/0/0", r.Requests, r.Errors, r.Immediate, r.FirstErr)
	}
	p50, p99 := r.Percentile(50), r.Percentile(99)
	if p50 <= 0 || p99 < p50 || r.Percentile(100) != r.Latencies[len(r.Latencies)-1] || r.RPS() <= 0 {
		t.Errorf("p50 %v p99 %v rps %.0f", p50, p99, r.RPS())
	}
}

func TestRunIsBoundedByDuration(t *testing.T) {
	conn := dial(t, floor.Processor{})
	start := time.Now()
	r, err := Run(context.Background(), conn, Options{Concurrency: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second || r.Requests == 0 || r.Errors != 0 {
		t.Errorf("took %v, requests %d, errors %d (%v)", took, r.Requests, r.Errors, r.FirstErr)
	}
}

// wrongType answers request_headers with a body response: a spurious message.
type wrongType struct{ floor.Processor }

func (wrongType) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	return stream.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{}})
}

func TestRunCountsWrongAnswersAsErrors(t *testing.T) {
	conn := dial(t, wrongType{})
	r, err := Run(context.Background(), conn, Options{Concurrency: 2, Requests: 20, Duration: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 20 || r.Requests != 0 {
		t.Errorf("errors %d requests %d, want 20/0", r.Errors, r.Requests)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	r := &Result{}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i))
	}
	if r.Percentile(50) != 50 || r.Percentile(99) != 99 || r.Percentile(100) != 100 {
		t.Errorf("p50 %d p99 %d p100 %d", r.Percentile(50), r.Percentile(99), r.Percentile(100))
	}
}
