package jwtvalidation

import (
	"encoding/json"
	"strconv"
	"strings"
)

// maxClaimHeaderBytes keeps a forwarded claim within what proxies and upstreams accept
// in one header; a longer value is not forwarded (its header is removed instead).
const maxClaimHeaderBytes = 4096

// claimValue renders a claim as a header value. A claim name is looked up as is first
// (namespaced claims such as "https://example.com/roles" contain dots), then as a
// dot-separated path into nested objects ("realm_access.roles"). Strings are forwarded
// as they are, numbers and booleans in their JSON form, arrays of plain strings joined
// with ",", anything else as compact JSON. Values with control characters (which would
// allow header injection) or over maxClaimHeaderBytes are refused.
func claimValue(claims map[string]interface{}, name string) (string, bool) {
	v, ok := claims[name]
	if !ok {
		v, ok = lookupPath(claims, name)
	}
	if !ok || v == nil {
		return "", false
	}
	s, ok := render(v)
	s = strings.TrimSpace(s)
	if !ok || s == "" || len(s) > maxClaimHeaderBytes {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return "", false
		}
	}
	return s, true
}

func render(v interface{}) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		return x.String(), true
	case []interface{}:
		if joined, ok := joinStrings(x); ok {
			return joined, true
		}
	}
	b, err := json.Marshal(v)
	return string(b), err == nil
}

func lookupPath(claims map[string]interface{}, path string) (interface{}, bool) {
	var cur interface{} = claims
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// joinStrings joins an array of strings with ",", unless an element contains a comma
// (which would make the list ambiguous) or is not a string.
func joinStrings(items []interface{}) (string, bool) {
	parts := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := item.(string)
		if !ok || strings.Contains(s, ",") {
			return "", false
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ","), true
}
