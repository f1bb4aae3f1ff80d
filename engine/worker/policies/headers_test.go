package policies

import (
	"strings"
	"testing"
)

func TestCheckHeaderChange(t *testing.T) {
	for _, name := range []string{"x-team", "authorization", "x-a_b.c"} {
		if err := CheckHeaderChange(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	for name, want := range map[string]string{
		"":                  "must not be empty",
		":path":             "pseudo-headers",
		"x team":            "not a valid header name",
		"host":              "rewrite the authority",
		"content-length":    "body framing",
		"connection":        "hop-by-hop",
		"x-envoy-original":  "x-envoy-*",
		"transfer-encoding": "body framing",
	} {
		if err := CheckHeaderChange(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to say %q", name, err, want)
		}
	}
	if IsHeaderName("a b") || !IsHeaderName("x-ok") {
		t.Error("IsHeaderName does not follow RFC 9110's token")
	}
}
