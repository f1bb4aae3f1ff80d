package ratelimit

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const (
	keyByHeader = "header"
	keyByRoute  = "route"

	backendLocal = "local"
	backendRedis = "redis"

	failClosed = "closed"

	// maxRedisTimeout stays below Envoy's default 200 ms ext_proc message timeout, so a
	// slow Redis gives the configured failure mode, not a 504 from Envoy.
	maxRedisTimeout = 150 * time.Millisecond
)

var units = map[string]time.Duration{
	"second": time.Second,
	"minute": time.Minute,
	"hour":   time.Hour,
	"day":    24 * time.Hour,
}

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it (types, bounds, enums, the header pattern) and filled in
// the defaults. Pointers are nil for parameters without a default that were left out.
type params struct {
	RequestsPerUnit  *int64        `param:"requestsPerUnit"`
	Unit             string        `param:"unit"`
	Rate             *float64      `param:"rate"`
	Burst            *int64        `param:"burst"`
	KeyBy            string        `param:"keyBy"`
	Header           string        `param:"header"`
	HeadersOnSuccess bool          `param:"headersOnSuccess"`
	MaxKeys          int           `param:"maxKeys"`
	Backend          string        `param:"backend"`
	RedisURL         *string       `param:"redisUrl"`
	RedisKeyPrefix   *string       `param:"redisKeyPrefix"`
	RedisTimeout     time.Duration `param:"redisTimeout"`
	FailureMode      string        `param:"failureMode"`
}

// config is the parsed form of one instance's parameters.
type config struct {
	// rate is in tokens per second; burst is the bucket's capacity.
	rate  float64
	burst int64

	keyBy  string
	header string

	headersOnSuccess bool
	maxKeys          int

	backend        string
	redisURL       string
	redisKeyPrefix string // "" means the per-route default
	redisTimeout   time.Duration
	failureMode    string
}

// parseConfig adds to policy.yaml's checks what it cannot express: which parameters
// go together. Every error names the parameter at fault.
func parseConfig(raw map[string]interface{}) (*config, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	cfg := &config{
		keyBy:            p.KeyBy,
		header:           strings.ToLower(p.Header),
		headersOnSuccess: p.HeadersOnSuccess,
		maxKeys:          p.MaxKeys,
		backend:          p.Backend,
		redisTimeout:     p.RedisTimeout,
		failureMode:      p.FailureMode,
	}
	switch {
	case p.RequestsPerUnit != nil && p.Rate != nil:
		return nil, fmt.Errorf("parameters %q and %q: give one, not both", "requestsPerUnit", "rate")
	case p.RequestsPerUnit != nil:
		cfg.rate = float64(*p.RequestsPerUnit) / units[p.Unit].Seconds()
		// A full unit's allowance may be spent at once, like a fixed window, but it
		// refills smoothly.
		cfg.burst = *p.RequestsPerUnit
	case p.Rate != nil:
		// unit is ignored here: rate is per second, and unit has a default the engine
		// fills in.
		if *p.Rate <= 0 {
			return nil, fmt.Errorf("parameter %q: must be a number of requests per second above 0", "rate")
		}
		cfg.rate = *p.Rate
		cfg.burst = int64(math.Max(1, math.Ceil(*p.Rate)))
	default:
		return nil, fmt.Errorf("parameters %q or %q: one is required", "requestsPerUnit", "rate")
	}
	if p.Burst != nil {
		cfg.burst = *p.Burst
	}

	switch {
	case cfg.keyBy == keyByHeader && cfg.header == "":
		return nil, fmt.Errorf("parameter %q: required when keyBy is %q", "header", keyByHeader)
	case cfg.keyBy != keyByHeader && cfg.header != "":
		return nil, fmt.Errorf("parameter %q: only meaningful when keyBy is %q (keyBy is %q)", "header", keyByHeader, cfg.keyBy)
	}

	if p.RedisTimeout < time.Millisecond || p.RedisTimeout > maxRedisTimeout {
		return nil, fmt.Errorf("parameter %q: must be a duration between 1ms and %s, got %s", "redisTimeout", maxRedisTimeout, p.RedisTimeout)
	}
	if cfg.backend != backendRedis {
		// Most likely a forgotten "backend: redis": refuse rather than silently limit
		// per replica. (Parameters with a default in policy.yaml are not checked this
		// way, since the engine fills defaults in.)
		for _, set := range []struct {
			name  string
			value *string
		}{{"redisUrl", p.RedisURL}, {"redisKeyPrefix", p.RedisKeyPrefix}} {
			if set.value != nil {
				return nil, fmt.Errorf("parameter %q: only meaningful when backend is %q", set.name, backendRedis)
			}
		}
		return cfg, nil
	}
	if p.RedisURL == nil {
		return nil, fmt.Errorf("parameter %q: required when backend is %q", "redisUrl", backendRedis)
	}
	cfg.redisURL = *p.RedisURL
	if p.RedisKeyPrefix != nil {
		cfg.redisKeyPrefix = *p.RedisKeyPrefix
	}
	u, err := url.Parse(cfg.redisURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return nil, fmt.Errorf("parameter %q: must be redis://[user:password@]host:port[/db] or rediss://... (TLS), got %q", "redisUrl", redact(cfg.redisURL))
	}
	return cfg, nil
}

// redact hides a password in a Redis URL before it reaches an error message or log.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}
