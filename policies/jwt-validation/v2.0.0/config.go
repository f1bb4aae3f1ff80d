package jwtvalidation

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth"
)

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it and filled in the defaults.
type params struct {
	jwtauth.Params    `param:",squash"`
	Issuer            string            `param:"issuer"`
	Audience          []string          `param:"audience"`
	ClaimHeaders      map[string]string `param:"claimHeaders"`
	RemoveTokenHeader bool              `param:"removeTokenHeader"`
}

// config is the parsed form of one instance's parameters.
type config struct {
	jwtauth.Config
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
	shared, err := jwtauth.ParseParams(p.Params)
	if err != nil {
		return nil, err
	}
	cfg := &config{
		Config:            shared,
		issuer:            p.Issuer,
		audiences:         p.Audience,
		removeTokenHeader: p.RemoveTokenHeader,
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
	if cfg.claimHeaders, err = checkClaimHeaders(p.ClaimHeaders, cfg.Header); err != nil {
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
