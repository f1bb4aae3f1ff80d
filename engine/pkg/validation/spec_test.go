package validation

import (
	"strings"
	"testing"
	"time"
)

const apiKeySpec = `
name: apiKey
version: v1.0.0
description: checks an API key
requiresRequestBody: false
timeout: 50ms
parameters:
  - name: header
    type: string
    default: x-api-key
    minLength: 1
  - name: keys
    type: array
    required: true
    items: {type: string, minLength: 4}
  - name: mode
    type: string
    enum: [strict, lax]
  - name: limit
    type: integer
    minimum: 1
    maximum: 10
  - name: jwksUrl
    type: uri
  - name: refresh
    type: duration
  - name: extra
    type: object
  - name: enabled
    type: boolean
  - name: ratio
    type: number
`

func TestParseSpecDefaultsAndPhases(t *testing.T) {
	spec, err := ParseSpec([]byte(apiKeySpec))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "apiKey" || spec.Version != "v1.0.0" {
		t.Fatalf("got %s:%s", spec.Name, spec.Version)
	}
	if !spec.RequestPhase() || spec.ResponsePhase() {
		t.Errorf("phases: request %v response %v, want true false", spec.RequestPhase(), spec.ResponsePhase())
	}
	if got := spec.DefaultTimeout(); got != 50*time.Millisecond {
		t.Errorf("timeout %v", got)
	}
	if len(spec.Parameters) != 9 {
		t.Errorf("%d parameters", len(spec.Parameters))
	}
}

func TestParseSpecRejects(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"bad name":    {"name: 1abc\nversion: v1.0.0\n", "name"},
		"bad version": {"name: a\nversion: 1.0.0\n", "semantic version"},
		"no phase":    {"name: a\nversion: v1.0.0\nsupportsRequestPhase: false\n", "at least one"},
		"bad timeout": {"name: a\nversion: v1.0.0\ntimeout: soon\n", "timeout"},
		"bad type":    {"name: a\nversion: v1.0.0\nparameters: [{name: x, type: text}]\n", `parameter "x": unknown type`},
		"duplicate":   {"name: a\nversion: v1.0.0\nparameters: [{name: x, type: string}, {name: x, type: string}]\n", "declared twice"},
		"bad pattern": {"name: a\nversion: v1.0.0\nparameters: [{name: x, type: string, pattern: '('}]\n", "pattern"},
		"bad items":   {"name: a\nversion: v1.0.0\nparameters: [{name: x, type: array, items: {type: tuple}}]\n", "items"},
		"not yaml":    {"name: [", "policy.yaml"},
		"sensitive integer": {"name: a\nversion: v1.0.0\nparameters: [{name: x, type: integer, sensitive: true}]\n",
			"type integer cannot be sensitive"},
		"sensitive default": {"name: a\nversion: v1.0.0\nparameters: [{name: x, type: string, sensitive: true, default: hunter22}]\n",
			"cannot declare a default"},
		"sensitive enum": {"name: a\nversion: v1.0.0\nparameters: [{name: x, type: string, sensitive: true, enum: [a, b]}]\n",
			"cannot declare a default or an enum"},
		"sensitive items": {"name: a\nversion: v1.0.0\nparameters: [{name: x, type: array, items: {type: string, sensitive: true}}]\n",
			"mark the array parameter sensitive"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
