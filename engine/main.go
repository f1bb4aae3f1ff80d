// Command policy-engine is the custom policy engine. The builder adds two generated
// files beside this one in its scratch build directory: plugin_registry.go, which
// registers every compiled-in policy, and build_info.go.
//
// Usage:
//
//	policy-engine [serve] [flags]   run the engine (the default command)
//	policy-engine validate --config FILE   check a configuration without serving
//	policy-engine version           print build information (also --version)
//	policy-engine envoy-config --config FILE --route /=NAME ...   the Envoy configuration for it
//	policy-engine help
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = []command{
	{name: "serve", summary: "run the policy engine (default)", run: runServe},
	{name: "validate", summary: "check a configuration file against the compiled-in policies", run: runValidate},
	{name: "version", summary: "print version, commit, build time and compiled-in policies", run: runVersion},
	{name: "envoy-config", summary: "write the Envoy configuration (ext_proc filter, engine cluster, routes) for a configuration", run: runEnvoyConfig},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := dispatch(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "policy-engine:", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake on the command line (exit status 2); other errors, such
// as an invalid configuration, exit with status 1.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	name := "serve"
	if len(args) > 0 {
		switch {
		case args[0] == "--version" || args[0] == "-version":
			name, args = "version", args[1:]
		case args[0] == "help" || args[0] == "--help" || args[0] == "-h":
			usage(stdout)
			return nil
		case !strings.HasPrefix(args[0], "-"):
			name, args = args[0], args[1:]
		}
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args, stdout)
		}
	}
	usage(os.Stderr)
	return usageError{fmt.Errorf("unknown command %q", name)}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: policy-engine [command] [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'policy-engine <command> -h' for a command's flags.")
}
