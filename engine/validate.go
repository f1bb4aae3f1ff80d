package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// runValidate checks a configuration file against the compiled-in policies
// without serving, for CI and for editing a config before a reload.
func runValidate(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	config := fs.String("config", "", "engine configuration file to check")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *config == "" {
		return usageError{errors.New("validate needs --config FILE")}
	}
	raw, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	if err := offlineStore().Check(raw, *config); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s: valid\n", *config)
	return err
}

// offlineStore is a configuration store of the compiled-in policies for commands
// that check a configuration without serving it: nothing is logged or counted.
func offlineStore() *core.ConfigStore {
	return core.NewConfigStore(core.NewCatalog(core.GetGlobalRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
}
