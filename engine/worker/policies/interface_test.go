package policies

import "testing"

func TestCheckedSuppliesPolicy(t *testing.T) {
	var p Policy = struct{ Checked }{Checked: "greeter"}
	if got := p.Name(); got != "greeter" {
		t.Errorf("Name = %q, want greeter", got)
	}
	if err := p.Validate(map[string]interface{}{"anything": 1}); err != nil {
		t.Errorf("Validate = %v, want nil: the factory checked the parameters", err)
	}
}
