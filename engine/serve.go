package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/policy-engine-builder/policy-engine/admin"
	"github.com/policy-engine-builder/policy-engine/kernel"
	"github.com/policy-engine-builder/policy-engine/kernel/xds"
	"github.com/policy-engine-builder/policy-engine/pkg/metrics"
	"github.com/policy-engine-builder/policy-engine/pkg/redact"
	"github.com/policy-engine-builder/policy-engine/pkg/tlsfiles"
	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// defaultGCPercent is the engine's GC target. Its live heap is a few MB while every
// request allocates a few KB, so Go's default of 100 runs a collection every few
// hundred requests; 400 cut the GC share of CPU enough to raise loopback throughput
// with the example chain by about 15% (docs/load-test.md), for ~10 MB more RSS.
const defaultGCPercent = 400

// defaultStreamWorkers: Envoy opens one ext_proc stream per request, and gRPC serves each
// new stream on a new goroutine whose stack then grows, copied each time, to the depth
// of a policy chain: about a tenth of the engine's CPU under load. Long-lived workers
// keep their grown stacks; streams beyond them still get a goroutine each.
const defaultStreamWorkers = 256

// serveOptions are the serve command's flags.
type serveOptions struct {
	config         string
	xdsListen      string
	xdsServer      string
	nodeID         string
	listen         string
	admin          string
	debug          string
	tls            tlsfiles.Files // ext_proc listener
	xdsTLS         tlsfiles.Files // xDS server (CA: client CA) or client (CA: server CA)
	xdsInsecure    bool
	logFormat      string
	logLevel       string
	reloadInterval time.Duration
	drainTimeout   time.Duration
	drainDelay     time.Duration
	gcPercent      int
	streamWorkers  int
}

func (o *serveOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "engine configuration file (YAML); reloaded when it changes. With --xds-server it is only a start-up seed, not watched")
	fs.StringVar(&o.xdsListen, "xds-listen", "", "serve the --config file to other engines over xDS (policy discovery) on this address, e.g. :9002")
	fs.StringVar(&o.xdsServer, "xds-server", "", "take the configuration from this xDS management server (host:port) instead of watching --config")
	fs.StringVar(&o.nodeID, "node-id", "", "xDS node id sent to --xds-server (default: the host name)")
	fs.StringVar(&o.listen, "listen", ":9001", "ext_proc gRPC listen address")
	fs.StringVar(&o.admin, "admin", ":9003", "admin HTTP listen address: health, readiness and metrics, for probes and scrapers; empty disables it")
	fs.StringVar(&o.debug, "debug", "127.0.0.1:9004", "debug HTTP listen address: config dump (secrets redacted) and policy list; keep it on loopback; empty disables it")
	fs.StringVar(&o.tls.Cert, "tls-cert", "", "serve ext_proc over TLS with this PEM certificate (re-read when it changes); needs --tls-key")
	fs.StringVar(&o.tls.Key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&o.tls.CA, "tls-client-ca", "", "require ext_proc clients (Envoy) to present a certificate from this PEM CA (mTLS)")
	fs.StringVar(&o.xdsTLS.Cert, "xds-cert", "", "PEM certificate for xDS: the server's with --xds-listen, the client certificate with --xds-server; re-read when it changes")
	fs.StringVar(&o.xdsTLS.Key, "xds-key", "", "PEM private key of --xds-cert")
	fs.StringVar(&o.xdsTLS.CA, "xds-ca", "", "PEM CA for xDS: with --xds-listen, subscribers must present a certificate from it (mTLS); with --xds-server, the server's certificate must chain to it")
	fs.BoolVar(&o.xdsInsecure, "xds-insecure", false, "allow --xds-listen without TLS on a non-loopback address (the configuration travels in plaintext)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&o.reloadInterval, "reload-interval", 2*time.Second, "how often the config file is checked for changes")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 15*time.Second, "on SIGTERM, how long in-flight streams may finish")
	fs.DurationVar(&o.drainDelay, "drain-delay", 0, "on SIGTERM, how long to keep accepting streams while gRPC health says NOT_SERVING, so that Envoy's health checks move traffic away first")
	fs.IntVar(&o.gcPercent, "gc-percent", defaultGCPercent, "Go GC target percentage; the GOGC environment variable, when set, wins")
	fs.IntVar(&o.streamWorkers, "stream-workers", defaultStreamWorkers, "long-lived goroutines that serve ext_proc streams (more streams at once get a goroutine each); 0: one new goroutine per stream")
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
	if err := opts.check(); err != nil {
		return usageError{err}
	}
	logger, err := newLogger(os.Stderr, opts.logFormat, opts.logLevel)
	if err != nil {
		return usageError{err}
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(opts.gcPercent)
	}
	if err := serve(ctx, opts, logger); err != nil {
		logger.Error("policy engine stopped", "error", err)
		return err
	}
	return nil
}

// check rejects flag combinations whose meaning would be unclear.
func (o *serveOptions) check() error {
	switch {
	case o.xdsListen != "" && o.config == "":
		return errors.New("--xds-listen serves the --config file: give --config")
	case o.xdsListen != "" && o.xdsServer != "":
		// An engine that both subscribes and serves would relay a file that is not
		// the configuration it runs; one source of truth per fleet.
		return errors.New("--xds-listen and --xds-server exclude each other")
	case o.nodeID != "" && o.xdsServer == "":
		return errors.New("--node-id needs --xds-server")
	case o.xdsTLS.Enabled() && o.xdsListen == "" && o.xdsServer == "":
		return errors.New("--xds-cert, --xds-key and --xds-ca need --xds-listen or --xds-server")
	case o.xdsListen != "" && o.xdsTLS.Enabled() && (o.xdsTLS.Cert == "" || o.xdsTLS.Key == ""):
		return errors.New("an xDS server over TLS needs --xds-cert and --xds-key")
	case o.xdsInsecure && o.xdsListen == "":
		return errors.New("--xds-insecure needs --xds-listen")
	case o.xdsInsecure && o.xdsTLS.Enabled():
		return errors.New("--xds-insecure and --xds-cert/--xds-key/--xds-ca exclude each other")
	case o.tls.Enabled() && (o.tls.Cert == "" || o.tls.Key == ""):
		return errors.New("ext_proc over TLS needs --tls-cert and --tls-key")
	case o.streamWorkers < 0:
		return fmt.Errorf("--stream-workers %d: give 0 (a goroutine per stream) or more", o.streamWorkers)
	}
	return nil
}

// xdsListenAddress is where the xDS server listens. It serves the configuration,
// plaintext secrets included: without TLS it stays on loopback unless
// --xds-insecure says otherwise. warning is what to log, "" for nothing.
func (o *serveOptions) xdsListenAddress() (addr, warning string, err error) {
	if o.xdsTLS.Enabled() {
		return o.xdsListen, "", nil
	}
	host, port, err := net.SplitHostPort(o.xdsListen)
	if err != nil {
		return "", "", usageError{fmt.Errorf("--xds-listen: %w", err)}
	}
	switch {
	case isLoopback(host):
		return o.xdsListen, "", nil
	case o.xdsInsecure:
		return o.xdsListen, "xDS is served without TLS on a non-loopback address: any client that reaches it gets the configuration, secrets included", nil
	case host == "":
		return net.JoinHostPort("127.0.0.1", port), "xDS without TLS listens on loopback only; give --xds-cert and --xds-key (and --xds-ca for mTLS) to serve other machines, or --xds-insecure", nil
	}
	return "", "", usageError{fmt.Errorf("--xds-listen %s without TLS would send the configuration in plaintext beyond this machine: give --xds-cert and --xds-key, or --xds-insecure", o.xdsListen)}
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newXDSServer is the policy discovery server --xds-listen asks for and the address it
// binds: loopback unless TLS (or --xds-insecure) allows more.
func newXDSServer(opts serveOptions, m *metrics.Metrics, logger *slog.Logger) (*xds.Server, string, error) {
	addr, warning, err := opts.xdsListenAddress()
	if err != nil {
		return nil, "", err
	}
	if warning != "" {
		logger.Warn(warning, "address", addr)
	}
	var tlsConfig *tls.Config
	if opts.xdsTLS.Enabled() {
		if tlsConfig, err = tlsfiles.ServerConfig(opts.xdsTLS); err != nil {
			return nil, "", fmt.Errorf("xds server: %w", err)
		}
	}
	return xds.NewServer(xds.ServerConfig{Logger: logger, Hooks: serverHooks(m), TLS: tlsConfig}), addr, nil
}

func serve(ctx context.Context, opts serveOptions, logger *slog.Logger) error {
	// Every sensitive value the store loads is scrubbed from every log record.
	secrets := redact.NewSet()
	logger = slog.New(secrets.Handler(logger.Handler()))
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
	store.UseSecrets(secrets)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every long-running part reports here; the first error stops the engine.
	errc := make(chan error, 4)
	switch {
	case opts.xdsServer != "":
		// The management server is the source of truth: a --config file only makes
		// the engine ready before the first update arrives, and is not watched, so
		// a stale local file can never override what the fleet was sent.
		if opts.config != "" {
			raw, err := os.ReadFile(opts.config)
			if err != nil {
				return fmt.Errorf("initial configuration: %w", err)
			}
			if err := store.Apply(raw, opts.config); err != nil {
				return fmt.Errorf("initial configuration: %w", err)
			}
		} else {
			logger.Info("not ready until the first configuration arrives over xDS", "xds_server", opts.xdsServer)
		}
		go func() {
			// Only failures are reported: a nil on shutdown could win the race with
			// ctx.Done below and skip the drain.
			if err := subscribe(ctx, opts, store, m, logger); err != nil {
				errc <- err
			}
		}()
	case opts.config != "":
		// One watcher feeds the store and, when serving the file over xDS, the
		// xDS server, so both see the same content at the same time.
		watcher := &core.FileWatcher{Path: opts.config, Interval: opts.reloadInterval, Targets: []core.Applier{store}, Logger: logger}
		var xdsServer *xds.Server
		var xdsAddr string
		if opts.xdsListen != "" {
			var err error
			if xdsServer, xdsAddr, err = newXDSServer(opts, m, logger); err != nil {
				return err
			}
			watcher.Targets = append(watcher.Targets, xdsServer)
		}
		if err := watcher.LoadInitial(); err != nil {
			return fmt.Errorf("initial configuration: %w", err)
		}
		go watcher.Run(ctx)
		if xdsServer != nil {
			xdsLis, err := net.Listen("tcp", xdsAddr)
			if err != nil {
				return fmt.Errorf("xds listener: %w", err)
			}
			logger.Info("xds server listening", "address", xdsLis.Addr().String(), "tls", opts.xdsTLS.Enabled(), "mtls", opts.xdsTLS.CA != "")
			go func() {
				if err := xdsServer.Serve(ctx, xdsLis); err != nil {
					errc <- fmt.Errorf("xds server: %w", err)
				}
			}()
		}
	default:
		logger.Warn("no --config given: not ready until a configuration arrives")
	}
	go (&core.SecretFileWatcher{Store: store, Interval: opts.reloadInterval, Logger: logger}).Run(ctx)

	lis, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("ext_proc listener: %w", err)
	}
	grpcOpts := []grpc.ServerOption{grpc.MaxRecvMsgSize(kernel.MaxMessageBytes)}
	if opts.streamWorkers > 0 {
		grpcOpts = append(grpcOpts, grpc.NumStreamWorkers(uint32(opts.streamWorkers)))
	}
	if opts.tls.Enabled() {
		tlsConfig, err := tlsfiles.ServerConfig(opts.tls)
		if err != nil {
			lis.Close()
			return fmt.Errorf("ext_proc TLS: %w", err)
		}
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	grpcServer := grpc.NewServer(grpcOpts...)
	healthpb.RegisterHealthServer(grpcServer, healthServer)
	extprocv3.RegisterExternalProcessorServer(grpcServer, &kernel.Server{
		Store:    store,
		Executor: &core.Executor{Logger: logger, Observer: m},
		Metrics:  m,
		Logger:   logger,
	})
	go func() { errc <- grpcServer.Serve(lis) }()
	logger.Info("ext_proc server listening", "address", lis.Addr().String(), "tls", opts.tls.Enabled())

	var httpServers []*http.Server
	for _, h := range []struct {
		name, addr string
		handler    http.Handler
	}{
		{"admin", opts.admin, admin.Handler(store, promReg)},
		{"debug", opts.debug, admin.DebugHandler(store, logger)},
	} {
		if h.addr == "" {
			continue
		}
		hl, err := net.Listen("tcp", h.addr)
		if err != nil {
			grpcServer.Stop()
			return fmt.Errorf("%s listener: %w", h.name, err)
		}
		srv := &http.Server{Handler: h.handler, ReadHeaderTimeout: 5 * time.Second}
		httpServers = append(httpServers, srv)
		go func() {
			if err := srv.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		logger.Info(h.name+" server listening", "address", hl.Addr().String())
		if host, _, _ := net.SplitHostPort(h.addr); h.name == "debug" && !isLoopback(host) {
			logger.Warn("the debug address is not loopback: the configuration dump and policy list are reachable from other machines", "address", hl.Addr().String())
		}
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining ext_proc streams", "deadline", opts.drainTimeout)
	case err := <-errc:
		grpcServer.Stop()
		return err
	}
	healthServer.Shutdown()
	if opts.drainDelay > 0 {
		// New streams still arrive until Envoy's next health check: refusing them
		// now would fail those requests (closed), so serve them until then.
		logger.Info("not serving on gRPC health; accepting streams until the drain delay ends", "delay", opts.drainDelay)
		time.Sleep(opts.drainDelay)
	}
	drain(grpcServer, opts.drainTimeout, logger)
	shutdownCtx, done := context.WithTimeout(context.Background(), 2*time.Second)
	defer done()
	for _, srv := range httpServers {
		_ = srv.Shutdown(shutdownCtx)
	}
	logger.Info("policy engine stopped")
	return nil
}

// subscribe feeds the store from the management server until ctx is done; the
// store validates each update as a whole, so a NACKed one leaves the last good
// configuration serving. It returns nil on shutdown.
func subscribe(ctx context.Context, opts serveOptions, store *core.ConfigStore, m *metrics.Metrics, logger *slog.Logger) error {
	node := opts.nodeID
	if node == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("--node-id not given and no host name: %w", err)
		}
		node = host
	}
	var tlsConfig *tls.Config
	if opts.xdsTLS.Enabled() {
		var err error
		if tlsConfig, err = tlsfiles.ClientConfig(opts.xdsTLS); err != nil {
			return fmt.Errorf("xds client: %w", err)
		}
	}
	err := xds.Subscribe(ctx, xds.SubscriberConfig{Server: opts.xdsServer, NodeID: node, Applier: store, Logger: logger, TLS: tlsConfig,
		Hooks: xds.SubscriberHooks{
			OnUpdate:    m.XDSApplied,
			OnNACK:      func(string, error) { m.XDSRejected() },
			OnReconnect: func(error) { m.XDSReconnected() },
		}})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("xds subscription: %w", err)
}

func serverHooks(m *metrics.Metrics) xds.ServerHooks {
	return xds.ServerHooks{
		OnPublish: func(version string, _ int) { m.XDSPublished(version) },
		OnNACK:    func(string, string, string) { m.XDSNackReceived() },
		OnInvalid: func(error) { m.XDSUnpublishable() },
	}
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
