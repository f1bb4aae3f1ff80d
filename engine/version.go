package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/policy-engine-builder/policy-engine/pkg/buildinfo"
	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// runVersion prints one line of build information and one of policies; the
// builder's tests and image labels rely on this exact shape.
func runVersion(_ context.Context, _ []string, stdout io.Writer) error {
	_, err := fmt.Fprintf(stdout, "policy-engine %s (commit %s, built %s)\npolicies: %s\n",
		buildinfo.Version, buildinfo.Commit, buildinfo.BuildTime,
		strings.Join(core.GetGlobalRegistry().Keys(), ", "))
	return err
}
