// Package jwtauth is the building block of JWKS-based bearer-token policies: it checks
// the parameters they share, keeps the JWK Set of one identity provider fresh, and
// admits a request only with a valid JWT signed by one of its keys, denying anything
// else with an RFC 6750 challenge. What a policy does with the verified claims is left
// to the policy.
package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Verifier checks the bearer tokens of one policy instance. The parser and
// configuration are immutable and the JWKS cache is safe for concurrent use, so Verify
// may run on many goroutines at once.
type Verifier struct {
	policyName string
	header     string
	parser     *jwt.Parser
	keys       *jwks
	// challenge is `Bearer` or `Bearer realm="..."`; errorChallenge is the same with
	// the separator before error parameters: `Bearer ` or `Bearer realm="...", `.
	challenge      string
	errorChallenge string
}

// New fetches the JWKS once (bounded by cfg.FetchTimeout) and starts its background
// refresh, which runs until Close. policyName prefixes log lines and deny details.
// extra adds parser checks beyond cfg's, such as jwt.WithIssuer.
func New(policyName string, cfg Config, extra ...jwt.ParserOption) (*Verifier, error) {
	keys, err := newJWKS(policyName, cfg)
	if err != nil {
		return nil, err
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithLeeway(cfg.ClockSkew),
	}
	if cfg.RequireExpiration {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	v := &Verifier{
		policyName:     policyName,
		header:         cfg.Header,
		parser:         jwt.NewParser(append(opts, extra...)...),
		keys:           keys,
		challenge:      "Bearer",
		errorChallenge: "Bearer ",
	}
	if cfg.Realm != "" {
		v.challenge = fmt.Sprintf(`Bearer realm="%s"`, cfg.Realm)
		v.errorChallenge = v.challenge + ", "
	}
	// The engine calls the policy's Close when it retires the instance
	// (policies.Closer); this is the safety net for an instance dropped without Close.
	runtime.AddCleanup(v, func(cancel context.CancelFunc) { cancel() }, keys.cancel)
	return v, nil
}

// Close stops the background JWKS refresh. It never fails; the error is there so that a
// policy's Close (policies.Closer) can return it.
func (v *Verifier) Close() error {
	v.keys.cancel()
	return nil
}

// Verify returns the claims of the request's valid token, or, when there is none, the
// 401 action that denies the request.
func (v *Verifier) Verify(ctx *policies.RequestContext) (jwt.MapClaims, *policies.RequestPolicyAction) {
	values := ctx.Headers.Values(v.header)
	if len(values) > 1 {
		return nil, v.reject("multiple tokens")
	}
	token, ok := v.extract(values)
	if !ok {
		// RFC 6750 section 3.1: no error code when the request has no credentials.
		return nil, v.deny(v.challenge, "missing bearer token", "no token")
	}
	reqCtx := ctx.Context
	if reqCtx == nil {
		reqCtx = context.Background()
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keys.keyfunc(reqCtx)); err != nil {
		return nil, v.reject(describe(err))
	}
	return claims, nil
}

// extract returns the token from the configured header. With the authorization header
// the Bearer scheme is required; with a custom header a "Bearer " prefix is optional.
func (v *Verifier) extract(values []string) (string, bool) {
	if len(values) == 0 {
		return "", false
	}
	s := strings.TrimSpace(values[0])
	scheme, rest, found := strings.Cut(s, " ")
	switch {
	case found && strings.EqualFold(scheme, "bearer"):
		s = strings.TrimSpace(rest)
	case v.header == "authorization":
		return "", false
	}
	return s, s != ""
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
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
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

func (v *Verifier) reject(description string) *policies.RequestPolicyAction {
	challenge := v.errorChallenge + `error="invalid_token", error_description="` + description + `"`
	return v.deny(challenge, "invalid token: "+description, description)
}

func (v *Verifier) deny(challenge, body, details string) *policies.RequestPolicyAction {
	action := policies.Deny(401, body+"\n")
	action.Immediate.Headers["www-authenticate"] = challenge
	action.Immediate.Details = v.policyName + ": " + details
	return action
}
