package transformheaders

import (
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// template is a header value with ${...} variables, parsed once at configuration load.
type template []segment

// segment is literal text (kind "") or one variable.
type segment struct {
	kind  string // "", "method", "path", "route", "client_ip", "client_address", "status", "header", "shared"
	text  string // the literal, the header name, or the Shared key
	field string // for shared: the field of a map value, or ""
}

// vars are what a template can read during one call.
type vars struct {
	req    *policies.RequestContext
	shared map[string]interface{}
	status int // 0 in the request phase
}

// parseTemplate reads "text ${var} text". "$$" is a literal "$". Every error says
// what is wrong with which variable.
func parseTemplate(s string) (template, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		return nil, fmt.Errorf("value contains a control character")
	}
	var out template
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i++
			continue
		}
		if i+1 >= len(s) || s[i+1] != '{' {
			return nil, fmt.Errorf("at offset %d: a lone $; write $$ for a literal $, ${name} for a variable", i)
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("at offset %d: ${ without a closing }", i)
		}
		seg, err := parseVariable(s[i+2 : i+end])
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			out = append(out, segment{text: lit.String()})
			lit.Reset()
		}
		out = append(out, seg)
		i += end
	}
	if lit.Len() > 0 {
		out = append(out, segment{text: lit.String()})
	}
	return out, nil
}

func parseVariable(v string) (segment, error) {
	name, arg, hasArg := strings.Cut(v, ":")
	switch name {
	case "method", "path", "route", "client_ip", "client_address", "status":
		if hasArg {
			return segment{}, fmt.Errorf("variable ${%s} takes no argument", v)
		}
		return segment{kind: name}, nil
	case "header":
		if !policies.IsHeaderName(arg) {
			return segment{}, fmt.Errorf("variable ${%s}: want ${header:NAME} with an HTTP header name", v)
		}
		return segment{kind: name, text: strings.ToLower(arg)}, nil
	case "shared":
		key, field, _ := strings.Cut(arg, ":")
		if key == "" {
			return segment{}, fmt.Errorf("variable ${%s}: want ${shared:KEY} or ${shared:KEY:FIELD}", v)
		}
		return segment{kind: name, text: key, field: field}, nil
	}
	return segment{}, fmt.Errorf("unknown variable ${%s}; known: method, path, route, client_ip, client_address, status, header:NAME, shared:KEY[:FIELD]", v)
}

// render fills in the variables. ok is false when the result is not a header value
// (a control character came in through a variable) or is empty.
func (t template) render(v vars) (string, bool) {
	var b strings.Builder
	for _, s := range t {
		switch s.kind {
		case "":
			b.WriteString(s.text)
		case "method":
			b.WriteString(v.req.Method)
		case "path":
			b.WriteString(v.req.Path)
		case "route":
			b.WriteString(v.req.Route)
		case "client_address":
			b.WriteString(v.req.ClientAddress)
		case "client_ip":
			if host, _, err := net.SplitHostPort(v.req.ClientAddress); err == nil {
				b.WriteString(host)
			}
		case "status":
			if v.status != 0 {
				b.WriteString(strconv.Itoa(v.status))
			}
		case "header":
			b.WriteString(v.req.Headers.Get(s.text))
		case "shared":
			b.WriteString(sharedValue(v.shared[s.text], s.field))
		}
	}
	out := b.String()
	if out == "" || strings.ContainsFunc(out, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		return "", false
	}
	return out, true
}

// sharedValue formats a Shared value, or the field of a map value (jwtValidation
// leaves its claims as a jwt.MapClaims, a named map type, hence reflect): strings as
// they are, numbers without exponent, booleans, and lists of those joined with ",".
// Anything else is "".
func sharedValue(v interface{}, field string) string {
	if field != "" {
		m := reflect.ValueOf(v)
		if m.Kind() != reflect.Map || m.Type().Key().Kind() != reflect.String {
			return ""
		}
		f := m.MapIndex(reflect.ValueOf(field).Convert(m.Type().Key()))
		if !f.IsValid() {
			return ""
		}
		v = f.Interface()
	}
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case []string:
		return strings.Join(x, ",")
	case []interface{}:
		parts := make([]string, 0, len(x))
		for _, item := range x {
			if _, nested := item.([]interface{}); nested {
				return ""
			}
			s := sharedValue(item, "")
			if s == "" {
				return ""
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ",")
	}
	return ""
}
