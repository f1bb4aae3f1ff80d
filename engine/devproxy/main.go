package devproxy

import (
	"context"
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

// Main is the `policy-engine devproxy` subcommand: args exclude the subcommand name.
// It returns the process exit code.
func Main(args []string) int {
	return cli(args, os.Stderr)
}

func cli(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("devproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
		return 2
	}
	u, err := parseUpstream(upstream)
	if err != nil {
		fmt.Fprintln(stderr, "devproxy: --upstream:", err)
		return 2
	}
	cfg.Upstream, cfg.Routes = u, routes
	cfg.Mode = DefaultMode()
	for flagName, spec := range map[string]struct {
		v   string
		dst *filterv3.ProcessingMode_BodySendMode
	}{"request-body-mode": {*reqBody, &cfg.Mode.RequestBodyMode}, "response-body-mode": {*respBody, &cfg.Mode.ResponseBodyMode}} {
		m, ok := filterv3.ProcessingMode_BodySendMode_value[spec.v]
		if !ok {
			fmt.Fprintf(stderr, "devproxy: --%s: unknown body mode %q\n", flagName, spec.v)
			return 2
		}
		*spec.dst = filterv3.ProcessingMode_BodySendMode(m)
	}
	if !*respHdrs {
		cfg.Mode.ResponseHeaderMode = filterv3.ProcessingMode_SKIP
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := Run(ctx, cfg, log, nil); err != nil {
		fmt.Fprintln(stderr, "devproxy:", err)
		return 1
	}
	return 0
}
