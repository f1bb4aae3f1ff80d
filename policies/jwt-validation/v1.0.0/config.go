package jwtvalidation

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// supportedAlgorithms are the asymmetric JWS algorithms a JWKS can serve keys for. HMAC
// (HS*) is deliberately absent: a JWKS is public, so a shared secret in it is no secret,
// and accepting HS* next to RS* is what makes algorithm-confusion attacks possible. "none"
// is never accepted.
var supportedAlgorithms = []string{
	"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
}

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it and filled in the defaults.
type params struct {
	JWKSURL            string        `param:"jwksUrl"`
	Header             string        `param:"header"`
	AllowedAlgorithms  []string      `param:"allowedAlgorithms"`
	ClockSkew          time.Duration `param:"clockSkew"`
	RequireExpiration  bool          `param:"requireExpiration"`
	RefreshInterval    time.Duration `param:"refreshInterval"`
	MinRefreshInterval time.Duration `param:"minRefreshInterval"`
	FetchTimeout       time.Duration `param:"fetchTimeout"`
	Realm              string        `param:"realm"`
}

// config is the parsed form of one instance's parameters.
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

// parseConfig adds to policy.yaml's checks what it cannot express. Every error names
// the parameter at fault.
func parseConfig(raw map[string]interface{}) (*config, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	u, err := url.Parse(p.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("parameter %q: must be an absolute http(s) URL without credentials, got %q", "jwksUrl", p.JWKSURL)
	}
	cfg := &config{
		jwksURL:            p.JWKSURL,
		header:             strings.ToLower(p.Header),
		algorithms:         supportedAlgorithms,
		clockSkew:          p.ClockSkew,
		refreshInterval:    p.RefreshInterval,
		minRefreshInterval: p.MinRefreshInterval,
		fetchTimeout:       p.FetchTimeout,
		requireExpiration:  p.RequireExpiration,
		realm:              p.Realm,
	}
	if p.AllowedAlgorithms != nil {
		if cfg.algorithms, err = checkAlgorithms(p.AllowedAlgorithms); err != nil {
			return nil, fmt.Errorf("parameter %q: %w", "allowedAlgorithms", err)
		}
	}
	// policy.yaml bounds numbers only, not durations.
	for _, d := range []struct {
		name     string
		value    time.Duration
		min, max time.Duration
	}{
		{"clockSkew", cfg.clockSkew, 0, 5 * time.Minute},
		{"refreshInterval", cfg.refreshInterval, time.Second, 24 * time.Hour},
		{"minRefreshInterval", cfg.minRefreshInterval, time.Second, time.Hour},
		{"fetchTimeout", cfg.fetchTimeout, 100 * time.Millisecond, 30 * time.Second},
	} {
		if d.value < d.min || d.value > d.max {
			return nil, fmt.Errorf("parameter %q: must be a duration between %s and %s, got %s", d.name, d.min, d.max, d.value)
		}
	}
	return cfg, nil
}

func checkAlgorithms(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("must name at least one algorithm")
	}
	for _, alg := range list {
		switch {
		case strings.EqualFold(alg, "none"):
			return nil, fmt.Errorf(`"none" (unsigned tokens) is never accepted`)
		case strings.HasPrefix(strings.ToUpper(alg), "HS"):
			return nil, fmt.Errorf("%q is an HMAC algorithm; keys from a public JWKS must be asymmetric (and mixing HMAC with RSA enables algorithm confusion)", alg)
		case !slices.Contains(supportedAlgorithms, alg):
			return nil, fmt.Errorf("unsupported algorithm %q; supported: %s", alg, strings.Join(supportedAlgorithms, ", "))
		}
	}
	return list, nil
}
