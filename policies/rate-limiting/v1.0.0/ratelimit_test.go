package ratelimit

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

var meta = policies.PolicyMetadata{Name: "rateLimiting", Version: "v1.0.0", Route: "r1"}

// fakeClock is advanced by hand so refill behaviour is tested without sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func mustPolicy(t *testing.T, params map[string]interface{}, clock *fakeClock) *Policy {
	t.Helper()
	now := time.Now
	if clock != nil {
		now = clock.Now
	}
	p, err := newPolicy(meta, filled(t, params), now)
	if err != nil {
		t.Fatalf("newPolicy: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// filled checks params against policy.yaml's schema and fills in its defaults, as the
// engine does before GetPolicy.
func filled(t testing.TB, params map[string]interface{}) map[string]interface{} {
	t.Helper()
	_, schema := policytest.LoadSpec(t, ".")
	out, err := schema.Validate(params)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func req(clientAddr string, headers map[string][]string) *policies.RequestContext {
	return &policies.RequestContext{
		Context:       context.Background(),
		Route:         "r1",
		Headers:       policies.NewHeaders(headers),
		ClientAddress: clientAddr,
		Shared:        map[string]interface{}{},
	}
}

func allowed(t *testing.T, a *policies.RequestPolicyAction) bool {
	t.Helper()
	if a == nil {
		return true
	}
	if a.Immediate == nil {
		t.Fatalf("unexpected non-immediate action %+v", a)
	}
	return false
}

func TestLocalBucketPerClientAddress(t *testing.T) {
	clock := newFakeClock()
	p := mustPolicy(t, map[string]interface{}{"requestsPerUnit": 3, "unit": "minute"}, clock)

	// Different ports of one address share the bucket.
	for i, addr := range []string{"10.0.0.1:1111", "10.0.0.1:2222", "10.0.0.1:3333"} {
		if !allowed(t, p.ExecuteRequest(req(addr, nil), nil)) {
			t.Fatalf("request %d denied within the burst", i)
		}
	}
	a := p.ExecuteRequest(req("10.0.0.1:4444", nil), nil)
	if allowed(t, a) {
		t.Fatal("4th request allowed; limit is 3 per minute")
	}
	im := a.Immediate
	want := map[string]string{
		"retry-after":           "20", // one token per 20 s
		"x-ratelimit-limit":     "3",
		"x-ratelimit-remaining": "0",
		"x-ratelimit-reset":     "60",
	}
	if im.Status != 429 {
		t.Fatalf("status %d, want 429", im.Status)
	}
	for k, v := range want {
		if im.Headers[k] != v {
			t.Errorf("%s = %q, want %q", k, im.Headers[k], v)
		}
	}

	// Other clients are unaffected; IPv6 with port too.
	if !allowed(t, p.ExecuteRequest(req("10.0.0.2:1111", nil), nil)) {
		t.Fatal("another client was limited")
	}
	if !allowed(t, p.ExecuteRequest(req("[2001:db8::1]:443", nil), nil)) {
		t.Fatal("IPv6 client was limited")
	}

	clock.Advance(19 * time.Second)
	if allowed(t, p.ExecuteRequest(req("10.0.0.1:1", nil), nil)) {
		t.Fatal("allowed before a token refilled")
	}
	clock.Advance(time.Second)
	if !allowed(t, p.ExecuteRequest(req("10.0.0.1:1", nil), nil)) {
		t.Fatal("denied after a token refilled")
	}
}

func TestRateAndBurst(t *testing.T) {
	clock := newFakeClock()
	p := mustPolicy(t, map[string]interface{}{"rate": 0.5, "burst": 2}, clock)
	for i := 0; i < 2; i++ {
		if !allowed(t, p.ExecuteRequest(req("a", nil), nil)) {
			t.Fatalf("request %d denied within burst", i)
		}
	}
	a := p.ExecuteRequest(req("a", nil), nil)
	if allowed(t, a) || a.Immediate.Headers["retry-after"] != "2" {
		t.Fatalf("want 429 with retry-after 2, got %+v", a)
	}
	// The bucket never holds more than burst, however long the client is idle.
	clock.Advance(time.Hour)
	for i := 0; i < 2; i++ {
		if !allowed(t, p.ExecuteRequest(req("a", nil), nil)) {
			t.Fatalf("request %d denied after refill", i)
		}
	}
	if allowed(t, p.ExecuteRequest(req("a", nil), nil)) {
		t.Fatal("bucket exceeded its burst")
	}
}

func TestKeyByHeader(t *testing.T) {
	p := mustPolicy(t, map[string]interface{}{"requestsPerUnit": 1, "unit": "hour", "keyBy": "header", "header": "X-Tenant"}, newFakeClock())
	h := func(v string) map[string][]string { return map[string][]string{"x-tenant": {v}} }
	if !allowed(t, p.ExecuteRequest(req("1.1.1.1:1", h("a")), nil)) || !allowed(t, p.ExecuteRequest(req("1.1.1.1:1", h("b")), nil)) {
		t.Fatal("first request of each tenant must pass")
	}
	if allowed(t, p.ExecuteRequest(req("2.2.2.2:1", h("a")), nil)) {
		t.Fatal("tenant a limited by header regardless of address")
	}
	// Requests without the header share one bucket instead of escaping the limit.
	if !allowed(t, p.ExecuteRequest(req("1.1.1.1:1", nil), nil)) {
		t.Fatal("first anonymous request must pass")
	}
	if allowed(t, p.ExecuteRequest(req("3.3.3.3:1", nil), nil)) {
		t.Fatal("anonymous requests must share a bucket")
	}
	// Long keys are hashed, and still distinct.
	long1, long2 := strings.Repeat("x", 4000)+"1", strings.Repeat("x", 4000)+"2"
	if k := p.key(req("", h(long1))); len(k) > maxKeyLength || !strings.HasPrefix(k, "sha256:") {
		t.Fatalf("long key not hashed: %d bytes", len(k))
	}
	if !allowed(t, p.ExecuteRequest(req("", h(long1)), nil)) || !allowed(t, p.ExecuteRequest(req("", h(long2)), nil)) {
		t.Fatal("distinct long keys must have distinct buckets")
	}
}

func TestKeyByRoute(t *testing.T) {
	p := mustPolicy(t, map[string]interface{}{"requestsPerUnit": 2, "unit": "hour", "keyBy": "route"}, newFakeClock())
	r := req("1.1.1.1:1", nil)
	r2 := req("2.2.2.2:1", nil)
	other := req("1.1.1.1:1", nil)
	other.Route = "r2"
	if !allowed(t, p.ExecuteRequest(r, nil)) || !allowed(t, p.ExecuteRequest(r2, nil)) {
		t.Fatal("within the route's limit")
	}
	if allowed(t, p.ExecuteRequest(r, nil)) {
		t.Fatal("route limit is shared by all clients")
	}
	if !allowed(t, p.ExecuteRequest(other, nil)) {
		t.Fatal("another route has its own bucket")
	}
}

func TestHeadersOnSuccess(t *testing.T) {
	params := map[string]interface{}{"requestsPerUnit": 10, "unit": "second", "headersOnSuccess": true}
	p := mustPolicy(t, params, newFakeClock())
	r := req("1.1.1.1:1", nil)
	if a := p.ExecuteRequest(r, nil); a != nil {
		t.Fatalf("want continue, got %+v", a)
	}
	resp := p.ExecuteResponse(&policies.ResponseContext{Context: context.Background(), Status: 200, Request: r, Shared: r.Shared}, nil)
	if resp == nil {
		t.Fatal("no response headers")
	}
	want := map[string]string{"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9", "x-ratelimit-reset": "1"}
	for k, v := range want {
		if resp.Headers.Set[k] != v {
			t.Errorf("%s = %q, want %q", k, resp.Headers.Set[k], v)
		}
	}
	// Another instance later in the chain keeps its own entry.
	m2 := meta
	m2.Index = 3
	p2, err := newPolicy(m2, filled(t, params), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if p2.sharedKey == p.sharedKey {
		t.Fatal("instances share a Shared key")
	}

	// Without the flag nothing is added, and nothing is stored.
	p3 := mustPolicy(t, map[string]interface{}{"requestsPerUnit": 10}, nil)
	r3 := req("1.1.1.1:1", nil)
	p3.ExecuteRequest(r3, nil)
	if len(r3.Shared) != 0 {
		t.Fatalf("Shared written without headersOnSuccess: %v", r3.Shared)
	}
	if a := p3.ExecuteResponse(&policies.ResponseContext{Shared: r3.Shared}, nil); a != nil {
		t.Fatalf("want nil, got %+v", a)
	}
	// A nil Shared map must not panic.
	r4 := req("1.1.1.1:1", nil)
	r4.Shared = nil
	p.ExecuteRequest(r4, nil)
	if a := p.ExecuteResponse(&policies.ResponseContext{}, nil); a != nil {
		t.Fatalf("want nil without Shared, got %+v", a)
	}
}

func TestLocalMemoryBound(t *testing.T) {
	clock := newFakeClock()
	p := mustPolicy(t, map[string]interface{}{"requestsPerUnit": 1, "unit": "hour", "keyBy": "header", "header": "x-k", "maxKeys": 32}, clock)
	for i := 0; i < 5000; i++ {
		p.ExecuteRequest(req("", map[string][]string{"x-k": {"key-" + string(rune('A'+i%26)) + strings.Repeat("z", i%97) + string(rune(i))}}), nil)
	}
	if n := p.local.size(); n > 32+localShards {
		t.Fatalf("%d buckets held; bound is about 32", n)
	}
	// A key in active use survives churn of the same shard size: it was just used.
	hot := map[string][]string{"x-k": {"hot"}}
	p.ExecuteRequest(req("", hot), nil)
	if allowed(t, p.ExecuteRequest(req("", hot), nil)) {
		t.Fatal("hot key was evicted between two consecutive requests")
	}
}

func TestLocalConcurrentExactCount(t *testing.T) {
	p := mustPolicy(t, map[string]interface{}{"requestsPerUnit": 20, "unit": "day"}, nil)
	var ok atomic.Int64
	policytest.Concurrently(t, 50, 4, func(int) error {
		if p.ExecuteRequest(req("9.9.9.9:1", nil), nil) == nil {
			ok.Add(1)
		}
		return nil
	})
	if got := ok.Load(); got != 20 {
		t.Fatalf("%d requests allowed, want exactly 20", got)
	}
}

// TestRejectedParameters builds instances the way the engine does, so each bad
// parameter is refused by policy.yaml's schema or by parseConfig, and the error
// names it either way.
func TestRejectedParameters(t *testing.T) {
	base := func(kv ...interface{}) map[string]interface{} {
		m := map[string]interface{}{"requestsPerUnit": 10}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	errs := policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Name: "no rate", Params: map[string]interface{}{}, WantErr: `"requestsPerUnit" or "rate": one is required`},
		{Name: "both rates", Params: map[string]interface{}{"requestsPerUnit": 1, "rate": 1.0}, WantErr: "give one, not both"},
		{Name: "rpu zero", Params: map[string]interface{}{"requestsPerUnit": 0}, WantErr: `parameter "requestsPerUnit": minimum: got 0, want 1`},
		{Name: "rpu fraction", Params: map[string]interface{}{"requestsPerUnit": 1.5}, WantErr: `parameter "requestsPerUnit": got number, want integer`},
		{Name: "rpu string", Params: map[string]interface{}{"requestsPerUnit": "10"}, WantErr: `parameter "requestsPerUnit": got string, want integer`},
		{Name: "bad unit", Params: base("unit", "week"), WantErr: `parameter "unit": value must be one of 'second', 'minute', 'hour', 'day'`},
		{Name: "rate negative", Params: map[string]interface{}{"rate": -1.0}, WantErr: `parameter "rate": minimum: got -1, want 0`},
		{Name: "rate zero", Params: map[string]interface{}{"rate": 0}, WantErr: `parameter "rate": must be a number of requests per second above 0`},
		{Name: "rate too high", Params: map[string]interface{}{"rate": 2e9}, WantErr: `parameter "rate": maximum`},
		{Name: "burst zero", Params: base("burst", 0), WantErr: `parameter "burst": minimum: got 0, want 1`},
		{Name: "bad keyBy", Params: base("keyBy", "ip"), WantErr: `parameter "keyBy": value must be one of 'clientAddress', 'header', 'route'`},
		{Name: "header missing", Params: base("keyBy", "header"), WantErr: `parameter "header": required when keyBy is "header"`},
		{Name: "header without keyBy", Params: base("header", "x-a"), WantErr: `parameter "header": only meaningful when keyBy is "header"`},
		{Name: "header invalid", Params: base("keyBy", "header", "header", "x a"), WantErr: `parameter "header": 'x a' does not match pattern`},
		{Name: "headersOnSuccess type", Params: base("headersOnSuccess", "yes"), WantErr: `parameter "headersOnSuccess": got string, want boolean`},
		{Name: "maxKeys small", Params: base("maxKeys", 3), WantErr: `parameter "maxKeys": minimum: got 3, want 16`},
		{Name: "bad backend", Params: base("backend", "memcached"), WantErr: `parameter "backend": value must be one of 'local', 'redis'`},
		{Name: "redis without url", Params: base("backend", "redis"), WantErr: `parameter "redisUrl": required when backend is "redis"`},
		{Name: "redis bad url", Params: base("backend", "redis", "redisUrl", "http://u:hunter2@h:6379"), WantErr: `parameter "redisUrl": must be redis://`},
		{Name: "redis url password hidden", Params: base("backend", "redis", "redisUrl", "http://u:hunter2@h:6379"), WantErr: "u:xxxxx@h"},
		{Name: "redis timeout too long", Params: base("backend", "redis", "redisUrl", "redis://h:6379", "redisTimeout", "2s"), WantErr: `parameter "redisTimeout": must be a duration between 1ms and 150ms, got 2s`},
		{Name: "redis timeout not duration", Params: base("backend", "redis", "redisUrl", "redis://h:6379", "redisTimeout", 50), WantErr: `parameter "redisTimeout": got number, want string`},
		{Name: "bad failureMode", Params: base("backend", "redis", "redisUrl", "redis://h:6379", "failureMode", "maybe"), WantErr: `parameter "failureMode": value must be one of 'open', 'closed'`},
		{Name: "redis url on local", Params: base("redisUrl", "redis://h:6379"), WantErr: `parameter "redisUrl": only meaningful when backend is "redis"`},
		{Name: "redis prefix on local", Params: base("redisKeyPrefix", "rl:"), WantErr: `parameter "redisKeyPrefix": only meaningful when backend is "redis"`},
		{Name: "unknown", Params: base("limit", 5), WantErr: `parameter "limit": unknown parameter`},
	})
	for _, err := range errs {
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the Redis password: %v", err)
		}
	}
}

// TestEngineFilledDefaults: the engine adds every default from policy.yaml to the
// parameters; that must never turn a valid configuration into an invalid one.
func TestEngineFilledDefaults(t *testing.T) {
	for _, user := range []map[string]interface{}{
		{"rate": 2.5},
		{"requestsPerUnit": 100, "unit": "minute"},
		{"requestsPerUnit": 100, "backend": "redis", "redisUrl": "redis://127.0.0.1:1"},
	} {
		if _, err := policytest.Build(t, ".", GetPolicy, user); err != nil {
			t.Errorf("%v with defaults filled in: %v", user, err)
		}
	}
	p := mustPolicy(t, map[string]interface{}{"rate": 2.5, "unit": "hour"}, nil)
	if p.cfg.rate != 2.5 || p.cfg.burst != 3 {
		t.Fatalf("rate/burst = %v/%v, want 2.5/3 (unit does not apply to rate)", p.cfg.rate, p.cfg.burst)
	}
}

func TestFloat64Integers(t *testing.T) {
	// JSON decoders hand integers over as float64.
	p := mustPolicy(t, map[string]interface{}{"requestsPerUnit": float64(2), "burst": float64(4), "maxKeys": float64(100)}, nil)
	if p.cfg.burst != 4 || p.cfg.maxKeys != 100 {
		t.Fatalf("parsed %+v", p.cfg)
	}
}

// BenchmarkLocalExecuteRequest measures the local backend across many client addresses,
// in parallel, as the engine would run it.
func BenchmarkLocalExecuteRequest(b *testing.B) {
	p, err := newPolicy(meta, filled(b, map[string]interface{}{"rate": 1e6, "burst": 1000}), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	addrs := make([]*policies.RequestContext, 1024)
	for i := range addrs {
		addrs[i] = req("10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256)+":5555", nil)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			p.ExecuteRequest(addrs[i%len(addrs)], nil)
			i++
		}
	})
}

// Without headersOnSuccess the response phase has nothing to do, and says so, so
// the engine does not ask Envoy for the response.
func TestSkipResponsePhase(t *testing.T) {
	for _, on := range []bool{true, false} {
		p := mustPolicy(t, map[string]interface{}{"requestsPerUnit": 10, "unit": "second", "headersOnSuccess": on}, newFakeClock())
		if p.SkipResponsePhase() == on {
			t.Errorf("headersOnSuccess=%v: SkipResponsePhase()=%v", on, p.SkipResponsePhase())
		}
	}
}
