// Package yamljson reads YAML documents as JSON values, with the YAML library the
// engine already uses for its config (gopkg.in/yaml.v3), so the engine needs only one.
package yamljson

import (
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Decode parses one YAML document into the values encoding/json and structpb
// understand: map[string]any, []any, string, bool, nil and numbers. Mapping keys
// that are not strings (`1: a`, `true: b`) become their text, as JSON needs string
// keys; timestamps become their RFC 3339 text. An empty document is nil.
func Decode(raw []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return convert(v)
}

// ToJSON converts one YAML document to JSON.
func ToJSON(raw []byte) ([]byte, error) {
	v, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func convert(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		return v, convertEach(maps.All(v), func(k string, c any) { v[k] = c })
	case map[any]any:
		// yaml.v3 uses this type only when some key is not a string.
		out := make(map[string]any, len(v))
		for k, e := range v {
			key, err := keyText(k)
			if err != nil {
				return nil, err
			}
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("yaml: mapping keys %q collide once written as JSON strings", key)
			}
			out[key] = e
		}
		return convert(out)
	case []any:
		return v, convertEach(slices.All(v), func(i int, c any) { v[i] = c })
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	}
	return v, nil
}

// convertEach converts every element of a mapping or sequence, in place through set.
func convertEach[K comparable](all iter.Seq2[K, any], set func(K, any)) error {
	for k, e := range all {
		c, err := convert(e)
		if err != nil {
			return err
		}
		set(k, c)
	}
	return nil
}

func keyText(k any) (string, error) {
	switch k := k.(type) {
	case string:
		return k, nil
	case bool:
		return strconv.FormatBool(k), nil
	case int:
		return strconv.Itoa(k), nil
	case int64:
		return strconv.FormatInt(k, 10), nil
	case uint64:
		return strconv.FormatUint(k, 10), nil
	case float64:
		return strconv.FormatFloat(k, 'g', -1, 64), nil
	case nil:
		return "null", nil
	}
	return "", fmt.Errorf("yaml: mapping key %v (%T) cannot be a JSON object key", k, k)
}
