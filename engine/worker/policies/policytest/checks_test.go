package policytest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

func TestCheckRejectedReturnsEachError(t *testing.T) {
	dir := specDir(t, "v1.0.0", goodSpec)
	factory := func(_ policies.PolicyMetadata, params map[string]any) (policies.Policy, error) {
		if params["target"] == "nobody" {
			return nil, errors.New(`parameter "target": nobody to greet`)
		}
		return &reqPolicy{name: "greeter"}, nil
	}
	errs := CheckRejected(t, dir, factory, []Rejection{
		{Name: "schema", Params: map[string]any{"target": 7}, WantErr: `parameter "target": got number, want string`},
		{Name: "factory", Params: map[string]any{"target": "nobody"}, WantErr: "nobody to greet"},
		{Params: map[string]any{}, WantErr: `parameter "target": required`},
	})
	if len(errs) != 3 || !strings.Contains(errs[1].Error(), "(GetPolicy)") {
		t.Errorf("errors %v", errs)
	}
}

func TestCheckRefusal(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
		ok   bool
	}{
		{errors.New(`parameter "a": too long`), `"a": too long`, true},
		{errors.New(`parameter "a": too long`), `"b"`, false},
		{nil, `"a"`, false},
	} {
		if err := checkRefusal(tc.err, tc.want); (err == nil) != tc.ok {
			t.Errorf("checkRefusal(%v, %q) = %v", tc.err, tc.want, err)
		}
	}
}

func TestConcurrentlyCallsEveryGoroutineEveryRound(t *testing.T) {
	var calls [4]atomic.Int64
	f := &fakeTB{}
	Concurrently(f, 4, 25, func(g int) error {
		calls[g].Add(1)
		return nil
	})
	f.expect(t, false)
	for g := range calls {
		if n := calls[g].Load(); n != 25 {
			t.Errorf("goroutine %d called %d times, want 25", g, n)
		}
	}
}

func TestConcurrentlyStopsAGoroutineAtItsFirstError(t *testing.T) {
	var calls atomic.Int64
	f := &fakeTB{}
	Concurrently(f, 3, 10, func(g int) error {
		calls.Add(1)
		if g == 1 {
			return fmt.Errorf("wrong decision")
		}
		return nil
	})
	f.expect(t, false, "goroutine 1: wrong decision")
	if len(f.errors) != 1 || calls.Load() != 21 {
		t.Errorf("errors %q after %d calls; want one error after 21 calls", f.errors, calls.Load())
	}
}

func TestHeaders(t *testing.T) {
	h := Headers("a", "1", "b", "2", "a", "3", "dangling")
	if got := h.Values("a"); !reflect.DeepEqual(got, []string{"1", "3"}) {
		t.Errorf("a = %q", got)
	}
	if got := h.Get("b"); got != "2" {
		t.Errorf("b = %q", got)
	}
	if h.Has("dangling") {
		t.Error("a name without a value made a header")
	}
}

func TestList(t *testing.T) {
	if got := List("x", "y"); !reflect.DeepEqual(got, []interface{}{"x", "y"}) {
		t.Errorf("List = %#v", got)
	}
	if got := List(); got == nil || len(got) != 0 {
		t.Errorf("List() = %#v, want an empty array", got)
	}
}
