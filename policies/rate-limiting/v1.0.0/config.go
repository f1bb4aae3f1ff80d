package ratelimit

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"
)

const (
	keyByClientAddress = "clientAddress"
	keyByHeader        = "header"
	keyByRoute         = "route"

	backendLocal = "local"
	backendRedis = "redis"

	failOpen   = "open"
	failClosed = "closed"

	defaultMaxKeys      = 10000
	defaultRedisTimeout = 50 * time.Millisecond
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

// config is the parsed, validated form of one instance's parameters.
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

var knownParams = []string{
	"backend", "burst", "failureMode", "header", "headersOnSuccess", "keyBy", "maxKeys",
	"rate", "redisKeyPrefix", "redisTimeout", "redisUrl", "requestsPerUnit", "unit",
}

// parseConfig validates params and turns them into a config. Every error names the
// parameter at fault.
func parseConfig(params map[string]interface{}) (*config, error) {
	var unknown []string
	for name := range params {
		if i := sort.SearchStrings(knownParams, name); i == len(knownParams) || knownParams[i] != name {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown parameter(s) %s; known: %s", strings.Join(unknown, ", "), strings.Join(knownParams, ", "))
	}

	cfg := &config{
		keyBy:        keyByClientAddress,
		maxKeys:      defaultMaxKeys,
		backend:      backendLocal,
		redisTimeout: defaultRedisTimeout,
		failureMode:  failOpen,
	}
	if err := parseRate(params, cfg); err != nil {
		return nil, err
	}

	var err error
	if cfg.keyBy, err = optEnum(params, "keyBy", cfg.keyBy, keyByClientAddress, keyByHeader, keyByRoute); err != nil {
		return nil, err
	}
	header, err := optString(params, "header")
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.keyBy == keyByHeader && header == "":
		return nil, fmt.Errorf("parameter %q: required when keyBy is %q", "header", keyByHeader)
	case cfg.keyBy != keyByHeader && header != "":
		return nil, fmt.Errorf("parameter %q: only meaningful when keyBy is %q (keyBy is %q)", "header", keyByHeader, cfg.keyBy)
	case header != "":
		if err := checkHeaderName(header); err != nil {
			return nil, fmt.Errorf("parameter %q: %w", "header", err)
		}
		cfg.header = strings.ToLower(header)
	}

	if cfg.headersOnSuccess, err = optBool(params, "headersOnSuccess"); err != nil {
		return nil, err
	}
	if raw, ok := params["maxKeys"]; ok && raw != nil {
		n, err := toInt(raw)
		if err != nil || n < 16 || n > 10_000_000 {
			return nil, fmt.Errorf("parameter %q: must be an integer between 16 and 10000000, got %v", "maxKeys", raw)
		}
		cfg.maxKeys = int(n)
	}

	if cfg.backend, err = optEnum(params, "backend", cfg.backend, backendLocal, backendRedis); err != nil {
		return nil, err
	}
	if cfg.failureMode, err = optEnum(params, "failureMode", cfg.failureMode, failOpen, failClosed); err != nil {
		return nil, err
	}
	if cfg.redisURL, err = optString(params, "redisUrl"); err != nil {
		return nil, err
	}
	if cfg.redisKeyPrefix, err = optString(params, "redisKeyPrefix"); err != nil {
		return nil, err
	}
	if raw, ok := params["redisTimeout"]; ok && raw != nil {
		s, ok := raw.(string)
		d, err := time.ParseDuration(s)
		if !ok || err != nil || d < time.Millisecond || d > maxRedisTimeout {
			return nil, fmt.Errorf("parameter %q: must be a duration between 1ms and %s, got %v", "redisTimeout", maxRedisTimeout, raw)
		}
		cfg.redisTimeout = d
	}
	if cfg.backend == backendRedis {
		if cfg.redisURL == "" {
			return nil, fmt.Errorf("parameter %q: required when backend is %q", "redisUrl", backendRedis)
		}
		u, err := url.Parse(cfg.redisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return nil, fmt.Errorf("parameter %q: must be redis://[user:password@]host:port[/db] or rediss://... (TLS), got %q", "redisUrl", redact(cfg.redisURL))
		}
	} else {
		// Most likely a forgotten "backend: redis": refuse rather than silently limit
		// per replica. (Parameters with a default in policy.yaml are not checked this
		// way, since the engine may fill defaults in.)
		for _, name := range []string{"redisUrl", "redisKeyPrefix"} {
			if _, set := params[name]; set {
				return nil, fmt.Errorf("parameter %q: only meaningful when backend is %q", name, backendRedis)
			}
		}
	}
	return cfg, nil
}

// parseRate accepts either requestsPerUnit (+ unit) or rate, each with an optional burst.
func parseRate(params map[string]interface{}, cfg *config) error {
	rawRPU, hasRPU := params["requestsPerUnit"]
	rawRate, hasRate := params["rate"]
	switch {
	case hasRPU && hasRate:
		return fmt.Errorf("parameters %q and %q: give one, not both", "requestsPerUnit", "rate")
	case hasRPU:
		n, err := toInt(rawRPU)
		if err != nil || n < 1 {
			return fmt.Errorf("parameter %q: must be a positive integer, got %v", "requestsPerUnit", rawRPU)
		}
		unit, err := optEnum(params, "unit", "second", "second", "minute", "hour", "day")
		if err != nil {
			return err
		}
		cfg.rate = float64(n) / units[unit].Seconds()
		// A full unit's allowance may be spent at once, like a fixed window, but it
		// refills smoothly.
		cfg.burst = n
	case hasRate:
		// unit is ignored here: rate is per second, and unit has a default the engine
		// may have filled in.
		r, ok := toFloat(rawRate)
		if !ok || r <= 0 || r > 1e9 {
			return fmt.Errorf("parameter %q: must be a number of requests per second above 0, got %v", "rate", rawRate)
		}
		cfg.rate = r
		cfg.burst = int64(math.Max(1, math.Ceil(r)))
	default:
		return fmt.Errorf("parameters %q or %q: one is required", "requestsPerUnit", "rate")
	}
	if raw, ok := params["burst"]; ok && raw != nil {
		n, err := toInt(raw)
		if err != nil || n < 1 || n > 1e9 {
			return fmt.Errorf("parameter %q: must be a positive integer, got %v", "burst", raw)
		}
		cfg.burst = n
	}
	return nil
}

func optString(params map[string]interface{}, name string) (string, error) {
	raw, ok := params[name]
	if !ok || raw == nil {
		return "", nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", fmt.Errorf("parameter %q: must be a string, got %T", name, raw)
	}
	return s, nil
}

func optBool(params map[string]interface{}, name string) (bool, error) {
	raw, ok := params[name]
	if !ok || raw == nil {
		return false, nil
	}
	b, ok := raw.(bool)
	if !ok {
		return false, fmt.Errorf("parameter %q: must be a boolean, got %T", name, raw)
	}
	return b, nil
}

func optEnum(params map[string]interface{}, name, def string, allowed ...string) (string, error) {
	s, err := optString(params, name)
	if err != nil || s == "" {
		return def, err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", fmt.Errorf("parameter %q: must be one of %s, got %q", name, strings.Join(allowed, ", "), s)
}

// toInt accepts the integer shapes YAML and JSON decoders produce.
func toInt(raw interface{}) (int64, error) {
	switch v := raw.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case uint64:
		if v > math.MaxInt64 {
			return 0, fmt.Errorf("too large")
		}
		return int64(v), nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, fmt.Errorf("not an integer")
		}
		return int64(v), nil
	}
	return 0, fmt.Errorf("not an integer")
}

func toFloat(raw interface{}) (float64, bool) {
	switch v := raw.(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	}
	return 0, false
}

func checkHeaderName(name string) error {
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return fmt.Errorf("%q is not a valid header name (character %q)", name, c)
		}
	}
	return nil
}

// redact hides a password in a Redis URL before it reaches an error message or log.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}
