package policytest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Rejection is one set of parameters the engine must refuse, and a part of the error
// it must refuse them with. Name, when given, names the subtest.
type Rejection struct {
	Name    string
	Params  map[string]interface{}
	WantErr string
}

// CheckRejected builds the policy in dir with each case's parameters, as Build does,
// in a subtest per case, and fails the subtest when the parameters are accepted or
// refused with an error that does not contain WantErr. It returns the errors in the
// order of cases (nil for a case accepted), for checks every error must pass.
func CheckRejected(t *testing.T, dir string, factory policies.Factory, cases []Rejection) []error {
	t.Helper()
	errs := make([]error, len(cases))
	for i, tc := range cases {
		name := tc.Name
		if name == "" {
			name = fmt.Sprintf("case %d", i)
		}
		t.Run(name, func(t *testing.T) {
			_, err := Build(t, dir, factory, tc.Params)
			errs[i] = err
			if err := checkRefusal(err, tc.WantErr); err != nil {
				t.Errorf("%v: %v", tc.Params, err)
			}
		})
	}
	return errs
}

// checkRefusal reports a refusal that did not happen or says something else.
func checkRefusal(err error, want string) error {
	if err == nil || !strings.Contains(err.Error(), want) {
		return fmt.Errorf("error %v, want it to contain %q", err, want)
	}
	return nil
}

// Concurrently runs call on goroutines goroutines at once, rounds times on each, to be
// run under -race: one instance serves many requests at once. call receives the
// goroutine's number; its first error ends that goroutine and fails the test.
func Concurrently(t testing.TB, goroutines, rounds int, call func(goroutine int) error) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range rounds {
				if err := call(g); err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
