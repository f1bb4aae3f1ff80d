package jwtvalidation

import (
	"fmt"
	"maps"
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
	JWKSURL            string            `param:"jwksUrl"`
	Header             string            `param:"header"`
	AllowedAlgorithms  []string          `param:"allowedAlgorithms"`
	ClockSkew          time.Duration     `param:"clockSkew"`
	RequireExpiration  bool              `param:"requireExpiration"`
	RefreshInterval    time.Duration     `param:"refreshInterval"`
	MinRefreshInterval time.Duration     `param:"minRefreshInterval"`
	FetchTimeout       time.Duration     `param:"fetchTimeout"`
	Realm              string            `param:"realm"`
	Issuer             string            `param:"issuer"`
	Audience           []string          `param:"audience"`
	ClaimHeaders       map[string]string `param:"claimHeaders"`
	RemoveTokenHeader  bool              `param:"removeTokenHeader"`
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

	issuer            string
	audiences         []string
	claimHeaders      []claimHeader // sorted by header for a stable action
	removeTokenHeader bool
}

// claimHeader forwards one claim to the upstream as a request header.
type claimHeader struct {
	claim  string
	header string
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
		issuer:             p.Issuer,
		audiences:          p.Audience,
		removeTokenHeader:  p.RemoveTokenHeader,
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
	// A token from the right provider but minted for another service must not be
	// accepted here.
	if len(cfg.audiences) == 0 {
		return nil, fmt.Errorf("parameter %q: must hold at least one accepted aud value", "audience")
	}
	// The builder's policy.yaml schema allows only a type in items, so this lives here.
	if i := slices.Index(cfg.audiences, ""); i >= 0 {
		return nil, fmt.Errorf("parameter %q: item %d is empty", "audience", i)
	}
	if cfg.claimHeaders, err = checkClaimHeaders(p.ClaimHeaders, cfg.header); err != nil {
		return nil, err
	}
	return cfg, nil
}

// reservedHeaders cannot receive claims: Envoy ignores changes to host, and the others
// carry framing or credentials.
var reservedHeaders = map[string]bool{
	"authorization": true, "connection": true, "content-length": true, "cookie": true,
	"host": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"transfer-encoding": true, "upgrade": true,
}

// checkClaimHeaders checks claimHeaders' values, header names, here: policy.yaml cannot
// describe an object's values.
func checkClaimHeaders(in map[string]string, tokenHeader string) ([]claimHeader, error) {
	var out []claimHeader
	seen := map[string]string{}
	// Sorted so that, with several errors, the same one is reported every time.
	for _, claim := range slices.Sorted(maps.Keys(in)) {
		header := strings.ToLower(in[claim])
		switch {
		case claim == "" || header == "":
			return nil, fmt.Errorf("parameter %q: claim %q: claim and header name must be non-empty", "claimHeaders", claim)
		case !policies.IsHeaderName(header):
			return nil, fmt.Errorf("parameter %q: claim %q: %q is not a valid header name", "claimHeaders", claim, in[claim])
		case reservedHeaders[header], header == tokenHeader, strings.HasPrefix(header, "x-envoy-"):
			return nil, fmt.Errorf("parameter %q: claim %q: header %q cannot carry claims", "claimHeaders", claim, header)
		case seen[header] != "":
			return nil, fmt.Errorf("parameter %q: claims %q and %q both map to header %q", "claimHeaders", seen[header], claim, header)
		}
		seen[header] = claim
		out = append(out, claimHeader{claim: claim, header: header})
	}
	slices.SortFunc(out, func(a, b claimHeader) int { return strings.Compare(a.header, b.header) })
	return out, nil
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
