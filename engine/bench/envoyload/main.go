// Command envoyload is the load benchmark through a real Envoy (`make bench-envoy`):
// one Envoy, one upstream, three listeners side by side in one run:
//
//	ceiling  no ext_proc filter
//	floor    ext_proc to the no-op server (engine/bench/noop), the floor any
//	         ext_proc server is measured against
//	engine   ext_proc to the policy engine with a realistic chain
//
// With --body-bytes every request is a POST with a JSON body of about that size, and
// with --body-route a fourth target, "body", sends it to the engine listener under a
// route whose chain adds a body policy, so "body" against "engine" is what buffering
// and the body policy add.
//
// The listeners take turns in rounds after a warm-up, so background load lands on
// all alike. For each it reports throughput, p50/p99 latency and the ext_proc
// server's CPU time per request (utime+stime from /proc/<pid>/stat). Loopback only.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/policy-engine-builder/policy-engine/envoyconfig"
	"github.com/policy-engine-builder/policy-engine/pkg/yamljson"
	"github.com/policy-engine-builder/policy-engine/sandbox"
)

type options struct {
	engineBin, noopBin, envoyBin, config, path, header string
	bodyRoute                                          string
	concurrency, rounds, envoyThreads, bodyBytes       int
	duration, warmup                                   time.Duration
}

// target is one listener and the ext_proc server behind it (pid 0: none); prefix
// goes before the request path.
type target struct {
	name, url, prefix string
	pid               int
	res               result
}

type result struct {
	requests, errors int64
	elapsed          time.Duration
	cpu              time.Duration
	latencies        []time.Duration
	firstErr         string
}

func main() {
	var o options
	fs := flag.NewFlagSet("envoyload", flag.ExitOnError)
	fs.StringVar(&o.engineBin, "engine-bin", "", "policy-engine binary with the chain's policies compiled in")
	fs.StringVar(&o.noopBin, "noop-bin", "", "the no-op ext_proc server (engine/bench/noop)")
	fs.StringVar(&o.envoyBin, "envoy", "", "the Envoy binary")
	fs.StringVar(&o.config, "config", "bench/engine-config.yaml", "engine configuration; route api is measured")
	fs.StringVar(&o.path, "path", "/api/items/42?expand=owner", "request path")
	fs.StringVar(&o.header, "header", "x-api-key=bench-key", "name=value request header")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent connections per listener")
	fs.IntVar(&o.rounds, "rounds", 3, "alternating rounds")
	fs.IntVar(&o.envoyThreads, "envoy-concurrency", 1, "Envoy worker threads")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per listener, split over the rounds")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up per listener")
	fs.IntVar(&o.bodyBytes, "body-bytes", 0, "send POSTs with a JSON body of about this many bytes (0: GETs without body)")
	fs.StringVar(&o.bodyRoute, "body-route", "", "PREFIX=ROUTE: also measure target \"body\", the engine listener at PREFIX+path, routed to ROUTE (a chain with a body policy)")
	_ = fs.Parse(os.Args[1:])
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "envoyload:", err)
		os.Exit(1)
	}
}

func run(o options, out io.Writer) error {
	if o.engineBin == "" || o.noopBin == "" || o.envoyBin == "" {
		return errors.New("--engine-bin, --noop-bin and --envoy are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	echo, err := sandbox.StartEcho("upstream")
	if err != nil {
		return err
	}
	defer echo.Close()
	addrs, err := sandbox.FreeAddrs(5)
	if err != nil {
		return err
	}
	noopAddr, envoyAdmin := addrs[0], addrs[1]
	listen := map[string]string{"ceiling": addrs[2], "floor": addrs[3], "engine": addrs[4]}

	noop, err := sandbox.Start("noop", nil, o.noopBin, "--listen", noopAddr)
	if err != nil {
		return err
	}
	defer noop.Stop(10 * time.Second)
	engine, err := sandbox.StartEngine(ctx, o.engineBin, nil, "--config", o.config, "--debug", "", "--log-level", "warn")
	if err != nil {
		return err
	}
	defer engine.Stop(10 * time.Second)
	routes := []string{"--route", "/=api"}
	bodyPrefix, _, _ := strings.Cut(o.bodyRoute, "=")
	if o.bodyRoute != "" {
		routes = append([]string{"--route", o.bodyRoute}, routes...)
	}
	raw, err := exec.Command(o.engineBin, append([]string{"envoy-config", "--config", o.config, "--listen", listen["engine"],
		"--admin", envoyAdmin, "--engine", engine.Extproc, "--upstream", echo.Addr}, routes...)...).Output()
	if err != nil {
		return fmt.Errorf("envoy-config: %w", err)
	}
	config, err := threeListeners(raw, noopAddr, listen)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "envoyload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	envoy, err := sandbox.StartEnvoy(ctx, o.envoyBin, dir, config, envoyAdmin, o.envoyThreads, nil)
	if err != nil {
		return err
	}
	defer envoy.Stop(10 * time.Second)

	targets := []*target{
		{name: "ceiling", url: "http://" + listen["ceiling"]},
		{name: "floor", url: "http://" + listen["floor"], pid: noop.Pid()},
		{name: "engine", url: "http://" + listen["engine"], pid: engine.Pid()},
	}
	if o.bodyRoute != "" {
		targets = append(targets, &target{name: "body", url: "http://" + listen["engine"], prefix: bodyPrefix, pid: engine.Pid()})
	}
	name, value, _ := strings.Cut(o.header, "=")
	body := jsonBody(o.bodyBytes)
	fmt.Fprintf(out, "envoy %s threads, %d connections, %d rounds of %s per listener, chain of %s on route api\n",
		strconv.Itoa(o.envoyThreads), o.concurrency, o.rounds, o.duration/time.Duration(o.rounds), o.config)
	if body != nil {
		fmt.Fprintf(out, "POST with a %d-byte JSON body\n", len(body))
	}
	for _, t := range targets {
		if _, err := drive(t, o.path, name, value, body, o.concurrency, o.warmup); err != nil {
			return err
		}
	}
	for range o.rounds {
		for _, t := range targets {
			cpu0, err := cpuTime(t.pid)
			if err != nil {
				return err
			}
			r, err := drive(t, o.path, name, value, body, o.concurrency, o.duration/time.Duration(o.rounds))
			if err != nil {
				return err
			}
			cpu1, err := cpuTime(t.pid)
			if err != nil {
				return err
			}
			r.cpu = cpu1 - cpu0
			t.res.add(r)
		}
	}
	report(out, targets)
	return nil
}

// threeListeners turns the generated configuration (one listener, ext_proc to the
// engine) into three: ceiling without ext_proc, floor with ext_proc to the no-op
// server, engine as generated.
func threeListeners(raw []byte, noopAddr string, listen map[string]string) ([]byte, error) {
	js, err := yamljson.ToJSON(raw)
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		return nil, err
	}
	res := b.GetStaticResources()
	var noop *clusterv3.Cluster
	for _, c := range res.GetClusters() {
		if c.GetName() == envoyconfig.EngineCluster {
			noop = proto.Clone(c).(*clusterv3.Cluster)
		}
	}
	// The no-op server has no gRPC health service; everything else stays as the
	// engine's cluster has it.
	noop.Name, noop.HealthChecks, noop.CommonLbConfig = "noop", nil, nil
	noop.LoadAssignment.ClusterName = "noop"
	sa := noop.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	host, port, _ := strings.Cut(noopAddr, ":")
	p, _ := strconv.Atoi(port)
	sa.Address, sa.PortSpecifier = host, &corev3.SocketAddress_PortValue{PortValue: uint32(p)}
	res.Clusters = append(res.Clusters, noop)

	engine := res.GetListeners()[0]
	var listeners []*listenerv3.Listener
	for _, name := range []string{"ceiling", "floor", "engine"} {
		l := proto.Clone(engine).(*listenerv3.Listener)
		l.Name = name
		host, port, _ := strings.Cut(listen[name], ":")
		p, _ := strconv.Atoi(port)
		l.GetAddress().GetSocketAddress().Address = host
		l.GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: uint32(p)}
		f := l.GetFilterChains()[0].GetFilters()[0]
		m, err := f.GetTypedConfig().UnmarshalNew()
		if err != nil {
			return nil, err
		}
		hcm := m.(*hcmv3.HttpConnectionManager)
		hcm.StatPrefix = name
		switch name {
		case "ceiling":
			hcm.HttpFilters = hcm.HttpFilters[1:]
		case "floor":
			em, err := hcm.HttpFilters[0].GetTypedConfig().UnmarshalNew()
			if err != nil {
				return nil, err
			}
			ep := em.(*extprocv3.ExternalProcessor)
			ep.GetGrpcService().GetEnvoyGrpc().ClusterName = "noop"
			a, err := anypb.New(ep)
			if err != nil {
				return nil, err
			}
			hcm.HttpFilters[0].ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: a}
		}
		a, err := anypb.New(hcm)
		if err != nil {
			return nil, err
		}
		f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
		listeners = append(listeners, l)
	}
	res.Listeners = listeners
	if err := envoyconfig.Validate(b); err != nil {
		return nil, err
	}
	return protojson.Marshal(b)
}

// jsonBody is a JSON document of at least n bytes (nil for 0): an array of small
// objects, as an API's list payload would be.
func jsonBody(n int) []byte {
	if n <= 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n-2; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item %d","price":12.5,"tags":["a","b"]}`, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// drive sends requests over concurrency keep-alive connections for d: GETs, or
// POSTs of body when there is one.
func drive(t *target, path, header, value string, body []byte, concurrency int, d time.Duration) (result, error) {
	transport := &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	results := make([]result, concurrency)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func(r *result) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", t.url+t.prefix+path, nil)
				if body != nil {
					req, _ = http.NewRequest("POST", t.url+t.prefix+path, bytes.NewReader(body))
					req.Header.Set("content-type", "application/json")
				}
				req.Header.Set(header, value)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					r.errors++
					if r.firstErr == "" {
						r.firstErr = err.Error()
					}
					continue
				}
				r.requests++
				r.latencies = append(r.latencies, time.Since(t0))
			}
		}(&results[w])
	}
	wg.Wait()
	total := result{elapsed: time.Since(start)}
	for i := range results {
		total.add(results[i])
	}
	return total, nil
}

func (r *result) add(o result) {
	r.requests += o.requests
	r.errors += o.errors
	r.elapsed += o.elapsed
	r.cpu += o.cpu
	r.latencies = append(r.latencies, o.latencies...)
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
}

func (r *result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	i := int(float64(len(r.latencies))*p/100+0.5) - 1
	return r.latencies[max(0, min(i, len(r.latencies)-1))]
}

func (r *result) cpuPerRequest() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.requests)
}

// cpuTime is the user+system CPU time of pid so far (0 for pid 0).
func cpuTime(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	// utime and stime are fields 14 and 15 of the line, 12 and 13 here; in clock
	// ticks of 1/100 s (USER_HZ on Linux).
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func report(w io.Writer, ts []*target) {
	fmt.Fprintf(w, "%-8s %9s %7s %8s %9s %9s %14s\n", "listener", "requests", "errors", "req/s", "p50", "p99", "ext_proc CPU/req")
	for _, t := range ts {
		cpu := "-"
		if t.pid != 0 {
			cpu = t.res.cpuPerRequest().Round(time.Microsecond).String()
		}
		fmt.Fprintf(w, "%-8s %9d %7d %8.0f %9s %9s %14s\n", t.name, t.res.requests, t.res.errors, t.res.rps(),
			t.res.percentile(50).Round(time.Microsecond), t.res.percentile(99).Round(time.Microsecond), cpu)
		if t.res.firstErr != "" {
			fmt.Fprintf(w, "  first error: %s\n", t.res.firstErr)
		}
	}
	floor, engine := ts[1].res, ts[2].res
	tput := engine.rps() / floor.rps()
	p99 := float64(engine.percentile(99)) / float64(floor.percentile(99))
	cpu := float64(engine.cpuPerRequest()) / float64(floor.cpuPerRequest())
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(w, "engine/floor: throughput %.2f (target >= 0.95, %s), p99 %.2fx (target <= 1.10x, %s), CPU/request %.2fx (target <= 1.15x, %s)\n",
		tput, verdict(tput >= 0.95), p99, verdict(p99 <= 1.10), cpu, verdict(cpu <= 1.15))
	fmt.Fprintf(w, "floor/ceiling: throughput %.2f (what ext_proc itself costs through Envoy)\n", floor.rps()/ts[0].res.rps())
	if len(ts) > 3 {
		body := ts[3].res
		fmt.Fprintf(w, "body-engine: p50 %+v, p99 %+v, ext_proc CPU/request %+v, throughput %.2f (what buffering and the body policy add)\n",
			(body.percentile(50) - engine.percentile(50)).Round(time.Microsecond), (body.percentile(99) - engine.percentile(99)).Round(time.Microsecond),
			(body.cpuPerRequest() - engine.cpuPerRequest()).Round(time.Microsecond), body.rps()/engine.rps())
	}
}
