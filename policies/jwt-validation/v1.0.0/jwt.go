// Package jwtvalidation is the jwtValidation policy, version 1: it admits a request only
// with a valid JWT signed by a key from the configured JWKS.
package jwtvalidation

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const (
	policyName = "jwtValidation"
	// SharedClaimsKey is where the verified claims (jwt.MapClaims, a
	// map[string]interface{}) are left in the request's Shared map for later policies.
	SharedClaimsKey = "jwtValidation.claims"
)

// Policy is one configured jwtValidation instance. The parser and configuration are
// immutable and the JWKS cache is safe for concurrent use, so ExecuteRequest may run on
// many goroutines at once.
type Policy struct {
	cfg    *config
	parser *jwt.Parser
	keys   *jwks
	// challenge is `Bearer` or `Bearer realm="..."`; errorChallenge is the same with
	// the separator before error parameters: `Bearer ` or `Bearer realm="...", `.
	challenge      string
	errorChallenge string
}

var (
	_ policies.RequestPolicy = (*Policy)(nil)
	_ policies.Closer        = (*Policy)(nil)
)

// GetPolicy is the factory the engine calls once per configured instance. It fetches the
// JWKS once (bounded by fetchTimeout) and starts its background refresh.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	keys, err := newJWKS(cfg)
	if err != nil {
		return nil, err
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.algorithms),
		jwt.WithLeeway(cfg.clockSkew),
	}
	if cfg.requireExpiration {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	p := &Policy{
		cfg:            cfg,
		parser:         jwt.NewParser(opts...),
		keys:           keys,
		challenge:      "Bearer",
		errorChallenge: "Bearer ",
	}
	if cfg.realm != "" {
		p.challenge = fmt.Sprintf(`Bearer realm="%s"`, cfg.realm)
		p.errorChallenge = p.challenge + ", "
	}
	// The engine calls Close when it retires the instance (policies.Closer); this is the
	// safety net for an instance dropped without Close.
	runtime.AddCleanup(p, func(cancel context.CancelFunc) { cancel() }, keys.cancel)
	return p, nil
}

// Close stops the background JWKS refresh.
func (p *Policy) Close() error {
	p.keys.cancel()
	return nil
}

// Name returns the name declared in policy.yaml.
func (p *Policy) Name() string { return policyName }

// Validate has nothing left to check: GetPolicy parsed and checked the parameters.
func (p *Policy) Validate(map[string]interface{}) error { return nil }

// ExecuteRequest admits the request when it carries a valid token.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	values := ctx.Headers.Values(p.cfg.header)
	if len(values) > 1 {
		return p.reject("multiple tokens")
	}
	token, ok := p.extract(values)
	if !ok {
		// RFC 6750 section 3.1: no error code when the request has no credentials.
		return p.deny(p.challenge, "missing bearer token", "no token")
	}
	reqCtx := ctx.Context
	if reqCtx == nil {
		reqCtx = context.Background()
	}
	claims := jwt.MapClaims{}
	if _, err := p.parser.ParseWithClaims(token, claims, p.keys.keyfunc(reqCtx)); err != nil {
		return p.reject(describe(err))
	}
	if ctx.Shared != nil {
		ctx.Shared[SharedClaimsKey] = claims
	}
	return nil
}

// extract returns the token from the configured header. With the authorization header
// the Bearer scheme is required; with a custom header a "Bearer " prefix is optional.
func (p *Policy) extract(values []string) (string, bool) {
	if len(values) == 0 {
		return "", false
	}
	v := strings.TrimSpace(values[0])
	scheme, rest, found := strings.Cut(v, " ")
	switch {
	case found && strings.EqualFold(scheme, "bearer"):
		v = strings.TrimSpace(rest)
	case p.cfg.header == "authorization":
		return "", false
	}
	return v, v != ""
}

// describe maps a validation error to a fixed, client-safe description: it must fit in a
// quoted-string and must not echo attacker-controlled input.
func describe(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not yet valid"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	case errors.Is(err, errKeyMismatch):
		return "key does not match algorithm"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unknown signing key"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// Covers both a bad signature and an algorithm outside the allow-list.
		return "invalid signature or algorithm"
	}
	return "invalid token"
}

func (p *Policy) reject(description string) *policies.RequestPolicyAction {
	challenge := p.errorChallenge + `error="invalid_token", error_description="` + description + `"`
	return p.deny(challenge, "invalid token: "+description, description)
}

func (p *Policy) deny(challenge, body, details string) *policies.RequestPolicyAction {
	action := policies.Deny(401, body+"\n")
	action.Immediate.Headers["www-authenticate"] = challenge
	action.Immediate.Details = policyName + ": " + details
	return action
}
