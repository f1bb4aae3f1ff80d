package validation

import (
	"errors"
	"strings"
	"testing"
)

func mustSchema(t *testing.T) *ParameterSchema {
	t.Helper()
	spec, err := ParseSpec([]byte(apiKeySpec))
	if err != nil {
		t.Fatal(err)
	}
	s, err := CompileSchema(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateFillsDefaultsAndNormalizes(t *testing.T) {
	s := mustSchema(t)
	out, err := s.Validate(map[string]any{
		"keys":    []any{"secret-1"},
		"limit":   3,
		"jwksUrl": "https://issuer.example/jwks.json",
		"refresh": "1m30s",
		"extra":   map[string]any{"a": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out["header"] != "x-api-key" {
		t.Errorf("default header: %v", out["header"])
	}
	if out["limit"] != float64(3) {
		t.Errorf("limit %T %v, want float64 3", out["limit"], out["limit"])
	}
	if keys, ok := out["keys"].([]any); !ok || keys[0] != "secret-1" {
		t.Errorf("keys %#v", out["keys"])
	}
}

func TestValidateReportsEveryParameter(t *testing.T) {
	s := mustSchema(t)
	cases := map[string]struct {
		params    map[string]any
		parameter string
		contains  string
	}{
		"missing required": {map[string]any{}, "keys", "required"},
		"unknown":          {map[string]any{"keys": []any{"abcd"}, "colour": "red"}, "colour", "unknown parameter"},
		"wrong type":       {map[string]any{"keys": "abcd"}, "keys", "array"},
		"item too short":   {map[string]any{"keys": []any{"ab"}}, "keys", "/0"},
		"enum":             {map[string]any{"keys": []any{"abcd"}, "mode": "loose"}, "mode", "strict"},
		"maximum":          {map[string]any{"keys": []any{"abcd"}, "limit": 11}, "limit", "10"},
		"integer":          {map[string]any{"keys": []any{"abcd"}, "limit": 2.5}, "limit", "integer"},
		"relative uri":     {map[string]any{"keys": []any{"abcd"}, "jwksUrl": "/jwks.json"}, "jwksUrl", "uri"},
		"duration":         {map[string]any{"keys": []any{"abcd"}, "refresh": "PT1M"}, "refresh", "duration"},
		"boolean":          {map[string]any{"keys": []any{"abcd"}, "enabled": "yes"}, "enabled", "boolean"},
		"min length":       {map[string]any{"keys": []any{"abcd"}, "header": ""}, "header", "1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := s.Validate(tc.params)
			if err == nil {
				t.Fatal("accepted")
			}
			var perr ParameterError
			if !errors.As(err, &perr) || perr.Parameter != tc.parameter {
				t.Fatalf("error %v does not name parameter %q", err, tc.parameter)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q does not mention %q", err, tc.contains)
			}
		})
	}
}

func TestValidateEmptySpecRejectsAnyParameter(t *testing.T) {
	spec, err := ParseSpec([]byte("name: noop\nversion: v0.1.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := CompileSchema(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Validate(nil); err != nil {
		t.Errorf("nil params: %v", err)
	}
	if _, err := s.Validate(map[string]any{"x": 1}); err == nil {
		t.Error("unknown parameter accepted")
	}
}

func TestCompileSchemaRejectsInvalidDefaults(t *testing.T) {
	cases := map[string]struct {
		param    string
		contains string
	}{
		"wrong type":     {"  - name: limit\n    type: integer\n    default: ten\n", "integer"},
		"not integral":   {"  - name: limit\n    type: integer\n    default: 2.5\n", "integer"},
		"outside enum":   {"  - name: mode\n    type: string\n    enum: [strict, lax]\n    default: loose\n", "strict"},
		"above maximum":  {"  - name: limit\n    type: number\n    maximum: 10\n    default: 11\n", "10"},
		"bad pattern":    {"  - name: header\n    type: string\n    pattern: \"^[a-z-]+$\"\n    default: X_Key\n", "header"},
		"bad duration":   {"  - name: refresh\n    type: duration\n    default: PT1M\n", "duration"},
		"bad array item": {"  - name: keys\n    type: array\n    items:\n      type: string\n    default: [1]\n", "/0"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec, err := ParseSpec([]byte("name: p\nversion: v1.0.0\nparameters:\n" + tc.param))
			if err != nil {
				t.Fatal(err)
			}
			_, err = CompileSchema(spec)
			if err == nil {
				t.Fatal("invalid default accepted")
			}
			var perr ParameterError
			if !errors.As(err, &perr) || !strings.HasPrefix(perr.Message, "default: ") {
				t.Fatalf("error %v is not a ParameterError about the default", err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q does not mention %q", err, tc.contains)
			}
		})
	}
}

func TestCompileSchemaAcceptsValidDefaultOfRequiredParameter(t *testing.T) {
	// Only the defaults are checked: a required parameter without a default must
	// not make the defaults fail as "required parameter missing".
	spec, err := ParseSpec([]byte("name: p\nversion: v1.0.0\nparameters:\n" +
		"  - name: keys\n    type: array\n    required: true\n" +
		"  - name: limit\n    type: integer\n    minimum: 1\n    default: 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompileSchema(spec); err != nil {
		t.Fatal(err)
	}
}

func TestValidateWithholdsSensitiveValues(t *testing.T) {
	spec, err := ParseSpec([]byte(`name: a
version: v1.0.0
parameters:
  - name: token
    type: string
    sensitive: true
    pattern: "^tok-"
  - name: keys
    type: array
    sensitive: true
    items: {type: string, minLength: 30}
  - name: header
    type: string
    pattern: "^x-"
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := CompileSchema(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Validate(map[string]any{"token": "canary-token-value", "keys": []any{"canary-key-value"}, "header": "shown-value"})
	if err == nil {
		t.Fatal("invalid values accepted")
	}
	msg := err.Error()
	for _, secret := range []string{"canary-token-value", "canary-key-value"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error shows the sensitive value %q: %s", secret, msg)
		}
	}
	for _, want := range []string{`parameter "token": value breaks its pattern rule`, `parameter "keys": at /0: value breaks its minLength rule`, "shown-value"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	// A type error shows only types, so it keeps the validator's message.
	_, err = s.Validate(map[string]any{"token": "canary-token-value", "keys": "canary-key-value"})
	if err == nil {
		t.Fatal("a string for an array accepted")
	}
	if msg := err.Error(); strings.Contains(msg, "canary-key-value") || !strings.Contains(msg, `parameter "keys": got string, want array`) {
		t.Errorf("type error = %q, want the types and not the value", msg)
	}
}
