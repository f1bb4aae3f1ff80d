package yamljson

import (
	"testing"
)

func TestToJSON(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"nested":                 {"a: {b: [1, 2.5, x, true, null]}\n", `{"a":{"b":[1,2.5,"x",true,null]}}`},
		"non-string keys":        {"1: a\ntrue: b\n2.5: c\n", `{"1":"a","2.5":"c","true":"b"}`},
		"nested non-string keys": {"m: [{1: x}]\n", `{"m":[{"1":"x"}]}`},
		"timestamp":              {"t: 2001-12-14t21:59:43.10-05:00\n", `{"t":"2001-12-14T21:59:43.1-05:00"}`},
		"quoted stays":           {"v: '010'\n", `{"v":"010"}`},
		"empty":                  {"", `null`},
		"list document":          {"- a\n- b\n", `["a","b"]`},
	} {
		got, err := ToJSON([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s: got %s, want %s", name, got, tc.want)
		}
	}
}

func TestToJSONErrors(t *testing.T) {
	for name, in := range map[string]string{
		"syntax":         "a: [",
		"duplicate key":  "a: 1\na: 2\n",
		"colliding keys": "1: a\n'1': b\n",
		"list key":       "? [a, b]\n: c\n",
	} {
		if got, err := ToJSON([]byte(in)); err == nil {
			t.Errorf("%s: accepted, gave %s", name, got)
		}
	}
}
