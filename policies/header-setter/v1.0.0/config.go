package headersetter

import (
	"fmt"
	"sort"
	"strings"
)

// forbidden lists headers this policy refuses to set, with the reason shown to the
// operator. Envoy ignores mutations of host and x-envoy-* unless its mutation_rules allow
// them, and framing / hop-by-hop headers would corrupt the request if changed.
var forbidden = map[string]string{
	"host":              "Envoy ignores changes to the host header by default; rewrite the authority in the route instead",
	"content-length":    "it describes the body framing; Envoy manages it",
	"transfer-encoding": "it describes the body framing; Envoy manages it",
	"connection":        "hop-by-hop headers are not forwarded",
	"keep-alive":        "hop-by-hop headers are not forwarded",
	"proxy-connection":  "hop-by-hop headers are not forwarded",
	"te":                "hop-by-hop headers are not forwarded",
	"upgrade":           "hop-by-hop headers are not forwarded",
}

// parseHeaders validates the "headers" parameter and returns it with lower-cased names.
// Every error names the parameter and header at fault.
func parseHeaders(params map[string]interface{}) (map[string]string, error) {
	var unknown []string
	for name := range params {
		if name != "headers" {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown parameter(s) %s; known: headers", strings.Join(unknown, ", "))
	}

	raw, ok := params["headers"]
	if !ok || raw == nil {
		return nil, fmt.Errorf("parameter %q: required", "headers")
	}
	in, ok := raw.(map[string]interface{})
	if !ok {
		strs, isStrings := raw.(map[string]string)
		if !isStrings {
			return nil, fmt.Errorf("parameter %q: must be an object of header name to string value, got %T", "headers", raw)
		}
		in = make(map[string]interface{}, len(strs))
		for k, v := range strs {
			in[k] = v
		}
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("parameter %q: must set at least one header", "headers")
	}

	// Sorted so that, with several errors, the same one is reported every time.
	names := make([]string, 0, len(in))
	for name := range in {
		names = append(names, name)
	}
	sort.Strings(names)

	out := make(map[string]string, len(in))
	for _, name := range names {
		lower := strings.ToLower(name)
		if err := checkName(lower); err != nil {
			return nil, fmt.Errorf("parameter %q: header %q: %w", "headers", name, err)
		}
		if _, dup := out[lower]; dup {
			return nil, fmt.Errorf("parameter %q: header %q given twice (names are case-insensitive)", "headers", name)
		}
		value, ok := in[name].(string)
		if !ok {
			return nil, fmt.Errorf("parameter %q: header %q: value must be a string, got %T (quote numbers and booleans in YAML)", "headers", name, in[name])
		}
		if err := checkValue(value); err != nil {
			return nil, fmt.Errorf("parameter %q: header %q: %w", "headers", name, err)
		}
		out[lower] = value
	}
	return out, nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("name must not be empty")
	}
	if name[0] == ':' {
		return fmt.Errorf("pseudo-headers cannot be set by this policy")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("not a valid header name (character %q)", name[i])
		}
	}
	if reason, bad := forbidden[name]; bad {
		return fmt.Errorf("cannot be set: %s", reason)
	}
	if strings.HasPrefix(name, "x-envoy-") {
		return fmt.Errorf("cannot be set: Envoy ignores changes to x-envoy-* headers by default")
	}
	return nil
}

// checkValue rejects control characters (CR and LF above all, which would allow header
// injection) and surrounding whitespace, which Envoy would trim anyway.
func checkValue(value string) error {
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("value contains control character %q", c)
		}
	}
	if strings.TrimSpace(value) != value {
		return fmt.Errorf("value has leading or trailing whitespace")
	}
	return nil
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
