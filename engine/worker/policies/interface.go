// Package policies is the SDK that user policies import. Every policy package
// exports a factory
//
//	func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error)
//
// and the value it returns implements RequestPolicy, ResponsePolicy or both.
//
// Parameters: the params map GetPolicy receives, and the config map passed to
// Validate, ExecuteRequest and ExecuteResponse, is the same map. Before any of them
// sees it, the engine has checked the instance's parameters against the policy's
// own policy.yaml and filled in the declared defaults of absent parameters. Values
// are JSON values whatever the source (YAML file or xDS): string, bool, float64
// for every number, []interface{}, map[string]interface{}. Treat the map as
// read-only; DecodeParams turns it into a typed struct.
package policies

// Policy is the base interface every policy implements.
type Policy interface {
	// Name returns the policy's name as declared in its policy.yaml.
	Name() string
	// Validate checks one instance's configuration; the engine calls it when a
	// configuration is loaded, right after GetPolicy and before any request
	// reaches the policy, with the same map (schema-checked, defaults filled in).
	Validate(config map[string]interface{}) error
}

// RequestPolicy processes requests before they reach the upstream.
type RequestPolicy interface {
	Policy
	// ExecuteRequest runs during request processing. A nil action means
	// "continue unchanged".
	ExecuteRequest(ctx *RequestContext, config map[string]interface{}) *RequestPolicyAction
}

// ResponsePolicy processes responses before they reach the client.
type ResponsePolicy interface {
	Policy
	// ExecuteResponse runs during response processing. A nil action means
	// "continue unchanged".
	ExecuteResponse(ctx *ResponseContext, config map[string]interface{}) *ResponsePolicyAction
}

// ResponsePhaseSkipper is implemented by a ResponsePolicy that, with some
// parameters, has nothing to do on responses (say, headers it adds only when
// asked to). The engine asks each instance once, when a configuration is loaded:
// an instance that answers true is left out of its chain's response phase, and a
// chain left with no response policy does not ask Envoy for the response at all,
// which saves an ext_proc round trip per request.
type ResponsePhaseSkipper interface {
	SkipResponsePhase() bool
}

// Closer is implemented by policies that hold resources, such as a background
// refresh or a connection pool. The engine calls Close once an instance is
// retired: its configuration was replaced and in-flight requests had time to
// finish, or the configuration that created it was rejected before it served.
type Closer interface {
	Close() error
}

// Factory is the signature of the GetPolicy function every policy package exports.
type Factory func(metadata PolicyMetadata, params map[string]interface{}) (Policy, error)

// PolicyMetadata tells a policy instance who it is and where it is attached.
type PolicyMetadata struct {
	Name    string // policy name from policy.yaml, e.g. "jwtValidation"
	Version string // policy version from policy.yaml, e.g. "v1.0.0"
	Route   string // route whose chain holds this instance
	// Index is the instance's position in the route's chain (0-based).
	Index int
}

// Checked is embedded by a policy whose factory decodes and checks all of its
// parameters, as most do; it supplies Policy's methods, so the policy writes only its
// phases. Set it to the name declared in policy.yaml:
//
//	type Policy struct {
//		policies.Checked
//		cfg *config
//	}
//
//	return &Policy{Checked: policyName, cfg: cfg}, nil
type Checked string

// Name returns the name declared in policy.yaml.
func (c Checked) Name() string { return string(c) }

// Validate has nothing left to check: the factory parsed and checked the parameters.
func (Checked) Validate(map[string]interface{}) error { return nil }
