// Command policy-image assembles the policy engine's OCI image without a container
// daemon: an OCI image layout (one index over every platform), a tarball `docker load`
// reads, and a CycloneDX SBOM of the Go modules compiled into the engine. The Python
// builder (policy_builder.image) writes a JSON spec and runs it; see docs/image.md.
//
//	policy-image resolve-base --spec FILE   pull (or find in the cache) the base image, check its platforms
//	policy-image build --spec FILE          resolve the base, assemble and write every output
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
)

// exitBadBase is the exit status for a baseError; anything else failing exits 1.
const exitBadBase = 2

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "policy-image: %v\n", err)
		var bad baseError
		if errors.As(err, &bad) {
			os.Exit(exitBadBase)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: policy-image resolve-base|build --spec FILE")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	specPath := fs.String("spec", "", "JSON build spec")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *specPath == "" {
		return errors.New("--spec is required")
	}
	spec, err := readSpec(*specPath)
	if err != nil {
		return err
	}
	switch args[0] {
	case "resolve-base":
		base, err := resolveBase(ctx, spec)
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(map[string]string{"base": base.describe()})
	case "build":
		result, err := build(ctx, spec)
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(result)
	default:
		return fmt.Errorf("unknown command %q; use resolve-base or build", args[0])
	}
}
