package envoyconfig

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

type validator interface {
	ValidateAll() error
}

// Validate applies the validation rules Envoy enforces to m and to every message
// packed in an Any inside it (typed_config and the like), which m's own ValidateAll
// does not open.
func Validate(m proto.Message) error {
	if v, ok := m.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", m.ProtoReflect().Descriptor().FullName(), err)
		}
	}
	var errs []error
	walk(m.ProtoReflect(), func(a *anypb.Any) {
		inner, err := a.UnmarshalNew()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.GetTypeUrl(), err))
			return
		}
		if _, ok := inner.(validator); !ok {
			errs = append(errs, fmt.Errorf("%s has no validation rules", a.GetTypeUrl()))
			return
		}
		errs = append(errs, Validate(inner))
	})
	return errors.Join(errs...)
}

// walk calls fn for each Any directly inside m (not inside those Anys).
func walk(m protoreflect.Message, fn func(*anypb.Any)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		fn(a)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				walk(mv.Message(), fn)
				return true
			})
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				walk(v.List().Get(i).Message(), fn)
			}
		case fd.Message() != nil && !fd.IsMap() && !fd.IsList():
			walk(v.Message(), fn)
		}
		return true
	})
}
