package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// minRSABits refuses RSA keys too short to be trusted, even when the JWKS serves them.
const minRSABits = 2048

// errKeyMismatch marks a key whose type does not fit the token's algorithm.
var errKeyMismatch = errors.New("key type does not match the token's algorithm")

// jwks holds the JWK Set of one jwksUrl. keyfunc/jwkset fetch it once when the instance
// is created (bounded by fetchTimeout; a failure there is logged, not fatal, so the
// engine starts while the identity provider is down), refresh it in the background every
// refreshInterval, and re-fetch it on the request path only for an unknown kid, at most
// once per minRefreshInterval (the rate limiter's single token; a request that finds no
// token fails at once instead of waiting).
type jwks struct {
	kf     keyfunc.Keyfunc
	cancel context.CancelFunc
}

func newJWKS(policyName string, cfg Config) (*jwks, error) {
	// The background refresh goroutine lives until cancel; the policy calls it on Close
	// or when the instance is garbage collected.
	ctx, cancel := context.WithCancel(context.Background())
	noErrorOnFirstFetch := true
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:                    &http.Client{Timeout: cfg.FetchTimeout},
		HTTPTimeout:               cfg.FetchTimeout,
		NoErrorReturnFirstHTTPReq: &noErrorOnFirstFetch,
		RefreshInterval:           cfg.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(cfg.MinRefreshInterval), 1),
		// Also bounds the unknown-kid fetch itself, which runs under this context.
		RateLimitWaitMax: min(cfg.FetchTimeout, time.Second),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				slog.Warn(policyName+": JWKS fetch failed; keeping the keys already known", "url", u, "error", err)
			}
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("parameter %q: %w", "jwksUrl", err)
	}
	return &jwks{kf: kf, cancel: cancel}, nil
}

// keyfunc returns the jwt.Keyfunc for one request: it looks the key up by kid (or, for
// a token without kid, offers every key of the right type) and refuses keys whose type
// does not fit the algorithm. The parser has already checked the algorithm against the
// allow-list; this second check means a JWKS entry can never be used with an algorithm
// family it was not made for (e.g. an RSA public key as an HMAC secret).
func (j *jwks) keyfunc(ctx context.Context) jwt.Keyfunc {
	inner := j.kf.KeyfuncCtx(ctx)
	return func(token *jwt.Token) (interface{}, error) {
		alg := token.Method.Alg()
		key, err := inner(token)
		if err != nil {
			return nil, err
		}
		if set, ok := key.(jwt.VerificationKeySet); ok {
			var fitting jwt.VerificationKeySet
			for _, k := range set.Keys {
				if keyFitsAlg(alg, k) {
					fitting.Keys = append(fitting.Keys, k)
				}
			}
			if len(fitting.Keys) == 0 {
				return nil, fmt.Errorf("%w: no %s key in the JWKS", errKeyMismatch, alg)
			}
			return fitting, nil
		}
		if !keyFitsAlg(alg, key) {
			return nil, fmt.Errorf("%w: %s with %T", errKeyMismatch, alg, key)
		}
		return key, nil
	}
}

func keyFitsAlg(alg string, key interface{}) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= minRSABits
	case "ES256":
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	case "ES384":
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P384()
	case "ES512":
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P521()
	case "EdDSA":
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}
