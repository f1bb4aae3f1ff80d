package policies

import (
	"fmt"
	"regexp"
	"strings"
)

// headerName is an HTTP field name (RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// unchangeable lists the headers a policy's header changes must not touch, with the
// reason shown to the operator. Envoy ignores mutations of host and x-envoy-* unless its
// mutation_rules allow them; changing framing or hop-by-hop headers corrupts the request.
var unchangeable = map[string]string{
	"host":              "Envoy ignores changes to the host header by default; rewrite the authority in the route instead",
	"content-length":    "it describes the body framing; Envoy manages it",
	"transfer-encoding": "it describes the body framing; Envoy manages it",
	"connection":        "hop-by-hop headers are not forwarded",
	"keep-alive":        "hop-by-hop headers are not forwarded",
	"proxy-connection":  "hop-by-hop headers are not forwarded",
	"te":                "hop-by-hop headers are not forwarded",
	"upgrade":           "hop-by-hop headers are not forwarded",
}

// IsHeaderName reports whether name is a valid HTTP field name.
func IsHeaderName(name string) bool { return headerName.MatchString(name) }

// CheckHeaderChange says why a policy's configuration may not add, set, remove or
// rename the header name (lower-cased), or returns nil: for parameters that name headers
// inside an object, which policy.yaml's patterns cannot reach.
func CheckHeaderChange(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("name must not be empty")
	case name[0] == ':':
		return fmt.Errorf("pseudo-headers cannot be changed by a policy")
	case !headerName.MatchString(name):
		return fmt.Errorf("not a valid header name (must match %s)", headerName)
	case unchangeable[name] != "":
		return fmt.Errorf("cannot be changed: %s", unchangeable[name])
	case strings.HasPrefix(name, "x-envoy-"):
		return fmt.Errorf("cannot be changed: Envoy ignores changes to x-envoy-* headers by default")
	}
	return nil
}
