package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func redisParams(addr string, extra ...interface{}) map[string]interface{} {
	m := map[string]interface{}{
		"requestsPerUnit": 5,
		"unit":            "hour",
		"backend":         "redis",
		"redisUrl":        "redis://" + addr + "/0",
		"redisTimeout":    "100ms",
	}
	for i := 0; i < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// TestRedisSharedAcrossReplicas plays two engine replicas: two instances with the same
// configuration, each with its own connection pool, against one Redis.
func TestRedisSharedAcrossReplicas(t *testing.T) {
	srv := startRedis(t)
	replicaA := mustPolicy(t, redisParams(srv.addr), nil)
	replicaB := mustPolicy(t, redisParams(srv.addr), nil)

	var admitted int
	var last map[string]string
	for i := 0; i < 10; i++ {
		p := replicaA
		if i%2 == 1 {
			p = replicaB
		}
		a := p.ExecuteRequest(req("10.1.1.1:5000", nil), nil)
		if a == nil {
			admitted++
			continue
		}
		if a.Immediate == nil || a.Immediate.Status != 429 {
			t.Fatalf("request %d: want 429, got %+v", i, a)
		}
		last = a.Immediate.Headers
	}
	if admitted != 5 {
		t.Fatalf("%d requests admitted across both replicas, want exactly 5", admitted)
	}
	if last["retry-after"] != "720" || last["x-ratelimit-limit"] != "5" || last["x-ratelimit-remaining"] != "0" {
		t.Fatalf("unexpected 429 headers %v", last)
	}

	// Other clients have their own bucket in Redis.
	if a := replicaB.ExecuteRequest(req("10.1.1.2:5000", nil), nil); a != nil {
		t.Fatalf("other client limited: %+v", a)
	}

	// The key lives under the per-route prefix and expires once it would be full again.
	client := redis.NewClient(&redis.Options{Addr: srv.addr})
	defer client.Close()
	ttl, err := client.PTTL(context.Background(), "ratelimit:r1:0:10.1.1.1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > time.Hour+2*time.Second {
		t.Fatalf("bucket key TTL %v; want about one hour (time to refill 5 tokens at 5/hour)", ttl)
	}
}

func TestRedisCustomPrefixSharesAcrossRoutes(t *testing.T) {
	srv := startRedis(t)
	params := redisParams(srv.addr, "redisKeyPrefix", "rl:global:", "requestsPerUnit", 1)
	onR1 := mustPolicy(t, params, nil)
	m := meta
	m.Route, m.Index = "r2", 4
	onR2, err := newPolicy(m, filled(t, params), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer onR2.Close()
	if a := onR1.ExecuteRequest(req("7.7.7.7:1", nil), nil); a != nil {
		t.Fatalf("first request denied: %+v", a)
	}
	if a := onR2.ExecuteRequest(req("7.7.7.7:1", nil), nil); a == nil {
		t.Fatal("a shared prefix must share the bucket across routes")
	}
}

func TestRedisFailureModes(t *testing.T) {
	srv := startRedis(t)
	open := mustPolicy(t, redisParams(srv.addr, "failureMode", "open"), nil)
	closed := mustPolicy(t, redisParams(srv.addr, "failureMode", "closed"), nil)

	// Both work while Redis is up.
	for _, p := range []*Policy{open, closed} {
		if a := p.ExecuteRequest(req("10.2.2.2:1", nil), nil); a != nil {
			t.Fatalf("denied while Redis is up: %+v", a)
		}
	}

	srv.stop()

	start := time.Now()
	if a := open.ExecuteRequest(req("10.2.2.2:1", nil), nil); a != nil {
		t.Fatalf("failureMode open must admit while Redis is down, got %+v", a)
	}
	a := closed.ExecuteRequest(req("10.2.2.2:1", nil), nil)
	if a == nil || a.Immediate == nil || a.Immediate.Status != 503 {
		t.Fatalf("failureMode closed must answer 503 while Redis is down, got %+v", a)
	}
	if a.Immediate.Headers["retry-after"] != "1" {
		t.Fatalf("503 without retry-after: %v", a.Immediate.Headers)
	}
	// Each call is bounded by redisTimeout (100ms); generous slack for a loaded machine.
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("two calls against a dead Redis took %v", elapsed)
	}

	// After the first failure the backend answers at once instead of waiting again.
	start = time.Now()
	for i := 0; i < 20; i++ {
		if a := closed.ExecuteRequest(req("10.2.2.2:1", nil), nil); a == nil || a.Immediate.Status != 503 {
			t.Fatalf("call %d: want 503", i)
		}
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Fatalf("20 calls while marked down took %v; the breaker is not short-circuiting", elapsed)
	}
}

func TestRedisRecovers(t *testing.T) {
	srv := startRedis(t)
	clock := newFakeClock()
	p := mustPolicy(t, redisParams(srv.addr, "failureMode", "closed"), nil)
	p.redis.now = clock.Now
	srv.stop()
	if a := p.ExecuteRequest(req("10.3.3.3:1", nil), nil); a == nil {
		t.Fatal("want 503 while down")
	}
	// Same address, new server: after the pause the backend tries Redis again.
	restarted := restartRedisOn(t, srv)
	if a := p.ExecuteRequest(req("10.3.3.3:1", nil), nil); a == nil || a.Immediate.Status != 503 {
		t.Fatal("within the pause Redis must not be tried")
	}
	clock.Advance(breakerPause)
	if a := p.ExecuteRequest(req("10.3.3.3:1", nil), nil); a != nil {
		t.Fatalf("after the pause and with Redis back, want admit, got %+v (redis at %s)", a, restarted.addr)
	}
}

func TestRedisRespectsRequestCancellation(t *testing.T) {
	srv := startRedis(t)
	p := mustPolicy(t, redisParams(srv.addr, "failureMode", "closed"), nil)
	r := req("10.4.4.4:1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Context = ctx
	if a := p.ExecuteRequest(r, nil); a == nil || a.Immediate.Status != 503 {
		t.Fatalf("cancelled request must not be admitted under failureMode closed, got %+v", a)
	}
	// A cancelled request says nothing about Redis: the next one goes through.
	if a := p.ExecuteRequest(req("10.4.4.4:1", nil), nil); a != nil {
		t.Fatalf("Redis was wrongly marked down by a cancelled request: %+v", a)
	}
}

func TestRedisErrorReplyDoesNotTripTheBreaker(t *testing.T) {
	srv := startRedis(t)
	p := mustPolicy(t, redisParams(srv.addr, "failureMode", "closed"), nil)
	client := redis.NewClient(&redis.Options{Addr: srv.addr})
	defer client.Close()
	// Someone else's string value sits where the bucket hash would go.
	if err := client.Set(context.Background(), "ratelimit:r1:0:10.5.5.5", "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if a := p.ExecuteRequest(req("10.5.5.5:1", nil), nil); a == nil || a.Immediate.Status != 503 {
		t.Fatalf("a key the script cannot use must get the failure mode, got %+v", a)
	}
	if a := p.ExecuteRequest(req("10.5.5.6:1", nil), nil); a != nil {
		t.Fatalf("other keys must keep working, got %+v", a)
	}
}
