package jwtvalidation

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// supportedAlgorithms are the asymmetric JWS algorithms a JWKS can serve keys for. HMAC
// (HS*) is deliberately absent: a JWKS is public, so a shared secret in it is no secret,
// and accepting HS* next to RS* is what makes algorithm-confusion attacks possible. "none"
// is never accepted.
//
// Kept sorted (byte order) for sort.SearchStrings.
var supportedAlgorithms = []string{
	"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
}

const (
	defaultHeader             = "authorization"
	defaultClockSkew          = 30 * time.Second
	maxClockSkew              = 5 * time.Minute
	defaultRefreshInterval    = 10 * time.Minute
	defaultMinRefreshInterval = 30 * time.Second
	defaultFetchTimeout       = 5 * time.Second
)

// config is the parsed, validated form of one instance's parameters.
type config struct {
	jwksURL            string
	header             string
	algorithms         []string
	clockSkew          time.Duration
	refreshInterval    time.Duration
	minRefreshInterval time.Duration
	fetchTimeout       time.Duration
	requireExpiration  bool
	realm              string
}

var knownParams = []string{
	"allowedAlgorithms", "clockSkew", "fetchTimeout", "header", "jwksUrl", "minRefreshInterval",
	"realm", "refreshInterval", "requireExpiration",
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
		header:             defaultHeader,
		algorithms:         supportedAlgorithms,
		clockSkew:          defaultClockSkew,
		refreshInterval:    defaultRefreshInterval,
		minRefreshInterval: defaultMinRefreshInterval,
		fetchTimeout:       defaultFetchTimeout,
		requireExpiration:  true,
	}

	raw, ok := params["jwksUrl"]
	if !ok || raw == nil {
		return nil, fmt.Errorf("parameter %q: required", "jwksUrl")
	}
	s, ok := raw.(string)
	if !ok {
		return nil, fmt.Errorf("parameter %q: must be a string, got %T", "jwksUrl", raw)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("parameter %q: must be an absolute http(s) URL without credentials, got %q", "jwksUrl", s)
	}
	cfg.jwksURL = s

	if raw, ok := params["header"]; ok && raw != nil {
		h, ok := raw.(string)
		if !ok || h == "" {
			return nil, fmt.Errorf("parameter %q: must be a non-empty string", "header")
		}
		if err := checkHeaderName(h); err != nil {
			return nil, fmt.Errorf("parameter %q: %w", "header", err)
		}
		cfg.header = strings.ToLower(h)
	}
	if raw, ok := params["allowedAlgorithms"]; ok && raw != nil {
		if cfg.algorithms, err = parseAlgorithms(raw); err != nil {
			return nil, fmt.Errorf("parameter %q: %w", "allowedAlgorithms", err)
		}
	}
	durations := []struct {
		name     string
		dst      *time.Duration
		min, max time.Duration
	}{
		{"clockSkew", &cfg.clockSkew, 0, maxClockSkew},
		{"refreshInterval", &cfg.refreshInterval, time.Second, 24 * time.Hour},
		{"minRefreshInterval", &cfg.minRefreshInterval, time.Second, time.Hour},
		{"fetchTimeout", &cfg.fetchTimeout, 100 * time.Millisecond, 30 * time.Second},
	}
	for _, d := range durations {
		raw, ok := params[d.name]
		if !ok || raw == nil {
			continue
		}
		s, isString := raw.(string)
		v, err := time.ParseDuration(s)
		if !isString || err != nil || v < d.min || v > d.max {
			return nil, fmt.Errorf("parameter %q: must be a duration between %s and %s, got %v", d.name, d.min, d.max, raw)
		}
		*d.dst = v
	}
	if raw, ok := params["requireExpiration"]; ok && raw != nil {
		b, ok := raw.(bool)
		if !ok {
			return nil, fmt.Errorf("parameter %q: must be a boolean, got %T", "requireExpiration", raw)
		}
		cfg.requireExpiration = b
	}
	if raw, ok := params["realm"]; ok && raw != nil {
		r, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("parameter %q: must be a string, got %T", "realm", raw)
		}
		for i := 0; i < len(r); i++ {
			if c := r[i]; c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
				return nil, fmt.Errorf("parameter %q: must not contain quotes, backslashes or control characters", "realm")
			}
		}
		cfg.realm = r
	}
	return cfg, nil
}

func parseAlgorithms(raw interface{}) ([]string, error) {
	var list []interface{}
	switch v := raw.(type) {
	case []interface{}:
		list = v
	case []string:
		for _, s := range v {
			list = append(list, s)
		}
	default:
		return nil, fmt.Errorf("must be an array of algorithm names, got %T", raw)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("must name at least one algorithm")
	}
	algs := make([]string, 0, len(list))
	for i, item := range list {
		alg, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("item %d must be a string, got %T", i, item)
		}
		switch {
		case strings.EqualFold(alg, "none"):
			return nil, fmt.Errorf(`"none" (unsigned tokens) is never accepted`)
		case strings.HasPrefix(strings.ToUpper(alg), "HS"):
			return nil, fmt.Errorf("%q is an HMAC algorithm; keys from a public JWKS must be asymmetric (and mixing HMAC with RSA enables algorithm confusion)", alg)
		}
		i := sort.SearchStrings(supportedAlgorithms, alg)
		if i == len(supportedAlgorithms) || supportedAlgorithms[i] != alg {
			return nil, fmt.Errorf("unsupported algorithm %q; supported: %s", alg, strings.Join(supportedAlgorithms, ", "))
		}
		algs = append(algs, alg)
	}
	return algs, nil
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
