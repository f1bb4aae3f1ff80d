// Command policy-engine is the custom policy engine. The builder adds two generated
// files beside this one in its scratch build directory: plugin_registry.go, which
// registers every compiled-in policy, and build_info.go.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/policy-engine-builder/policy-engine/pkg/buildinfo"
	"github.com/policy-engine-builder/policy-engine/worker/core"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Printf("policy-engine %s (commit %s, built %s)\npolicies: %s\n",
			buildinfo.Version, buildinfo.Commit, buildinfo.BuildTime,
			strings.Join(core.GetGlobalRegistry().Keys(), ", "))
		return
	}
	fmt.Fprintln(os.Stderr, "policy-engine: the ext_proc server is not implemented yet")
	os.Exit(1)
}
