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

func TestHeadersWith(t *testing.T) {
	h := NewHeaders(map[string][]string{"x-keep": {"1"}, "x-gone": {"1"}, "x-more": {"1"}, "x-reset": {"1"}})
	got := h.With(HeaderChanges{
		Remove: []string{"X-Gone", "x-reset"},
		Set:    map[string]string{"X-New": "n", "x-reset": "2"},
		Append: map[string][]string{"x-more": {"2"}},
	})
	if got.Has("x-gone") || got.Get("x-new") != "n" || got.Get("x-reset") != "2" || got.Get("x-keep") != "1" {
		t.Errorf("headers after changes: %v", got.Names())
	}
	if strings.Join(got.Values("x-more"), ",") != "1,2" {
		t.Errorf("x-more %v", got.Values("x-more"))
	}
	if strings.Join(h.Values("x-more"), ",") != "1" || !h.Has("x-gone") || h.Has("x-new") {
		t.Error("With changed the original")
	}
}

func TestHeadersFromPairs(t *testing.T) {
	pairs := [][2]string{{":path", "/a"}, {"X-Tag", "1"}, {"accept", "a"}, {"x-tag", "2"}}
	h := HeadersFromPairs(len(pairs), func(i int) (string, string) { return pairs[i][0], pairs[i][1] })
	if got := h.Values("x-tag"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("x-tag values %q, want [1 2] in order", got)
	}
	if h.Get(":path") != "/a" || h.Get("Accept") != "a" || h.Len() != 3 {
		t.Errorf("headers %v", h.Names())
	}
	// Appending a value to one name must not overwrite the next name's value in the
	// shared backing array.
	if got := h.Values("accept"); len(got) != 1 || got[0] != "a" {
		t.Errorf("accept values %q after x-tag grew", got)
	}
}
