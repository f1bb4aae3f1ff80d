package jwtauth

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth/jwtauthtest"
)

// parse decodes params as a policy would, over the defaults a policy.yaml declares for
// Params, and checks them.
func parse(t *testing.T, params map[string]interface{}) (Config, error) {
	t.Helper()
	raw := map[string]interface{}{
		"header": "authorization", "clockSkew": "30s", "requireExpiration": true,
		"refreshInterval": "10m", "minRefreshInterval": "30s", "fetchTimeout": "5s",
	}
	for k, v := range params {
		raw[k] = v
	}
	var p Params
	if err := policies.DecodeParams(raw, &p); err != nil {
		t.Fatal(err)
	}
	return ParseParams(p)
}

func newVerifier(t *testing.T, params map[string]interface{}) *Verifier {
	t.Helper()
	cfg, err := parse(t, params)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New("jwtTest", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// verdict is the verifier's deny action for r, nil when it admits r.
func verdict(v *Verifier, r *policies.RequestContext) *policies.RequestPolicyAction {
	_, deny := v.Verify(r)
	return deny
}

func expectDenied(t *testing.T, v *Verifier, headers map[string][]string, description string) {
	t.Helper()
	jwtauthtest.ExpectDenied(t, verdict(v, jwtauthtest.Request(headers)), description)
}

func expectAdmitted(t *testing.T, v *Verifier, headers map[string][]string) {
	t.Helper()
	claims, deny := v.Verify(jwtauthtest.Request(headers))
	if deny != nil {
		t.Fatalf("want admitted, got %d %q (%s)", deny.Immediate.Status, deny.Immediate.Body, deny.Immediate.Headers["www-authenticate"])
	}
	if claims == nil {
		t.Fatal("admitted without claims")
	}
}

func TestValidTokens(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("rsa-a", &k.RSAA.PublicKey, "RS256"), jwtauthtest.ECJWK("ec-a", &k.EC.PublicKey))
	p := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL})

	expectAdmitted(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "rsa-a", k.RSAA, jwtauthtest.ValidClaims())))
	expectAdmitted(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodES256, "ec-a", k.EC, jwtauthtest.ValidClaims())))
	// The JWK pins alg RS256, so the same RSA key cannot be used with PS256.
	expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodPS256, "rsa-a", k.RSAA, jwtauthtest.ValidClaims())), "unknown signing key")
	// A token without kid is tried against every key of the right type.
	expectAdmitted(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodES256, "", k.EC, jwtauthtest.ValidClaims())))
	// Scheme is case-insensitive.
	expectAdmitted(t, p, map[string][]string{"authorization": {"bearer " + jwtauthtest.Sign(t, jwt.SigningMethodRS256, "rsa-a", k.RSAA, jwtauthtest.ValidClaims())}})
	if hits := srv.Hits.Load(); hits != 1 {
		t.Fatalf("JWKS fetched %d times; valid tokens must be served from the cache", hits)
	}
}

func TestTimeClaims(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("rsa-a", &k.RSAA.PublicKey, "RS256"))
	p := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL, "clockSkew": "30s"})
	now := time.Now()
	tok := func(c jwt.MapClaims) map[string][]string {
		return jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "rsa-a", k.RSAA, c))
	}

	expectDenied(t, p, tok(jwt.MapClaims{"exp": now.Add(-time.Hour).Unix()}), "token expired")
	expectAdmitted(t, p, tok(jwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()})) // within skew
	expectDenied(t, p, tok(jwt.MapClaims{"exp": now.Add(-45 * time.Second).Unix()}), "token expired")
	expectDenied(t, p, tok(jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(10 * time.Minute).Unix()}), "token not yet valid")
	expectAdmitted(t, p, tok(jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(10 * time.Second).Unix()}))
	expectDenied(t, p, tok(jwt.MapClaims{"sub": "no-exp"}), "required claim missing")

	lax := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL, "requireExpiration": false})
	expectAdmitted(t, lax, tok(jwt.MapClaims{"sub": "no-exp"}))
}

func TestAlgorithmAttacks(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("rsa-a", &k.RSAA.PublicKey, ""), jwtauthtest.ECJWK("ec-a", &k.EC.PublicKey), jwtauthtest.RSAJWK("weak", &k.RSAWeak.PublicKey, ""))
	p := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL, "allowedAlgorithms": []interface{}{"RS256", "ES256"}})

	t.Run("none", func(t *testing.T) {
		tok := jwtauthtest.Sign(t, jwt.SigningMethodNone, "rsa-a", jwt.UnsafeAllowNoneSignatureType, jwtauthtest.ValidClaims())
		expectDenied(t, p, jwtauthtest.Bearer(tok), "invalid signature or algorithm")
	})
	t.Run("HS256 with the RSA public key as secret", func(t *testing.T) {
		der, err := x509.MarshalPKIXPublicKey(&k.RSAA.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodHS256, "rsa-a", secret, jwtauthtest.ValidClaims())), "invalid signature or algorithm")
		// Not even with a permissive allow-list could HS256 get through: HS* cannot be configured.
		if _, err := parse(t, map[string]interface{}{"jwksUrl": srv.URL, "allowedAlgorithms": []interface{}{"RS256", "HS256"}}); err == nil {
			t.Fatal("HS256 accepted in allowedAlgorithms")
		}
	})
	t.Run("algorithm outside the allow-list", func(t *testing.T) {
		expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS512, "rsa-a", k.RSAA, jwtauthtest.ValidClaims())), "invalid signature or algorithm")
		expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodES384, "", k.ECP384, jwtauthtest.ValidClaims())), "invalid signature or algorithm")
	})
	t.Run("key type does not match algorithm", func(t *testing.T) {
		// RS256 header naming the EC key.
		expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "ec-a", k.RSAA, jwtauthtest.ValidClaims())), "key does not match algorithm")
		// ES256 header naming the RSA key.
		expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodES256, "rsa-a", k.EC, jwtauthtest.ValidClaims())), "key does not match algorithm")
	})
	t.Run("RSA key below 2048 bits", func(t *testing.T) {
		expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "weak", k.RSAWeak, jwtauthtest.ValidClaims())), "key does not match algorithm")
	})
	t.Run("signature by another key", func(t *testing.T) {
		expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "rsa-a", k.RSAOther, jwtauthtest.ValidClaims())), "invalid signature or algorithm")
	})
	t.Run("tampered payload", func(t *testing.T) {
		tok := jwtauthtest.Sign(t, jwt.SigningMethodRS256, "rsa-a", k.RSAA, jwtauthtest.ValidClaims())
		parts := strings.Split(tok, ".")
		other := strings.Split(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "rsa-a", k.RSAA, jwt.MapClaims{"sub": "admin", "exp": time.Now().Add(time.Hour).Unix()}), ".")
		expectDenied(t, p, jwtauthtest.Bearer(parts[0]+"."+other[1]+"."+parts[2]), "invalid signature or algorithm")
	})
	t.Run("malformed", func(t *testing.T) {
		expectDenied(t, p, jwtauthtest.Bearer("not.a.jwt"), "malformed token")
		expectDenied(t, p, jwtauthtest.Bearer("abc"), "malformed token")
	})
}

func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("rsa-a", &k.RSAA.PublicKey, "RS256"))
	p := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL, "minRefreshInterval": "1h"})
	if hits := srv.Hits.Load(); hits != 1 {
		t.Fatalf("initial fetches = %d, want 1", hits)
	}
	// Unknown kid: one refetch, still unknown.
	expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "nope-1", k.RSAA, jwtauthtest.ValidClaims())), "unknown signing key")
	if hits := srv.Hits.Load(); hits != 2 {
		t.Fatalf("fetches after an unknown kid = %d, want 2", hits)
	}
	// More unknown kids within minRefreshInterval: no fetch at all, and no waiting.
	start := time.Now()
	for i := 0; i < 5; i++ {
		expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "nope-2", k.RSAA, jwtauthtest.ValidClaims())), "unknown signing key")
	}
	if hits := srv.Hits.Load(); hits != 2 {
		t.Fatalf("fetches = %d; unknown kids must not hammer the JWKS endpoint", hits)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("rate-limited lookups took %v; they must fail fast", d)
	}
}

func TestKeyRotationByKid(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("2024", &k.RSAA.PublicKey, "RS256"))
	p := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL})
	oldTok := jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "2024", k.RSAA, jwtauthtest.ValidClaims()))
	expectAdmitted(t, p, oldTok)

	// The provider rotates: new key 2025, old key retired.
	srv.SetKeys(jwtauthtest.RSAJWK("2025", &k.RSAB.PublicKey, "RS256"))
	expectAdmitted(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "2025", k.RSAB, jwtauthtest.ValidClaims())))
	// The refresh replaced the set, so the retired key no longer verifies anything.
	expectDenied(t, p, oldTok, "unknown signing key")
}

func TestBackgroundRefresh(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	p := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL, "refreshInterval": "1s", "minRefreshInterval": "1h"})
	// Spend the unknown-kid refresh so that only the background refresh can pick up "b".
	expectDenied(t, p, jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "x", k.RSAA, jwtauthtest.ValidClaims())), "unknown signing key")
	srv.SetKeys(jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"), jwtauthtest.RSAJWK("b", &k.RSAB.PublicKey, "RS256"))
	tokB := jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "b", k.RSAB, jwtauthtest.ValidClaims()))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if a := verdict(p, jwtauthtest.Request(tokB)); a == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key b not picked up by the background refresh within 5s (fetches: %d)", srv.Hits.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestJWKSDownAtStart(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	srv.SetStatus(http.StatusServiceUnavailable)
	tok := jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "a", k.RSAA, jwtauthtest.ValidClaims()))

	// The engine must start anyway, and deny while it knows no keys.
	down := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL})
	expectDenied(t, down, tok, "unknown signing key")

	// Started while the provider was down, first request after it is back: the unknown-kid
	// refresh recovers without waiting for the background refresh.
	recovering := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL})
	srv.SetStatus(http.StatusOK)
	expectAdmitted(t, recovering, tok)
}

func TestTokenLocation(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	tok := jwtauthtest.Sign(t, jwt.SigningMethodRS256, "a", k.RSAA, jwtauthtest.ValidClaims())

	p := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL, "realm": "api"})
	for name, h := range map[string]map[string][]string{
		"no header":      {},
		"basic scheme":   {"authorization": {"Basic dTpw"}},
		"bare token":     {"authorization": {tok}},
		"empty bearer":   {"authorization": {"Bearer "}},
		"token in other": {"x-token": {tok}},
	} {
		a := verdict(p, jwtauthtest.Request(h))
		if a == nil || a.Immediate == nil || a.Immediate.Status != 401 {
			t.Fatalf("%s: want 401, got %+v", name, a)
		}
		if got := a.Immediate.Headers["www-authenticate"]; got != `Bearer realm="api"` {
			t.Fatalf("%s: www-authenticate = %q; a request without a token gets no error code", name, got)
		}
	}
	a := verdict(p, jwtauthtest.Request(map[string][]string{"authorization": {"Bearer " + tok, "Bearer " + tok}}))
	if a == nil || a.Immediate.Headers["www-authenticate"] != `Bearer realm="api", error="invalid_token", error_description="multiple tokens"` {
		t.Fatalf("two authorization headers: %+v", a)
	}

	custom := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL, "header": "X-Token"})
	expectAdmitted(t, custom, map[string][]string{"x-token": {tok}})
	expectAdmitted(t, custom, map[string][]string{"x-token": {"Bearer " + tok}})
}

func TestConcurrentUse(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"), jwtauthtest.ECJWK("e", &k.EC.PublicKey))
	p := newVerifier(t, map[string]interface{}{"jwksUrl": srv.URL})
	good := jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodES256, "e", k.EC, jwtauthtest.ValidClaims()))
	bad := jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "a", k.RSAOther, jwtauthtest.ValidClaims()))
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
			if ok := verdict(p, jwtauthtest.Request(h)) == nil; ok != wantOK {
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

func TestEverySupportedAlgorithmIsAccepted(t *testing.T) {
	for _, alg := range SupportedAlgorithms {
		if _, err := parse(t, map[string]interface{}{"jwksUrl": "https://idp/jwks", "allowedAlgorithms": []interface{}{alg}}); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}
