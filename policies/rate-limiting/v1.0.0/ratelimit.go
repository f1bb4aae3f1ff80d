// Package ratelimit is the rateLimiting policy: a token bucket per client (header value,
// client address or route), kept in process memory or, for a fleet of engine replicas,
// in Redis.
package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"runtime"
	"strconv"
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const (
	policyName = "rateLimiting"
	// maxKeyLength bounds what a client-chosen key (a header value) costs in memory;
	// longer keys are replaced by their SHA-256.
	maxKeyLength = 128
)

// Policy is one configured rateLimiting instance. Buckets are the only mutable state and
// are guarded by the backends, so ExecuteRequest/ExecuteResponse are safe for concurrent
// use.
type Policy struct {
	policies.Checked
	cfg   *config
	route string
	// sharedKey names this instance's entry in the request's Shared map, which carries
	// the decision to the response phase; the chain index keeps two instances apart.
	sharedKey string
	local     *localBackend
	redis     *redisBackend
}

var (
	_ policies.RequestPolicy        = (*Policy)(nil)
	_ policies.ResponsePolicy       = (*Policy)(nil)
	_ policies.Closer               = (*Policy)(nil)
	_ policies.ResponsePhaseSkipper = (*Policy)(nil)
)

// GetPolicy is the factory the engine calls once per configured instance. A Redis
// backend connects lazily, so an engine starts even while Redis is down; requests then
// get the configured failure mode.
func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	p, err := newPolicy(metadata, params, time.Now)
	if err != nil {
		return nil, err // not a nil *Policy in a non-nil interface
	}
	return p, nil
}

func newPolicy(metadata policies.PolicyMetadata, params map[string]interface{}, now func() time.Time) (*Policy, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	p := &Policy{
		Checked:   policyName,
		cfg:       cfg,
		route:     metadata.Route,
		sharedKey: fmt.Sprintf("%s/%d", policyName, metadata.Index),
	}
	if cfg.backend == backendLocal {
		p.local = newLocalBackend(cfg.rate, cfg.burst, cfg.maxKeys, now)
		return p, nil
	}
	prefix := cfg.redisKeyPrefix
	if prefix == "" {
		prefix = fmt.Sprintf("ratelimit:%s:%d:", metadata.Route, metadata.Index)
	}
	if p.redis, err = newRedisBackend(cfg, metadata.Route, prefix, now); err != nil {
		return nil, err
	}
	// The engine calls Close when it retires the instance (policies.Closer); this is the
	// safety net that closes the Redis pool of an instance dropped without Close.
	runtime.AddCleanup(p, func(b *redisBackend) { _ = b.close() }, p.redis)
	return p, nil
}

// Close releases the Redis connection pool, if any.
func (p *Policy) Close() error {
	if p.redis != nil {
		return p.redis.close()
	}
	return nil
}

// ExecuteRequest takes a token for the request's key, or answers 429.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	key := p.key(ctx)
	var d decision
	if p.local != nil {
		d = p.local.take(key)
	} else {
		var err error
		d, err = p.redis.take(ctx.Context, key)
		if err != nil {
			if p.cfg.failureMode == failClosed {
				return unavailable(err)
			}
			return nil
		}
	}
	if !d.allowed {
		return tooManyRequests(d)
	}
	if p.cfg.headersOnSuccess && ctx.Shared != nil {
		ctx.Shared[p.sharedKey] = d
	}
	return nil
}

// SkipResponsePhase spares Envoy the round trip for the response when there are no
// headers to add to it.
func (p *Policy) SkipResponsePhase() bool { return !p.cfg.headersOnSuccess }

// ExecuteResponse adds the rate-limit headers to the response of an admitted request
// when headersOnSuccess is on. Reading a nil Shared map is safe: it finds nothing.
func (p *Policy) ExecuteResponse(ctx *policies.ResponseContext, _ map[string]interface{}) *policies.ResponsePolicyAction {
	if !p.cfg.headersOnSuccess {
		return nil
	}
	d, ok := ctx.Shared[p.sharedKey].(decision)
	if !ok {
		return nil
	}
	return &policies.ResponsePolicyAction{Headers: policies.HeaderChanges{Set: rateLimitHeaders(d)}}
}

// key picks the bucket for a request. Requests without the header (or without a client
// address) share one bucket, the empty key, rather than escaping the limit.
func (p *Policy) key(ctx *policies.RequestContext) string {
	var key string
	switch p.cfg.keyBy {
	case keyByHeader:
		key = ctx.Headers.Get(p.cfg.header)
	case keyByRoute:
		key = ctx.Route
		if key == "" {
			key = p.route
		}
	default:
		key = clientIP(ctx.ClientAddress)
	}
	if len(key) > maxKeyLength {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

// clientIP drops the port: each connection of one client has its own port, and limiting
// per connection would let a client open more connections to get more requests.
func clientIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func rateLimitHeaders(d decision) map[string]string {
	return map[string]string{
		"x-ratelimit-limit":     strconv.FormatInt(d.limit, 10),
		"x-ratelimit-remaining": strconv.FormatInt(d.remaining, 10),
		"x-ratelimit-reset":     strconv.FormatInt(ceilSeconds(d.reset), 10),
	}
}

func tooManyRequests(d decision) *policies.RequestPolicyAction {
	action := policies.Deny(429, "rate limit exceeded\n")
	maps.Copy(action.Immediate.Headers, rateLimitHeaders(d))
	action.Immediate.Headers["retry-after"] = strconv.FormatInt(max(1, ceilSeconds(d.retryAfter)), 10)
	action.Immediate.Details = policyName + ": limit exceeded"
	return action
}

func unavailable(err error) *policies.RequestPolicyAction {
	action := policies.Deny(503, "rate limiter unavailable\n")
	action.Immediate.Headers["retry-after"] = "1"
	action.Immediate.Details = policyName + ": redis unavailable, failing closed: " + err.Error()
	return action
}
