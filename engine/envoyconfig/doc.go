// Package envoyconfig builds the Envoy configuration that fits an engine: the ext_proc
// filter, the engine cluster and routes named after the engine's chains, derived from a
// validated engine configuration (and so from the compiled-in policies' needs). It is
// built from go-control-plane's typed protos and checked with the validation rules
// Envoy itself enforces (ValidateAll, also inside every typed_config), so what it
// writes is a valid Envoy bootstrap by construction. `policy-engine envoy-config` is
// its command; examples/envoy/envoy.yaml is its output.
package envoyconfig
