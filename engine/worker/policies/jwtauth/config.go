package jwtauth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// SupportedAlgorithms are the asymmetric JWS algorithms a JWKS can serve keys for. HMAC
// (HS*) is deliberately absent: a JWKS is public, so a shared secret in it is no secret,
// and accepting HS* next to RS* is what makes algorithm-confusion attacks possible. "none"
// is never accepted.
var SupportedAlgorithms = []string{
	"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
}

// Params are the parameters every JWKS-based policy declares in its policy.yaml, with
// the names the engine checks them under. A policy with more parameters embeds Params
// in its own params struct with the tag `param:",squash"`.
type Params struct {
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

// Config is the checked form of Params.
type Config struct {
	JWKSURL string
	// Header is lower case.
	Header             string
	Algorithms         []string
	ClockSkew          time.Duration
	RefreshInterval    time.Duration
	MinRefreshInterval time.Duration
	FetchTimeout       time.Duration
	RequireExpiration  bool
	Realm              string
}

// ParseParams adds to policy.yaml's checks what it cannot express. Every error names
// the parameter at fault.
func ParseParams(p Params) (Config, error) {
	u, err := url.Parse(p.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return Config{}, fmt.Errorf("parameter %q: must be an absolute http(s) URL without credentials, got %q", "jwksUrl", p.JWKSURL)
	}
	cfg := Config{
		JWKSURL:            p.JWKSURL,
		Header:             strings.ToLower(p.Header),
		Algorithms:         SupportedAlgorithms,
		ClockSkew:          p.ClockSkew,
		RefreshInterval:    p.RefreshInterval,
		MinRefreshInterval: p.MinRefreshInterval,
		FetchTimeout:       p.FetchTimeout,
		RequireExpiration:  p.RequireExpiration,
		Realm:              p.Realm,
	}
	if p.AllowedAlgorithms != nil {
		if cfg.Algorithms, err = checkAlgorithms(p.AllowedAlgorithms); err != nil {
			return Config{}, fmt.Errorf("parameter %q: %w", "allowedAlgorithms", err)
		}
	}
	// policy.yaml bounds numbers only, not durations.
	for _, d := range []struct {
		name     string
		value    time.Duration
		min, max time.Duration
	}{
		{"clockSkew", cfg.ClockSkew, 0, 5 * time.Minute},
		{"refreshInterval", cfg.RefreshInterval, time.Second, 24 * time.Hour},
		{"minRefreshInterval", cfg.MinRefreshInterval, time.Second, time.Hour},
		{"fetchTimeout", cfg.FetchTimeout, 100 * time.Millisecond, 30 * time.Second},
	} {
		if d.value < d.min || d.value > d.max {
			return Config{}, fmt.Errorf("parameter %q: must be a duration between %s and %s, got %s", d.name, d.min, d.max, d.value)
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
		case !slices.Contains(SupportedAlgorithms, alg):
			return nil, fmt.Errorf("unsupported algorithm %q; supported: %s", alg, strings.Join(SupportedAlgorithms, ", "))
		}
	}
	return list, nil
}
