package policies

import (
	"strings"
	"testing"
)

func TestHeadersLookupIsCaseInsensitive(t *testing.T) {
	h := NewHeaders(map[string][]string{"X-Key": {"a"}, "x-key": {"b"}, "accept": {"*/*"}, ":path": {"/"}})
	if got := strings.Join(h.Values("X-KEY"), ","); got != "a,b" && got != "b,a" {
		t.Errorf("values %q, want both a and b", got)
	}
	if h.Get("Accept") != "*/*" || h.Get(":path") != "/" || !h.Has("x-key") || h.Has("missing") {
		t.Error("lookup failed")
	}
	if h.Len() != 3 || strings.Join(h.Names(), " ") != ":path accept x-key" {
		t.Errorf("names %v", h.Names())
	}
	if CanonicalHeaderName(" Content-Type ") != "content-type" {
		t.Error("CanonicalHeaderName")
	}
}

func TestMergingHeadersDoesNotWriteIntoInputs(t *testing.T) {
	backing := []string{"a", "untouched"}
	in := map[string][]string{"x": backing[:1:1], "X": {"b"}}
	NewHeaders(in)
	if backing[1] != "untouched" {
		t.Error("NewHeaders appended into the caller's array")
	}
}
