package policies

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// ParamTag is the struct tag that names the policy.yaml parameter a field holds:
//
//	type params struct {
//		Header string        `param:"header"`
//		Keys   []string      `param:"keys"`
//		Skew   time.Duration `param:"clockSkew"`
//	}
//
// A policy that shares a set of parameters with others (such as jwtauth.Params) embeds
// their struct with the tag `param:",squash"`, so its fields stand for parameters of
// their own.
//
// In a struct that decodes one object item (an element of an array of objects, or an
// object parameter), the tag names the item's field.
const ParamTag = "param"

// DecodeParams fills the struct out points to from params, the map GetPolicy
// receives. The engine has already checked that map against policy.yaml (names,
// required, types, enum, bounds, patterns) and filled in the declared defaults, so
// the struct carries no checks and no defaults of its own; policytest.CheckSpec
// proves that its fields and policy.yaml's parameters agree.
//
// Field types by parameter type: string and uri → string; integer → any integer
// type; number → float32 or float64; boolean → bool; duration → time.Duration;
// array → a slice; object → a map with string keys, or a struct whose fields carry
// the tag. A pointer field stays nil when the parameter is absent. Names match
// exactly; a key with no field (a parameter, or a field of an object the schema
// leaves open) is an error, as is a value the field's type cannot hold. Every error
// names the parameter.
func DecodeParams(params map[string]any, out any) error {
	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		TagName:    ParamTag,
		MatchName:  func(key, field string) bool { return key == field },
		DecodeHook: mapstructure.StringToTimeDurationHookFunc(),
		Metadata:   &md,
		Result:     out,
	})
	if err != nil {
		return err
	}
	var errs []error
	if err := dec.Decode(params); err != nil {
		errs = decodeErrors(err)
	}
	// Keys without a field, collected as paths ("colour", "apiKeys[0].sha") rather than
	// by the decoder's ErrorUnused, whose message names a Go type instead.
	slices.Sort(md.Unused)
	for _, path := range md.Unused {
		name, at := splitPath(path)
		if at == "" {
			errs = append(errs, fmt.Errorf("parameter %q: no field in the params struct (policy.yaml and the code disagree)", name))
		} else {
			errs = append(errs, fmt.Errorf("parameter %q: at %s: unknown field", name, at))
		}
	}
	return errors.Join(errs...)
}

// decodeErrors rewrites the decoder's errors, named by paths such as
// "apiKeys[0].key", in the engine's style: `parameter "apiKeys": at [0].key: ...`.
func decodeErrors(err error) []error {
	if de, ok := err.(*mapstructure.DecodeError); ok {
		name, at := splitPath(de.Name())
		if at == "" {
			return []error{fmt.Errorf("parameter %q: %w", name, de.Unwrap())}
		}
		return []error{fmt.Errorf("parameter %q: at %s: %w", name, at, de.Unwrap())}
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range joined.Unwrap() {
			errs = append(errs, decodeErrors(e)...)
		}
		return errs
	}
	if wrapped := errors.Unwrap(err); wrapped != nil {
		return decodeErrors(wrapped)
	}
	return []error{err}
}

// splitPath splits "apiKeys[0].key" into the parameter "apiKeys" and "[0].key".
func splitPath(path string) (name, at string) {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i], strings.TrimPrefix(path[i:], ".")
	}
	return path, ""
}
