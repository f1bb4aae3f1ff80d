package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// tokenBucketScript takes one token from the bucket at KEYS[1] atomically, so any number
// of engine replicas can share it. It reads the clock from Redis (TIME), not from the
// callers, so replicas with skewed clocks still agree. The key expires once the bucket
// would have refilled completely, when it is indistinguishable from a missing key; Redis
// memory stays bounded by the number of recently active clients.
//
// ARGV[1] rate in tokens per second, ARGV[2] burst. Returns {allowed (0|1), tokens left
// as a string} (a Lua number would be truncated to an integer in the reply).
const tokenBucketScript = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then
  elapsed = 0
end
tokens = math.min(burst, tokens + elapsed * rate / 1000000)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
`

// breakerPause is how long the backend stays "down" after a failure before it tries
// Redis again; meanwhile requests get the failure mode at once instead of each waiting
// for a timeout.
const breakerPause = time.Second

var errRedisDown = errors.New("redis marked unavailable after a recent failure")

// redisBackend keeps the buckets in Redis, shared by every engine replica.
type redisBackend struct {
	client  *redis.Client
	script  *redis.Script
	prefix  string
	rate    float64
	burst   int64
	timeout time.Duration
	now     func() time.Time
	// downUntil is a UnixNano time before which Redis is not tried again.
	downUntil atomic.Int64
	// down is true from a failure until the next success, so that an outage is logged
	// once when it starts and once when it ends, not on every probe.
	down atomic.Bool
	// route and failureMode only label log lines.
	route       string
	failureMode string
}

func newRedisBackend(cfg *config, route, prefix string, now func() time.Time) (*redisBackend, error) {
	opts, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return nil, fmt.Errorf("parameter %q: %v", "redisUrl", err)
	}
	// Every wait is bounded by redisTimeout: a request must get its decision long
	// before Envoy's message timeout, whatever state Redis is in.
	opts.DialTimeout = cfg.redisTimeout
	opts.ReadTimeout = cfg.redisTimeout
	opts.WriteTimeout = cfg.redisTimeout
	opts.PoolTimeout = cfg.redisTimeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1   // no retries: a retry would outlive the deadline
	opts.DialerRetries = 1 // the default dials five times with 100 ms pauses
	return &redisBackend{
		client:      redis.NewClient(opts),
		script:      redis.NewScript(tokenBucketScript),
		prefix:      prefix,
		rate:        cfg.rate,
		burst:       cfg.burst,
		timeout:     cfg.redisTimeout,
		now:         now,
		route:       route,
		failureMode: cfg.failureMode,
	}, nil
}

// take runs the script. While Redis is marked down it returns errRedisDown at once.
func (b *redisBackend) take(ctx context.Context, key string) (decision, error) {
	if b.now().UnixNano() < b.downUntil.Load() {
		return decision{}, errRedisDown
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	res, err := b.script.Run(ctx, b.client, []string{b.prefix + key}, b.rate, b.burst).Slice()
	var d decision
	if err == nil {
		d, err = parseScriptReply(res, b.rate, b.burst)
	}
	if err != nil {
		var reply redis.Error
		if context.Cause(ctx) == context.Canceled || errors.As(err, &reply) {
			// The request itself went away, or Redis answered with an error about this
			// key (say, another application's value of the wrong type under it): either
			// way Redis is up, and other keys must keep working.
			return decision{}, err
		}
		b.downUntil.Store(b.now().Add(breakerPause).UnixNano())
		if !b.down.Swap(true) {
			slog.Warn("rateLimiting: Redis unavailable; applying the failure mode until it answers again",
				"route", b.route, "failureMode", b.failureMode, "error", err, "probeEvery", breakerPause)
		}
		return decision{}, err
	}
	if b.down.Swap(false) {
		slog.Info("rateLimiting: Redis available again", "route", b.route)
	}
	return d, nil
}

func parseScriptReply(res []interface{}, rate float64, burst int64) (decision, error) {
	if len(res) != 2 {
		return decision{}, fmt.Errorf("unexpected script reply %v", res)
	}
	allowed, ok1 := res[0].(int64)
	tokensStr, ok2 := res[1].(string)
	tokens, err := strconv.ParseFloat(tokensStr, 64)
	if !ok1 || !ok2 || err != nil {
		return decision{}, fmt.Errorf("unexpected script reply %v", res)
	}
	return newDecision(allowed == 1, tokens, rate, burst), nil
}

func (b *redisBackend) close() error { return b.client.Close() }
