// Package cel compiles and evaluates the `when` conditions of policy instances.
//
// A condition sees two variables:
//
//	request:  {method, path, route, headers: map(string, string)}
//	response: {status: int, headers: map(string, string)}  (status 0, no headers during the request phase)
//
// Header names are lower-case; a header with several values shows its first one.
package cel

import (
	"fmt"

	"cel.dev/cel-go/cel"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// costLimit bounds the work one evaluation may do, so a condition cannot stall a
// request (e.g. a comprehension over a huge header map).
const costLimit = 10000

var env = mustEnv()

func mustEnv() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("response", cel.MapType(cel.StringType, cel.DynType)),
	)
	if err != nil {
		panic(fmt.Sprintf("cel environment: %v", err))
	}
	return e
}

// Condition is a compiled boolean expression. It is safe for concurrent use.
type Condition struct {
	source string
	prg    cel.Program
}

// Compile parses and type-checks expr, which must produce a bool.
func Compile(expr string) (*Condition, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("when %q: %w", expr, iss.Err())
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("when %q: must be a boolean expression, is %s", expr, ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, fmt.Errorf("when %q: %w", expr, err)
	}
	return &Condition{source: expr, prg: prg}, nil
}

// String returns the expression's source.
func (c *Condition) String() string { return c.source }

// Eval evaluates the condition against the variables built by RequestVars and
// ResponseVars.
func (c *Condition) Eval(vars map[string]any) (bool, error) {
	out, _, err := c.prg.Eval(vars)
	if err != nil {
		return false, fmt.Errorf("when %q: %w", c.source, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("when %q: produced %v, not a bool", c.source, out.Value())
	}
	return b, nil
}

// noResponse lets a condition that reads the response evaluate during the request
// phase (to false, typically) instead of failing the request.
var noResponse = map[string]any{"status": int64(0), "headers": map[string]string{}}

// RequestVars are the variables of a request-phase evaluation.
func RequestVars(route, method, path string, headers policies.Headers) map[string]any {
	return map[string]any{
		"request": map[string]any{
			"route": route, "method": method, "path": path, "headers": headerMap(headers),
		},
		"response": noResponse,
	}
}

// ResponseVars extends request variables with the response's status and headers.
func ResponseVars(request map[string]any, status int, headers policies.Headers) map[string]any {
	return map[string]any{
		"request":  request["request"],
		"response": map[string]any{"status": int64(status), "headers": headerMap(headers)},
	}
}

func headerMap(h policies.Headers) map[string]string {
	m := make(map[string]string, h.Len())
	for _, name := range h.Names() {
		m[name] = h.Get(name)
	}
	return m
}
