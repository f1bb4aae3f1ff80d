package jwtvalidation

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth/jwtauthtest"
)

func TestIssuerAndAudience(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	p := newPolicy(t, map[string]interface{}{
		"jwksUrl":  srv.URL,
		"issuer":   testIssuer,
		"audience": []interface{}{"orders-api", "billing-api"},
	})
	exp := time.Now().Add(time.Hour).Unix()
	tok := func(c jwt.MapClaims) map[string][]string {
		c["exp"] = exp
		return jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "a", k.RSAA, c))
	}
	expectAdmitted(t, p, tok(jwt.MapClaims{"iss": testIssuer, "aud": "orders-api"}))
	expectAdmitted(t, p, tok(jwt.MapClaims{"iss": testIssuer, "aud": []string{"other", "billing-api"}}))
	expectDenied(t, p, tok(jwt.MapClaims{"iss": "https://evil.example.com/", "aud": "orders-api"}), "wrong issuer")
	expectDenied(t, p, tok(jwt.MapClaims{"aud": "orders-api"}), "required claim missing")
	expectDenied(t, p, tok(jwt.MapClaims{"iss": testIssuer, "aud": "payments-api"}), "wrong audience")
	expectDenied(t, p, tok(jwt.MapClaims{"iss": testIssuer}), "required claim missing")
}

func TestClaimHeaders(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	p := newPolicy(t, map[string]interface{}{
		"jwksUrl": srv.URL,
		"claimHeaders": map[string]interface{}{
			"sub":                        "X-User-Id",
			"email":                      "x-user-email",
			"realm_access.roles":         "x-user-roles",
			"https://example.com/tenant": "x-tenant",
			"level":                      "x-level",
			"missing":                    "x-missing",
			"evil":                       "x-evil",
		},
		"removeTokenHeader": true,
	})
	token := sign(t, "a", k.RSAA, jwt.MapClaims{
		"exp":                        time.Now().Add(time.Hour).Unix(),
		"sub":                        "user-42",
		"email":                      "ada@example.com",
		"realm_access":               map[string]interface{}{"roles": []string{"reader", "writer"}},
		"https://example.com/tenant": "acme",
		"level":                      3,
		"evil":                       "x\r\nx-admin: true",
	})
	headers := jwtauthtest.Bearer(token)
	// The client tries to supply trusted headers itself.
	headers["x-missing"] = []string{"forged"}
	headers["x-user-id"] = []string{"admin"}
	r := jwtauthtest.Request(headers)
	a := p.ExecuteRequest(r, nil)
	if a == nil || a.Immediate != nil {
		t.Fatalf("want continue with header changes, got %+v", a)
	}
	wantSet := map[string]string{
		"x-user-id":    "user-42",
		"x-user-email": "ada@example.com",
		"x-user-roles": "reader,writer",
		"x-tenant":     "acme",
		"x-level":      "3",
	}
	if !reflect.DeepEqual(a.Headers.Set, wantSet) {
		t.Fatalf("Set = %v, want %v", a.Headers.Set, wantSet)
	}
	removed := append([]string(nil), a.Headers.Remove...)
	sort.Strings(removed)
	// Absent and unsafe claims remove whatever the client sent; the token is not forwarded.
	if want := []string{"authorization", "x-evil", "x-missing"}; !reflect.DeepEqual(removed, want) {
		t.Fatalf("Remove = %v, want %v", removed, want)
	}
}

func TestNoForwardingConfigured(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL})
	if a := p.ExecuteRequest(jwtauthtest.Request(jwtauthtest.Bearer(sign(t, "a", k.RSAA, jwtauthtest.ValidClaims()))), nil); a != nil {
		t.Fatalf("without claimHeaders or removeTokenHeader the request continues unchanged, got %+v", a)
	}
}

func TestClaimValue(t *testing.T) {
	claims := map[string]interface{}{
		"s":       "text",
		"padded":  "  v  ",
		"b":       true,
		"f":       1.5,
		"big":     float64(1700000000),
		"list":    []interface{}{"a", "b"},
		"commas":  []interface{}{"a,b", "c"},
		"mixed":   []interface{}{"a", 1.0},
		"obj":     map[string]interface{}{"k": "v", "n": map[string]interface{}{"deep": "yes"}},
		"a.b":     "literal dotted name",
		"a":       map[string]interface{}{"b": "nested"},
		"ctrl":    "a\nb",
		"long":    strings.Repeat("x", maxClaimHeaderBytes+1),
		"null":    nil,
		"empty":   "",
		"tabbed":  "a\tb",
		"unicode": "Zoë",
	}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"s", "text", true},
		{"padded", "v", true},
		{"b", "true", true},
		{"f", "1.5", true},
		{"big", "1700000000", true},
		{"list", "a,b", true},
		{"commas", `["a,b","c"]`, true},
		{"mixed", `["a",1]`, true},
		{"obj", `{"k":"v","n":{"deep":"yes"}}`, true},
		{"obj.n.deep", "yes", true},
		{"a.b", "literal dotted name", true},
		{"obj.k.x", "", false},
		{"nope", "", false},
		{"ctrl", "", false},
		{"long", "", false},
		{"null", "", false},
		{"empty", "", false},
		{"tabbed", "a\tb", true},
		{"unicode", "Zoë", true},
	}
	for _, tc := range tests {
		got, ok := claimValue(claims, tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("claimValue(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
