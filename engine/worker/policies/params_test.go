package policies

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

type apiKeyItem struct {
	Principal string `param:"principal"`
	Key       string `param:"key"`
}

type testParams struct {
	Header  string            `param:"header"`
	Keys    []string          `param:"keys"`
	Limit   int               `param:"limit"`
	Rate    float64           `param:"rate"`
	Strict  bool              `param:"strict"`
	Skew    time.Duration     `param:"clockSkew"`
	Headers map[string]string `param:"headers"`
	APIKeys []apiKeyItem      `param:"apiKeys"`
	Burst   *int              `param:"burst"`
}

func TestDecodeParamsFillsEveryKind(t *testing.T) {
	// JSON values as the engine passes them: every number a float64.
	var got testParams
	err := DecodeParams(map[string]any{
		"header":    "x-api-key",
		"keys":      []any{"k1", "k2"},
		"limit":     float64(10),
		"rate":      2.5,
		"strict":    true,
		"clockSkew": "1m30s",
		"headers":   map[string]any{"x-a": "b"},
		"apiKeys":   []any{map[string]any{"principal": "ci", "key": "s3cret"}},
		"burst":     float64(4),
	}, &got)
	if err != nil {
		t.Fatal(err)
	}
	four := 4
	want := testParams{
		Header: "x-api-key", Keys: []string{"k1", "k2"}, Limit: 10, Rate: 2.5, Strict: true,
		Skew: 90 * time.Second, Headers: map[string]string{"x-a": "b"},
		APIKeys: []apiKeyItem{{Principal: "ci", Key: "s3cret"}}, Burst: &four,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v,\nwant %+v", got, want)
	}
}

func TestDecodeParamsLeavesAbsentParametersZero(t *testing.T) {
	var got testParams
	if err := DecodeParams(map[string]any{}, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, testParams{}) {
		t.Errorf("got %+v, want the zero value", got)
	}
	if err := DecodeParams(nil, &got); err != nil {
		t.Errorf("nil map: %v", err)
	}
}

func TestDecodeParamsErrorsNameTheParameter(t *testing.T) {
	cases := map[string]struct {
		params map[string]any
		want   []string
	}{
		"parameter without a field": {map[string]any{"colour": "red"},
			[]string{`parameter "colour": no field in the params struct`}},
		"case differs": {map[string]any{"Header": "x"},
			[]string{`parameter "Header": no field`}},
		"wrong type": {map[string]any{"limit": "ten"},
			[]string{`parameter "limit": expected type 'int'`}},
		"wrong item type": {map[string]any{"keys": []any{"a", 7.0}},
			[]string{`parameter "keys": at [1]: expected type 'string'`}},
		"object value type": {map[string]any{"headers": map[string]any{"x-a": true}},
			[]string{`parameter "headers": at [x-a]: expected type 'string'`}},
		"unknown field of an item": {map[string]any{"apiKeys": []any{map[string]any{"principal": "p", "sha": "x"}}},
			[]string{`parameter "apiKeys": at [0].sha: unknown field`}},
		"item field type": {map[string]any{"apiKeys": []any{map[string]any{"principal": 1.0}}},
			[]string{`parameter "apiKeys": at [0].principal: expected type 'string'`}},
		"bad duration": {map[string]any{"clockSkew": "soon"},
			[]string{`parameter "clockSkew": time: invalid duration`}},
		"several at once": {map[string]any{"limit": "x", "strict": "yes"},
			[]string{`parameter "limit"`, `parameter "strict"`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got testParams
			err := DecodeParams(tc.params, &got)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "decoding failed") {
				t.Errorf("error %q keeps the decoder's preamble", err)
			}
		})
	}
}

func TestDecodeParamsNeedsAPointerToAStruct(t *testing.T) {
	if err := DecodeParams(map[string]any{}, testParams{}); err == nil {
		t.Error("accepted a struct value it cannot fill")
	}
}
