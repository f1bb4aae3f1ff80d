package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/policy-engine-builder/policy-engine/admin"
	"github.com/policy-engine-builder/policy-engine/kernel"
	"github.com/policy-engine-builder/policy-engine/pkg/metrics"
	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// serveOptions are the serve command's flags. Other parts of the engine (xDS,
// issue #3) add their flags to register and their start-up to runServe.
type serveOptions struct {
	config         string
	listen         string
	admin          string
	logFormat      string
	logLevel       string
	reloadInterval time.Duration
	drainTimeout   time.Duration
}

func (o *serveOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "engine configuration file (YAML); reloaded when it changes")
	fs.StringVar(&o.listen, "listen", ":9001", "ext_proc gRPC listen address")
	fs.StringVar(&o.admin, "admin", ":9003", "admin HTTP listen address (health, metrics, config dump); empty disables it")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&o.reloadInterval, "reload-interval", 2*time.Second, "how often the config file is checked for changes")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 15*time.Second, "on SIGTERM, how long in-flight streams may finish")
}

func runServe(ctx context.Context, args []string, _ io.Writer) error {
	var opts serveOptions
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	opts.register(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %v", fs.Args())}
	}
	logger, err := newLogger(os.Stderr, opts.logFormat, opts.logLevel)
	if err != nil {
		return usageError{err}
	}
	if err := serve(ctx, opts, logger); err != nil {
		logger.Error("policy engine stopped", "error", err)
		return err
	}
	return nil
}

func serve(ctx context.Context, opts serveOptions, logger *slog.Logger) error {
	registry := core.GetGlobalRegistry()
	logger.Info(fmt.Sprintf("Loaded %d policy versions", len(registry.Keys())), "policies", registry.Keys())
	catalog := core.NewCatalog(registry)
	for _, e := range catalog.Entries() {
		if e.Err != nil {
			logger.Error("compiled-in policy is unusable", "policy", e.Definition.Key(), "error", e.Err)
		}
	}

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(promReg)
	// gRPC health on the ext_proc port lets Envoy health-check the engine cluster:
	// serving once a configuration is loaded, not serving while draining.
	healthServer := health.NewServer()
	healthServer.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	store := core.NewConfigStore(catalog, logger, readiness{Metrics: m, health: healthServer})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.config != "" {
		watcher := &core.FileWatcher{Path: opts.config, Interval: opts.reloadInterval, Store: store, Logger: logger}
		if err := watcher.LoadInitial(); err != nil {
			return fmt.Errorf("initial configuration: %w", err)
		}
		go watcher.Run(ctx)
	} else {
		logger.Warn("no --config given: not ready until a configuration arrives")
	}

	lis, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("ext_proc listener: %w", err)
	}
	grpcServer := grpc.NewServer(grpc.MaxRecvMsgSize(kernel.MaxMessageBytes))
	healthpb.RegisterHealthServer(grpcServer, healthServer)
	extprocv3.RegisterExternalProcessorServer(grpcServer, &kernel.Server{
		Store:    store,
		Executor: &core.Executor{Logger: logger, Observer: m},
		Metrics:  m,
		Logger:   logger,
	})
	errc := make(chan error, 2)
	go func() { errc <- grpcServer.Serve(lis) }()
	logger.Info("ext_proc server listening", "address", lis.Addr().String())

	var adminServer *http.Server
	if opts.admin != "" {
		adminLis, err := net.Listen("tcp", opts.admin)
		if err != nil {
			grpcServer.Stop()
			return fmt.Errorf("admin listener: %w", err)
		}
		adminServer = &http.Server{Handler: admin.Handler(store, promReg, logger), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := adminServer.Serve(adminLis); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		logger.Info("admin server listening", "address", adminLis.Addr().String())
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining ext_proc streams", "deadline", opts.drainTimeout)
	case err := <-errc:
		grpcServer.Stop()
		return err
	}
	healthServer.Shutdown()
	drain(grpcServer, opts.drainTimeout, logger)
	if adminServer != nil {
		shutdownCtx, done := context.WithTimeout(context.Background(), 2*time.Second)
		defer done()
		_ = adminServer.Shutdown(shutdownCtx)
	}
	logger.Info("policy engine stopped")
	return nil
}

// drain lets in-flight streams finish, then cuts the rest at the deadline.
func drain(s *grpc.Server, deadline time.Duration, logger *slog.Logger) {
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		logger.Warn("drain deadline passed, closing remaining streams")
		s.Stop()
		<-done
	}
}

// readiness passes configuration events to the metrics and marks the gRPC health
// service serving once a configuration is in force.
type readiness struct {
	*metrics.Metrics
	health *health.Server
}

func (r readiness) ConfigApplied(version uint64) {
	r.Metrics.ConfigApplied(version)
	r.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
}
