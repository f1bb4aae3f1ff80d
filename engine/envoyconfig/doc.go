// Package envoyconfig checks the example Envoy configuration (examples/envoy) against
// Envoy's own API: the YAML is loaded into go-control-plane's Bootstrap proto and
// validated with the protoc-gen-validate rules Envoy itself enforces, and its route
// names are compared with the engine config beside it. It has no code, only tests.
package envoyconfig
