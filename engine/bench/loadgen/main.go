// Command loadgen drives concurrent ext_proc streams against one or more targets,
// side by side in one run, and compares each with the first (the floor):
//
//	loadgen --target noop=127.0.0.1:9101 --target engine=127.0.0.1:9001 \
//	        --concurrency 32 --duration 10s --rounds 3 --route api --header x-api-key=k
//
// Targets take turns in short rounds, so noise from other work on the machine lands
// on all of them alike. Loopback targets only: it is a local benchmark.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/policy-engine-builder/policy-engine/bench/load"
)

type target struct {
	name, addr string
	conn       *grpc.ClientConn
	result     *load.Result
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var targets, headers multiFlag
	fs.Var(&targets, "target", "name=host:port of an ext_proc server (repeatable; the first is the baseline)")
	fs.Var(&headers, "header", "name=value request header to send (repeatable)")
	concurrency := fs.Int("concurrency", 32, "concurrent streams per target")
	duration := fs.Duration("duration", 10*time.Second, "measured time per target, split over the rounds")
	rounds := fs.Int("rounds", 3, "alternating rounds per target")
	warmup := fs.Duration("warmup", time.Second, "unmeasured warm-up per target")
	requests := fs.Int64("requests", 0, "stop each round after this many requests (0: duration only)")
	route := fs.String("route", "", "xds.route_name attribute to send")
	minRatio := fs.Float64("min-throughput-ratio", 0.85, "target: req/s of each target / baseline")
	maxP99 := fs.Float64("max-p99-ratio", 1.5, "target: p99 of each target / baseline")
	enforce := fs.Bool("enforce", false, "exit 1 when a target misses the targets")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(targets) == 0 || *rounds < 1 {
		fmt.Fprintln(stderr, "loadgen: at least one --target name=host:port and --rounds >= 1")
		return 2
	}
	opts := load.Options{Concurrency: *concurrency, Requests: *requests, Duration: *duration / time.Duration(*rounds),
		Route: *route, Headers: map[string]string{}}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok {
			fmt.Fprintf(stderr, "loadgen: --header %q: want name=value\n", h)
			return 2
		}
		opts.Headers[strings.ToLower(k)] = v
	}
	var ts []*target
	for _, s := range targets {
		t, err := dial(s)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		defer t.conn.Close()
		ts = append(ts, t)
	}
	ctx := context.Background()
	for _, t := range ts {
		w := opts
		w.Duration, w.Requests = *warmup, 0
		if _, err := load.Run(ctx, t.conn, w); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	}
	for range *rounds {
		for _, t := range ts {
			r, err := load.Run(ctx, t.conn, opts)
			if err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
				return 1
			}
			t.result.Merge(r)
		}
	}
	if !report(stdout, ts, *minRatio, *maxP99) && *enforce {
		return 1
	}
	return 0
}

func dial(s string) (*target, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		name, addr = s, s
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", s, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("target %q: loopback addresses only", s)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &target{name: name, addr: addr, conn: conn, result: &load.Result{}}, nil
}

// report prints the side-by-side table and the comparison with the baseline; it
// returns whether every target met the targets (and answered without errors).
func report(w io.Writer, ts []*target, minRatio, maxP99 float64) bool {
	fmt.Fprintf(w, "%-10s %10s %8s %10s %10s %10s %10s\n", "target", "requests", "errors", "immediate", "req/s", "p50", "p99")
	for _, t := range ts {
		r := t.result
		fmt.Fprintf(w, "%-10s %10d %8d %10d %10.0f %10s %10s\n", t.name, r.Requests, r.Errors, r.Immediate,
			r.RPS(), r.Percentile(50).Round(time.Microsecond), r.Percentile(99).Round(time.Microsecond))
		if r.FirstErr != nil {
			fmt.Fprintf(w, "  first error: %v\n", r.FirstErr)
		}
	}
	ok := true
	base := ts[0].result
	for _, t := range ts[1:] {
		r := t.result
		tput := r.RPS() / base.RPS()
		p99 := float64(r.Percentile(99)) / float64(base.Percentile(99))
		verdict := "PASS"
		if tput < minRatio || p99 > maxP99 || r.Errors > 0 {
			verdict, ok = "MISS", false
		}
		fmt.Fprintf(w, "%s/%s: throughput %.2f (target >= %.2f), p99 %.2fx (target <= %.2fx): %s\n",
			t.name, ts[0].name, tput, minRatio, p99, maxP99, verdict)
	}
	return ok && base.Errors == 0
}
