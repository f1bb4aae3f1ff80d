// Command tryit is `make run`: the engine just built, a real Envoy configured for it
// by the engine's own envoy-config command, and an echo upstream that answers with
// what reached it, all on loopback until Ctrl-C.
//
//	tryit --engine-bin output/policy-engine --envoy .venv/bin/envoy \
//	      --config examples/envoy/engine-config.yaml --route /api=api --route /=default \
//	      --hint "allowed: curl -i localhost:8080/api -H 'x-api-key: change-me'"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/policy-engine-builder/policy-engine/sandbox"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	engineBin, envoyBin, config, listen string
	routes, hints                       listFlag
}

func main() {
	var o options
	fs := flag.NewFlagSet("tryit", flag.ExitOnError)
	fs.StringVar(&o.engineBin, "engine-bin", "output/policy-engine", "the policy-engine binary")
	fs.StringVar(&o.envoyBin, "envoy", ".venv/bin/envoy", "the Envoy binary")
	fs.StringVar(&o.config, "config", "examples/envoy/engine-config.yaml", "engine configuration")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "Envoy's HTTP listener (loopback)")
	fs.Var(&o.routes, "route", "/prefix=route-name, as for envoy-config (repeatable)")
	fs.Var(&o.hints, "hint", "a line to print once everything runs, e.g. a curl command (repeatable)")
	_ = fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tryit:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	if len(o.routes) == 0 {
		return errors.New("give at least one --route")
	}
	echo, err := sandbox.StartEcho("echo")
	if err != nil {
		return err
	}
	defer echo.Close()
	envoyAdmin, err := sandbox.FreeAddr()
	if err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	engine, err := sandbox.StartEngine(startCtx, o.engineBin, os.Stderr, "--config", o.config, "--log-level", "warn")
	if err != nil {
		return err
	}
	defer stopProcess(engine.Process)

	args := []string{"envoy-config", "--config", o.config, "--listen", o.listen, "--admin", envoyAdmin,
		"--engine", engine.Extproc, "--upstream", echo.Addr}
	for _, r := range o.routes {
		args = append(args, "--route", r)
	}
	config, err := exec.CommandContext(ctx, o.engineBin, args...).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("envoy-config: %s", exit.Stderr)
		}
		return err
	}
	dir, err := os.MkdirTemp("", "tryit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	envoy, err := sandbox.StartEnvoy(startCtx, o.envoyBin, dir, config, envoyAdmin, 1, os.Stderr)
	if err != nil {
		return err
	}
	defer stopProcess(envoy.Process)

	fmt.Fprintf(out, "\nEnvoy          http://%s  (admin http://%s)\n", o.listen, envoyAdmin)
	fmt.Fprintf(out, "policy engine  ext_proc %s  (admin http://%s: /metrics; debug http://%s: /config_dump, /policies)\n", engine.Extproc, engine.Admin, engine.Debug)
	fmt.Fprintf(out, "echo upstream  http://%s  (answers with the method, path, headers and body it got)\n", echo.Addr)
	fmt.Fprintf(out, "Envoy config   %s/envoy.yaml  (policy-engine envoy-config)\n\nTry:\n", dir)
	for _, h := range o.hints {
		fmt.Fprintf(out, "  %s\n", h)
	}
	fmt.Fprintln(out, "\nCtrl-C stops all of it.")

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nstopping Envoy and the engine")
		return nil
	case <-engine.Exited():
		return fmt.Errorf("the engine exited: %v", engine.Err())
	case <-envoy.Exited():
		return fmt.Errorf("envoy exited: %v", envoy.Err())
	}
}

// stopProcess stops one child by its pid, with time to drain.
func stopProcess(p *sandbox.Process) {
	if err := p.Stop(20 * time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "tryit: %s: %v\n", p.Name, err)
	}
}
