package devproxy

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// headerSet is one side's headers as Envoy sees them: pseudo-headers (:method, :path,
// :scheme, :authority or :status) plus regular headers with lower-case names.
type headerSet struct {
	pseudo map[string]string
	h      http.Header
}

func newHeaderSet(pseudo map[string]string, h http.Header) *headerSet {
	hs := &headerSet{pseudo: pseudo, h: http.Header{}}
	for k, vs := range h {
		hs.h[strings.ToLower(k)] = append([]string(nil), vs...)
	}
	return hs
}

// headerMap renders the set the way Envoy does: pseudo-headers first, values in
// raw_value, one entry per value of a repeated header.
func (hs *headerSet) headerMap() *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for _, k := range slices.Sorted(maps.Keys(hs.pseudo)) {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(hs.pseudo[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(hs.h)) {
		for _, v := range hs.h[k] {
			m.Headers = append(m.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
		}
	}
	return m
}

// httpHeader returns the regular headers in canonical form for net/http.
func (hs *headerSet) httpHeader() http.Header {
	out := http.Header{}
	for k, vs := range hs.h {
		out[http.CanonicalHeaderKey(k)] = vs
	}
	return out
}

// mutable reports whether Envoy's default mutation rules let an ext_proc server
// change this header: routing headers and Envoy's own are off limits unless
// mutation_rules say otherwise, and the dev proxy models only the defaults.
func mutable(name string) bool {
	switch name {
	case "host", ":authority", ":scheme", ":method":
		return false
	}
	return !strings.HasPrefix(name, "x-envoy-")
}

// apply performs a header mutation and returns how many entries were ignored under
// the default rules (Envoy counts these as rejected_header_mutations).
func (hs *headerSet) apply(m *extprocv3.HeaderMutation) (ignored int) {
	for _, opt := range m.GetSetHeaders() {
		name := strings.ToLower(opt.GetHeader().GetKey())
		if name == "" || !mutable(name) {
			ignored++
			continue
		}
		value := string(opt.GetHeader().GetRawValue())
		if value == "" {
			value = opt.GetHeader().GetValue()
		}
		if strings.HasPrefix(name, ":") {
			if _, ok := hs.pseudo[name]; !ok {
				ignored++
				continue
			}
			hs.pseudo[name] = value
			continue
		}
		hs.set(name, value, appendAction(opt))
	}
	for _, name := range m.GetRemoveHeaders() {
		name = strings.ToLower(name)
		// Pseudo-headers and host can never be removed, whatever the rules.
		if strings.HasPrefix(name, ":") || !mutable(name) {
			ignored++
			continue
		}
		delete(hs.h, name)
	}
	return ignored
}

// appendAction resolves the deprecated append flag against append_action: when the
// flag is present it decides (true appends, false overwrites).
func appendAction(opt *corev3.HeaderValueOption) corev3.HeaderValueOption_HeaderAppendAction {
	//lint:ignore SA1019 read so that an old-style processor behaves as under Envoy
	if flag := opt.GetAppend(); flag != nil {
		if flag.GetValue() {
			return corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		}
		return corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	}
	return opt.GetAppendAction()
}

func (hs *headerSet) set(name, value string, action corev3.HeaderValueOption_HeaderAppendAction) {
	_, exists := hs.h[name]
	switch action {
	case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
		hs.h[name] = append(hs.h[name], value)
	case corev3.HeaderValueOption_ADD_IF_ABSENT:
		if !exists {
			hs.h[name] = []string{value}
		}
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
		if exists {
			hs.h[name] = []string{value}
		}
	default: // OVERWRITE_IF_EXISTS_OR_ADD
		hs.h[name] = []string{value}
	}
}
