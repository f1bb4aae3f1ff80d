// Package devproxy is a development stand-in for Envoy: an HTTP reverse proxy that calls
// an ext_proc server the way Envoy's ext_proc filter does, so policies can be exercised
// with curl and end-to-end tests without an Envoy binary.
//
// It follows the protocol facts in shared/reference/ext_proc.md: one bidirectional stream
// per HTTP request, processing modes and mode_override, buffered bodies with a size
// limit, a per-message timeout, failure_mode_allow, immediate responses and Envoy's
// default header mutation rules. It is not a production data plane: no TLS, no
// retries, no connection limits, no streamed body chunks.
package devproxy
