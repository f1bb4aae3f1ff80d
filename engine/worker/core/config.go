package core

// Config is the engine configuration file (docs/configuration.md). The same shape
// arrives as YAML from --config or as YAML/JSON bytes from xDS.
type Config struct {
	Routes []RouteConfig `yaml:"routes" json:"routes"`
	// DefaultRoute names the route whose chain serves requests for unknown routes.
	DefaultRoute string `yaml:"defaultRoute,omitempty" json:"defaultRoute,omitempty"`
	// NoRouteAction decides requests with no chain and no default: "deny" (default)
	// or "allow".
	NoRouteAction string `yaml:"noRouteAction,omitempty" json:"noRouteAction,omitempty"`
	// RouteMetadata, when set, picks the chain from a route metadata value when the
	// route name has no chain.
	RouteMetadata *RouteMetadataConfig `yaml:"routeMetadata,omitempty" json:"routeMetadata,omitempty"`
	// PolicyTimeout is the deadline of a policy instance that declares none itself.
	PolicyTimeout string `yaml:"policyTimeout,omitempty" json:"policyTimeout,omitempty"`
	// PhaseTimeout bounds all the policies run for one Envoy message together, so the
	// engine answers before the filter's message_timeout (which, with
	// failure_mode_allow, would let the request through unprocessed).
	PhaseTimeout string `yaml:"phaseTimeout,omitempty" json:"phaseTimeout,omitempty"`
	// MutationRules mirror the Envoy filter's mutation_rules: headers Envoy ignores by
	// default are only sent when the filter is configured to accept them.
	MutationRules MutationRules `yaml:"mutationRules,omitempty" json:"mutationRules,omitempty"`
}

// RouteConfig is the policy chain of one Envoy route.
type RouteConfig struct {
	Name string `yaml:"name" json:"name"`
	// FailOpen skips a failing policy instead of answering 500.
	FailOpen bool             `yaml:"failOpen,omitempty" json:"failOpen,omitempty"`
	Policies []InstanceConfig `yaml:"policies" json:"policies"`
}

// InstanceConfig is one policy instance in a chain.
type InstanceConfig struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
	// Enabled defaults to true.
	Enabled    *bool          `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	When       string         `yaml:"when,omitempty" json:"when,omitempty"`
	Timeout    string         `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Parameters map[string]any `yaml:"parameters,omitempty" json:"parameters,omitempty"`
}

// RouteMetadataConfig locates a string in Envoy's route metadata:
// filter_metadata[Namespace][Key].
type RouteMetadataConfig struct {
	Namespace string `yaml:"namespace" json:"namespace"`
	Key       string `yaml:"key" json:"key"`
}

// MutationRules say which headers the Envoy filter lets the engine change.
type MutationRules struct {
	// AllowAllRouting: the filter sets mutation_rules.allow_all_routing, so
	// :authority, host, :scheme and :method may change (needed for method rewrites).
	AllowAllRouting bool `yaml:"allowAllRouting,omitempty" json:"allowAllRouting,omitempty"`
	// AllowEnvoy: the filter sets mutation_rules.allow_envoy, so x-envoy-* may change.
	AllowEnvoy bool `yaml:"allowEnvoy,omitempty" json:"allowEnvoy,omitempty"`
}

// IsEnabled reports whether the instance runs (default true).
func (i InstanceConfig) IsEnabled() bool { return i.Enabled == nil || *i.Enabled }

// Key returns "name:version".
func (i InstanceConfig) Key() string { return i.Name + ":" + i.Version }
