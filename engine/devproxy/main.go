package devproxy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
)

// routeFlags collects repeated --route values.
type routeFlags []Route

func (r *routeFlags) String() string { return fmt.Sprint(len(*r), " routes") }

func (r *routeFlags) Set(s string) error {
	rt, err := ParseRoute(s)
	if err != nil {
		return err
	}
	*r = append(*r, rt)
	return nil
}

// Main is the `policy-engine devproxy` subcommand as a process: args exclude the
// subcommand name; it stops on SIGINT/SIGTERM and returns the exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := Command(ctx, args, os.Stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "devproxy:", err)
		return 2
	default:
		fmt.Fprintln(os.Stderr, "devproxy:", err)
		return 1
	}
}

// usageError is a bad command line, as opposed to a failure while running.
type usageError struct{ error }

// Command parses the devproxy flags and runs the proxy until ctx is done, logging to
// logOut. It fits a subcommand table of func(ctx, args, writer) error.
func Command(ctx context.Context, args []string, logOut io.Writer) error {
	fs := flag.NewFlagSet("devproxy", flag.ContinueOnError)
	fs.SetOutput(logOut)
	var (
		cfg      Config
		routes   routeFlags
		upstream string
		reqBody  = fs.String("request-body-mode", "NONE", "request body mode: NONE, BUFFERED, STREAMED, BUFFERED_PARTIAL")
		respBody = fs.String("response-body-mode", "NONE", "response body mode: NONE, BUFFERED, STREAMED, BUFFERED_PARTIAL")
		respHdrs = fs.Bool("response-headers", true, "send response headers to the processor (response_header_mode SEND)")
	)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&upstream, "upstream", "", "default upstream base URL, e.g. http://127.0.0.1:8000")
	fs.StringVar(&cfg.ExtProc, "ext-proc", "127.0.0.1:9001", "ext_proc gRPC server address")
	fs.Var(&routes, "route", "path prefix to route name: /prefix=name[=http://upstream] (repeatable; longest prefix wins)")
	fs.Int64Var(&cfg.MaxBody, "max-body", DefaultMaxBody, "buffered body limit in bytes (larger request bodies get 413)")
	fs.DurationVar(&cfg.MessageTimeout, "timeout", DefaultMessageTimeout, "ext_proc message timeout (past it: 504)")
	fs.BoolVar(&cfg.FailureModeAllow, "failure-mode-allow", false, "on ext_proc failure, continue unprocessed instead of failing the request")
	fs.BoolVar(&cfg.AllowModeOverride, "allow-mode-override", true, "honour mode_override on headers responses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %v", fs.Args())}
	}
	u, err := parseUpstream(upstream)
	if err != nil {
		return usageError{fmt.Errorf("--upstream: %w", err)}
	}
	cfg.Upstream, cfg.Routes = u, routes
	cfg.Mode = DefaultMode()
	for flagName, spec := range map[string]struct {
		v   string
		dst *filterv3.ProcessingMode_BodySendMode
	}{"request-body-mode": {*reqBody, &cfg.Mode.RequestBodyMode}, "response-body-mode": {*respBody, &cfg.Mode.ResponseBodyMode}} {
		m, ok := filterv3.ProcessingMode_BodySendMode_value[spec.v]
		if !ok {
			return usageError{fmt.Errorf("--%s: unknown body mode %q", flagName, spec.v)}
		}
		*spec.dst = filterv3.ProcessingMode_BodySendMode(m)
	}
	if !*respHdrs {
		cfg.Mode.ResponseHeaderMode = filterv3.ProcessingMode_SKIP
	}
	if err := checkMode(cfg.Mode); err != nil {
		return usageError{err}
	}
	return Run(ctx, cfg, slog.New(slog.NewTextHandler(logOut, nil)), nil)
}
