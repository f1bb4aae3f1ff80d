package xds

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// DefaultPollInterval is how often the served config file is checked for changes.
// Polling (rather than inotify) also sees Kubernetes ConfigMap symlink swaps.
const DefaultPollInterval = time.Second

// ServerConfig configures a policy discovery server.
type ServerConfig struct {
	ConfigPath   string        // the config document to serve
	PollInterval time.Duration // 0: DefaultPollInterval
	Hooks        ServerHooks
	Logger       *slog.Logger
	// TLS, when set, serves over TLS (with a client CA: mTLS); nil serves plaintext.
	TLS *tls.Config
}

// Server serves the config file's parts over ADS, one snapshot version per content
// change, to every subscriber alike.
type Server struct {
	cfg   ServerConfig
	log   *slog.Logger
	cache cachev3.SnapshotCache
	last  string // content hash of the file as last read, valid or not
}

// NewServer loads the config file once; a file that cannot be split is an error here,
// so a server never starts without something to serve.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	s := &Server{cfg: cfg, log: cfg.Logger, cache: cachev3.NewSnapshotCache(false, fleet{}, nil)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Serve runs the discovery service on ln and watches the file until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var opts []grpc.ServerOption
	if s.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.cfg.TLS)))
	}
	gs := grpc.NewServer(opts...)
	xs := serverv3.NewServer(ctx, s.cache, newNackHold(s.cfg.Hooks))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, xs)
	go s.watch(ctx)
	go func() {
		<-ctx.Done()
		gs.Stop()
	}()
	s.log.Info("policy discovery (xDS) serving", "listen", ln.Addr().String(), "config", s.cfg.ConfigPath)
	return gs.Serve(ln)
}

// ListenAndServe is Serve on a new TCP listener, e.g. ":9002".
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.reload(); err != nil {
				s.log.Error("policy discovery: config file not published; subscribers keep the previous version", "err", err)
				if s.cfg.Hooks.OnInvalid != nil {
					s.cfg.Hooks.OnInvalid(err)
				}
			}
		}
	}
}

// reload publishes the file as a new snapshot when its content changed. A file that
// cannot be split is reported once per content, not on every tick.
func (s *Server) reload() error {
	raw, err := os.ReadFile(s.cfg.ConfigPath)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	version := hex.EncodeToString(sum[:8])
	if version == s.last {
		return nil
	}
	s.last = version
	parts, err := Split(raw, version)
	if err != nil {
		return fmt.Errorf("%s: %w", s.cfg.ConfigPath, err)
	}
	snap, err := newSnapshot(version, parts)
	if err != nil {
		return err
	}
	if err := s.cache.SetSnapshot(context.Background(), fleetKey, snap); err != nil {
		return err
	}
	s.log.Info("policy discovery: published", "version", version, "parts", len(parts))
	if s.cfg.Hooks.OnPublish != nil {
		s.cfg.Hooks.OnPublish(version, len(parts))
	}
	return nil
}
