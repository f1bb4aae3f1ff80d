// Package sandbox runs a policy engine behind a real Envoy on loopback: the
// processes (each in its own process group, stopped by its own pid), their readiness
// and a small echo upstream that shows what reached it. `make run`, the end-to-end
// suite and the Envoy benchmark share it.
package sandbox
