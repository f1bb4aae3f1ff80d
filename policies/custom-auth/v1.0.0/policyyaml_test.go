package customauth

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestPolicyYAMLMatchesCode keeps policy.yaml and the code from drifting apart: the
// declared name is what Name returns, the version is the directory's, and the declared
// parameters are exactly the ones the code accepts. A plain line scan is enough for the
// file's fixed layout and spares the module a YAML dependency.
func TestPolicyYAMLMatchesCode(t *testing.T) {
	f, err := os.Open("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var name, version string
	var params []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "name: "):
			name = strings.TrimSpace(strings.TrimPrefix(line, "name: "))
		case strings.HasPrefix(line, "version: "):
			version = strings.TrimSpace(strings.TrimPrefix(line, "version: "))
		case strings.HasPrefix(line, "  - name: "):
			params = append(params, strings.TrimSpace(strings.TrimPrefix(line, "  - name: ")))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if name != policyName {
		t.Errorf("policy.yaml name %q, code says %q", name, policyName)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if dir := filepath.Base(wd); version != dir {
		t.Errorf("policy.yaml version %q, directory %q", version, dir)
	}
	want := append([]string(nil), knownParams...)
	sort.Strings(params)
	sort.Strings(want)
	if !reflect.DeepEqual(params, want) {
		t.Errorf("policy.yaml declares parameters %v, the code accepts %v", params, want)
	}
}
