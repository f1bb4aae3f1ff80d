package jwtvalidation

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

// sign signs claims, adding the test issuer and audience unless the claims name their own.
func sign(t *testing.T, method jwt.SigningMethod, kid string, key interface{}, claims jwt.MapClaims) string {
	t.Helper()
	withDefaults := jwt.MapClaims{"iss": testIssuer, "aud": testAudience}
	for k, v := range claims {
		withDefaults[k] = v
	}
	return signRaw(t, method, kid, key, withDefaults)
}

// signRaw signs exactly the given claims.
func signRaw(t *testing.T, method jwt.SigningMethod, kid string, key interface{}, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": "user-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// expectDenied checks a 401 with the RFC 6750 invalid_token challenge and description.
func expectDenied(t *testing.T, p *Policy, headers map[string][]string, description string) {
	t.Helper()
	a := p.ExecuteRequest(request(headers), nil)
	if a == nil || a.Immediate == nil {
		t.Fatalf("want 401 %q, got continue", description)
	}
	if a.Immediate.Status != 401 {
		t.Fatalf("status %d, want 401", a.Immediate.Status)
	}
	want := `Bearer error="invalid_token", error_description="` + description + `"`
	if got := a.Immediate.Headers["www-authenticate"]; got != want {
		t.Fatalf("www-authenticate = %q, want %q", got, want)
	}
}

func expectAdmitted(t *testing.T, p *Policy, headers map[string][]string) {
	t.Helper()
	r := request(headers)
	if a := p.ExecuteRequest(r, nil); a != nil {
		t.Fatalf("want admitted, got %d %q (%s)", a.Immediate.Status, a.Immediate.Body, a.Immediate.Headers["www-authenticate"])
	}
	if _, ok := r.Shared[SharedClaimsKey].(jwt.MapClaims); !ok {
		t.Fatal("verified claims not shared with later policies")
	}
}

func TestValidTokens(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-a", &rsaA.PublicKey, "RS256"), ecJWK("ec-a", &ecA.PublicKey))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL})

	expectAdmitted(t, p, bearer(sign(t, jwt.SigningMethodRS256, "rsa-a", rsaA, validClaims())))
	expectAdmitted(t, p, bearer(sign(t, jwt.SigningMethodES256, "ec-a", ecA, validClaims())))
	// The JWK pins alg RS256, so the same RSA key cannot be used with PS256.
	expectDenied(t, p, bearer(sign(t, jwt.SigningMethodPS256, "rsa-a", rsaA, validClaims())), "unknown signing key")
	// A token without kid is tried against every key of the right type.
	expectAdmitted(t, p, bearer(sign(t, jwt.SigningMethodES256, "", ecA, validClaims())))
	// Scheme is case-insensitive.
	expectAdmitted(t, p, map[string][]string{"authorization": {"bearer " + sign(t, jwt.SigningMethodRS256, "rsa-a", rsaA, validClaims())}})
	if hits := srv.hits.Load(); hits != 1 {
		t.Fatalf("JWKS fetched %d times; valid tokens must be served from the cache", hits)
	}
}

func TestTimeClaims(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-a", &rsaA.PublicKey, "RS256"))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL, "clockSkew": "30s"})
	now := time.Now()
	tok := func(c jwt.MapClaims) map[string][]string {
		return bearer(sign(t, jwt.SigningMethodRS256, "rsa-a", rsaA, c))
	}

	expectDenied(t, p, tok(jwt.MapClaims{"exp": now.Add(-time.Hour).Unix()}), "token expired")
	expectAdmitted(t, p, tok(jwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()})) // within skew
	expectDenied(t, p, tok(jwt.MapClaims{"exp": now.Add(-45 * time.Second).Unix()}), "token expired")
	expectDenied(t, p, tok(jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(10 * time.Minute).Unix()}), "token not yet valid")
	expectAdmitted(t, p, tok(jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(10 * time.Second).Unix()}))
	expectDenied(t, p, tok(jwt.MapClaims{"sub": "no-exp"}), "required claim missing")

	lax := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL, "requireExpiration": false})
	expectAdmitted(t, lax, tok(jwt.MapClaims{"sub": "no-exp"}))
}

func TestAlgorithmAttacks(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-a", &rsaA.PublicKey, ""), ecJWK("ec-a", &ecA.PublicKey), rsaJWK("weak", &rsaWeak.PublicKey, ""))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL, "allowedAlgorithms": []interface{}{"RS256", "ES256"}})

	t.Run("none", func(t *testing.T) {
		tok := sign(t, jwt.SigningMethodNone, "rsa-a", jwt.UnsafeAllowNoneSignatureType, validClaims())
		expectDenied(t, p, bearer(tok), "invalid signature or algorithm")
	})
	t.Run("HS256 with the RSA public key as secret", func(t *testing.T) {
		der, err := x509.MarshalPKIXPublicKey(&rsaA.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		expectDenied(t, p, bearer(sign(t, jwt.SigningMethodHS256, "rsa-a", secret, validClaims())), "invalid signature or algorithm")
		// Not even with a permissive allow-list could HS256 get through: HS* cannot be configured.
		if _, err := policytest.Build(t, ".", GetPolicy, map[string]interface{}{"jwksUrl": srv.URL, "issuer": testIssuer, "audience": []interface{}{testAudience}, "allowedAlgorithms": []interface{}{"RS256", "HS256"}}); err == nil {
			t.Fatal("HS256 accepted in allowedAlgorithms")
		}
	})
	t.Run("algorithm outside the allow-list", func(t *testing.T) {
		expectDenied(t, p, bearer(sign(t, jwt.SigningMethodRS512, "rsa-a", rsaA, validClaims())), "invalid signature or algorithm")
		expectDenied(t, p, bearer(sign(t, jwt.SigningMethodES384, "", ecP384, validClaims())), "invalid signature or algorithm")
	})
	t.Run("key type does not match algorithm", func(t *testing.T) {
		// RS256 header naming the EC key.
		expectDenied(t, p, bearer(sign(t, jwt.SigningMethodRS256, "ec-a", rsaA, validClaims())), "key does not match algorithm")
		// ES256 header naming the RSA key.
		expectDenied(t, p, bearer(sign(t, jwt.SigningMethodES256, "rsa-a", ecA, validClaims())), "key does not match algorithm")
	})
	t.Run("RSA key below 2048 bits", func(t *testing.T) {
		expectDenied(t, p, bearer(sign(t, jwt.SigningMethodRS256, "weak", rsaWeak, validClaims())), "key does not match algorithm")
	})
	t.Run("signature by another key", func(t *testing.T) {
		expectDenied(t, p, bearer(sign(t, jwt.SigningMethodRS256, "rsa-a", rsaOther, validClaims())), "invalid signature or algorithm")
	})
	t.Run("tampered payload", func(t *testing.T) {
		tok := sign(t, jwt.SigningMethodRS256, "rsa-a", rsaA, validClaims())
		parts := strings.Split(tok, ".")
		other := strings.Split(sign(t, jwt.SigningMethodRS256, "rsa-a", rsaA, jwt.MapClaims{"sub": "admin", "exp": time.Now().Add(time.Hour).Unix()}), ".")
		expectDenied(t, p, bearer(parts[0]+"."+other[1]+"."+parts[2]), "invalid signature or algorithm")
	})
	t.Run("malformed", func(t *testing.T) {
		expectDenied(t, p, bearer("not.a.jwt"), "malformed token")
		expectDenied(t, p, bearer("abc"), "malformed token")
	})
}

func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-a", &rsaA.PublicKey, "RS256"))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL, "minRefreshInterval": "1h"})
	if hits := srv.hits.Load(); hits != 1 {
		t.Fatalf("initial fetches = %d, want 1", hits)
	}
	// Unknown kid: one refetch, still unknown.
	expectDenied(t, p, bearer(sign(t, jwt.SigningMethodRS256, "nope-1", rsaA, validClaims())), "unknown signing key")
	if hits := srv.hits.Load(); hits != 2 {
		t.Fatalf("fetches after an unknown kid = %d, want 2", hits)
	}
	// More unknown kids within minRefreshInterval: no fetch at all, and no waiting.
	start := time.Now()
	for i := 0; i < 5; i++ {
		expectDenied(t, p, bearer(sign(t, jwt.SigningMethodRS256, "nope-2", rsaA, validClaims())), "unknown signing key")
	}
	if hits := srv.hits.Load(); hits != 2 {
		t.Fatalf("fetches = %d; unknown kids must not hammer the JWKS endpoint", hits)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("rate-limited lookups took %v; they must fail fast", d)
	}
}

func TestKeyRotationByKid(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("2024", &rsaA.PublicKey, "RS256"))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL})
	oldTok := bearer(sign(t, jwt.SigningMethodRS256, "2024", rsaA, validClaims()))
	expectAdmitted(t, p, oldTok)

	// The provider rotates: new key 2025, old key retired.
	srv.setKeys(rsaJWK("2025", &rsaB.PublicKey, "RS256"))
	expectAdmitted(t, p, bearer(sign(t, jwt.SigningMethodRS256, "2025", rsaB, validClaims())))
	// The refresh replaced the set, so the retired key no longer verifies anything.
	expectDenied(t, p, oldTok, "unknown signing key")
}

func TestBackgroundRefresh(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("a", &rsaA.PublicKey, "RS256"))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL, "refreshInterval": "1s", "minRefreshInterval": "1h"})
	// Spend the unknown-kid refresh so that only the background refresh can pick up "b".
	expectDenied(t, p, bearer(sign(t, jwt.SigningMethodRS256, "x", rsaA, validClaims())), "unknown signing key")
	srv.setKeys(rsaJWK("a", &rsaA.PublicKey, "RS256"), rsaJWK("b", &rsaB.PublicKey, "RS256"))
	tokB := bearer(sign(t, jwt.SigningMethodRS256, "b", rsaB, validClaims()))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if a := p.ExecuteRequest(request(tokB), nil); a == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key b not picked up by the background refresh within 5s (fetches: %d)", srv.hits.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestJWKSDownAtStart(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("a", &rsaA.PublicKey, "RS256"))
	srv.setStatus(http.StatusServiceUnavailable)
	tok := bearer(sign(t, jwt.SigningMethodRS256, "a", rsaA, validClaims()))

	// The engine must start anyway, and deny while it knows no keys.
	down := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL})
	expectDenied(t, down, tok, "unknown signing key")

	// Started while the provider was down, first request after it is back: the unknown-kid
	// refresh recovers without waiting for the background refresh.
	recovering := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL})
	srv.setStatus(http.StatusOK)
	expectAdmitted(t, recovering, tok)
}

func TestTokenLocation(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("a", &rsaA.PublicKey, "RS256"))
	tok := sign(t, jwt.SigningMethodRS256, "a", rsaA, validClaims())

	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL, "realm": "api"})
	for name, h := range map[string]map[string][]string{
		"no header":      {},
		"basic scheme":   {"authorization": {"Basic dTpw"}},
		"bare token":     {"authorization": {tok}},
		"empty bearer":   {"authorization": {"Bearer "}},
		"token in other": {"x-token": {tok}},
	} {
		a := p.ExecuteRequest(request(h), nil)
		if a == nil || a.Immediate == nil || a.Immediate.Status != 401 {
			t.Fatalf("%s: want 401, got %+v", name, a)
		}
		if got := a.Immediate.Headers["www-authenticate"]; got != `Bearer realm="api"` {
			t.Fatalf("%s: www-authenticate = %q; a request without a token gets no error code", name, got)
		}
	}
	a := p.ExecuteRequest(request(map[string][]string{"authorization": {"Bearer " + tok, "Bearer " + tok}}), nil)
	if a == nil || a.Immediate.Headers["www-authenticate"] != `Bearer realm="api", error="invalid_token", error_description="multiple tokens"` {
		t.Fatalf("two authorization headers: %+v", a)
	}

	custom := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL, "header": "X-Token"})
	expectAdmitted(t, custom, map[string][]string{"x-token": {tok}})
	expectAdmitted(t, custom, map[string][]string{"x-token": {"Bearer " + tok}})
}

func TestEverySupportedAlgorithmIsAccepted(t *testing.T) {
	for _, alg := range supportedAlgorithms {
		if _, err := parse(t, map[string]interface{}{"jwksUrl": "https://idp/jwks", "issuer": testIssuer, "audience": []interface{}{testAudience}, "allowedAlgorithms": []interface{}{alg}}); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

// TestRejectedParameters checks each bad parameter is refused, by policy.yaml's schema
// or by parseConfig, with an error that names it. Nothing is fetched: the checks come
// before the JWKS.
func TestRejectedParameters(t *testing.T) {
	u := "https://idp.example.com/.well-known/jwks.json"
	with := func(kv ...interface{}) map[string]interface{} {
		m := map[string]interface{}{"jwksUrl": u, "issuer": testIssuer, "audience": []interface{}{testAudience}}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		params  map[string]interface{}
		wantErr string
	}{
		{"jwksUrl missing", map[string]interface{}{"issuer": testIssuer, "audience": []interface{}{testAudience}}, `parameter "jwksUrl": required parameter missing`},
		{"jwksUrl type", with("jwksUrl", 5), `parameter "jwksUrl": got number, want string`},
		{"jwksUrl relative", with("jwksUrl", "/jwks.json"), `parameter "jwksUrl": '/jwks.json' is not valid uri`},
		{"jwksUrl scheme", with("jwksUrl", "ftp://idp/jwks"), `parameter "jwksUrl": must be an absolute http(s) URL`},
		{"jwksUrl credentials", with("jwksUrl", "https://u:p@idp/jwks"), "without credentials"},
		{"issuer missing (v1 config)", map[string]interface{}{"jwksUrl": u, "audience": []interface{}{testAudience}}, `parameter "issuer": required parameter missing`},
		{"issuer empty", with("issuer", ""), `parameter "issuer": minLength: got 0, want 1`},
		{"audience missing (v1 config)", map[string]interface{}{"jwksUrl": u, "issuer": testIssuer}, `parameter "audience": required parameter missing`},
		{"audience empty list", with("audience", []interface{}{}), `parameter "audience": must hold at least one`},
		{"audience a string", with("audience", testAudience), `parameter "audience": got string, want array`},
		{"audience bad item", with("audience", []interface{}{"a", 3}), `parameter "audience": at /1: got number, want string`},
		{"audience empty item", with("audience", []interface{}{""}), `parameter "audience": item 0 is empty`},
		{"claimHeaders type", with("claimHeaders", []interface{}{"sub"}), `parameter "claimHeaders": got array, want object`},
		{"claimHeaders empty header", with("claimHeaders", map[string]interface{}{"sub": ""}), `parameter "claimHeaders": claim "sub": claim and header name must be non-empty`},
		{"claimHeaders header not a string", with("claimHeaders", map[string]interface{}{"sub": 1}), `parameter "claimHeaders": at [sub]: expected type 'string'`},
		{"claimHeaders bad header", with("claimHeaders", map[string]interface{}{"sub": "x user"}), `claim "sub": "x user" is not a valid header name`},
		{"claimHeaders authorization", with("claimHeaders", map[string]interface{}{"sub": "Authorization"}), `header "authorization" cannot carry claims`},
		{"claimHeaders token header", with("header", "x-token", "claimHeaders", map[string]interface{}{"sub": "X-Token"}), `header "x-token" cannot carry claims`},
		{"claimHeaders envoy", with("claimHeaders", map[string]interface{}{"sub": "x-envoy-user"}), "cannot carry claims"},
		{"claimHeaders duplicate", with("claimHeaders", map[string]interface{}{"sub": "x-user", "email": "X-User"}), `claims "email" and "sub" both map to header "x-user"`},
		{"removeTokenHeader type", with("removeTokenHeader", "yes"), `parameter "removeTokenHeader": got string, want boolean`},
		{"none", with("allowedAlgorithms", []interface{}{"none"}), `parameter "allowedAlgorithms": "none" (unsigned tokens) is never accepted`},
		{"HS256", with("allowedAlgorithms", []interface{}{"RS256", "HS256"}), `parameter "allowedAlgorithms": "HS256" is an HMAC algorithm`},
		{"unknown alg", with("allowedAlgorithms", []interface{}{"RS1"}), `unsupported algorithm "RS1"`},
		{"empty algs", with("allowedAlgorithms", []interface{}{}), "must name at least one algorithm"},
		{"algs type", with("allowedAlgorithms", "RS256"), `parameter "allowedAlgorithms": got string, want array`},
		{"skew too big", with("clockSkew", "1h"), `parameter "clockSkew": must be a duration between 0s and 5m0s, got 1h0m0s`},
		{"skew negative", with("clockSkew", "-1s"), `parameter "clockSkew": must be a duration between 0s and 5m0s, got -1s`},
		{"skew not string", with("clockSkew", 30), `parameter "clockSkew": got number, want string`},
		{"skew not a duration", with("clockSkew", "soon"), `parameter "clockSkew": 'soon' is not valid go-duration`},
		{"refresh too small", with("refreshInterval", "10ms"), `parameter "refreshInterval": must be a duration between 1s`},
		{"minRefresh too big", with("minRefreshInterval", "2h"), `parameter "minRefreshInterval": must be a duration between 1s and 1h0m0s`},
		{"fetchTimeout", with("fetchTimeout", "1m"), `parameter "fetchTimeout": must be a duration between 100ms and 30s`},
		{"header", with("header", "x token"), `parameter "header": 'x token' does not match pattern`},
		{"header empty", with("header", ""), `parameter "header": '' does not match pattern`},
		{"requireExpiration", with("requireExpiration", "yes"), `parameter "requireExpiration": got string, want boolean`},
		{"realm", with("realm", `a"b`), `parameter "realm": 'a"b' does not match pattern`},
		{"unknown", with("audiences", "x"), `parameter "audiences": unknown parameter`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policytest.Build(t, ".", GetPolicy, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("a", &rsaA.PublicKey, "RS256"), ecJWK("e", &ecA.PublicKey))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL})
	good := bearer(sign(t, jwt.SigningMethodES256, "e", ecA, validClaims()))
	bad := bearer(sign(t, jwt.SigningMethodRS256, "a", rsaOther, validClaims()))
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, wantOK := good, true
			if i%2 == 1 {
				h, wantOK = bad, false
			}
			if ok := p.ExecuteRequest(request(h), nil) == nil; ok != wantOK {
				errs <- "wrong decision"
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
