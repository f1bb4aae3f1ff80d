package xds

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// ServerConfig configures a policy discovery server.
type ServerConfig struct {
	Hooks  ServerHooks
	Logger *slog.Logger
	// TLS, when set, serves over TLS (with a client CA: mTLS); nil serves plaintext.
	TLS *tls.Config
}

// Server serves the parts of the config document it was last given, one snapshot
// version per content, to every subscriber alike. The engine's file watcher gives
// it the config file at start and on every change (Apply).
type Server struct {
	hooks ServerHooks
	log   *slog.Logger
	tls   *tls.Config
	cache cachev3.SnapshotCache
}

// NewServer returns a server with nothing to serve yet: Apply a document first, so
// that subscribers never connect to an empty server.
func NewServer(cfg ServerConfig) *Server {
	s := &Server{hooks: cfg.Hooks, log: cfg.Logger, tls: cfg.TLS, cache: cachev3.NewSnapshotCache(false, fleet{}, nil)}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Serve runs the discovery service on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var opts []grpc.ServerOption
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	gs := grpc.NewServer(opts...)
	xs := serverv3.NewServer(ctx, s.cache, newNackHold(s.hooks))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, xs)
	go func() {
		<-ctx.Done()
		gs.Stop()
	}()
	s.log.Info("policy discovery (xDS) serving", "listen", ln.Addr().String())
	return gs.Serve(ln)
}

// Apply publishes raw, a config document read from source, as a new snapshot whose
// version is a hash of the content, the same on every server replica. A document
// that cannot be split is not published (logged, OnInvalid): subscribers keep the
// previous version.
func (s *Server) Apply(raw []byte, source string) error {
	err := s.publish(raw, source)
	if err != nil {
		s.log.Error("policy discovery: config file not published; subscribers keep the previous version", "err", err)
		if s.hooks.OnInvalid != nil {
			s.hooks.OnInvalid(err)
		}
	}
	return err
}

func (s *Server) publish(raw []byte, source string) error {
	sum := sha256.Sum256(raw)
	version := hex.EncodeToString(sum[:8])
	parts, err := Split(raw, version)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	snap, err := newSnapshot(version, parts)
	if err != nil {
		return err
	}
	if err := s.cache.SetSnapshot(context.Background(), fleetKey, snap); err != nil {
		return err
	}
	s.log.Info("policy discovery: published", "version", version, "parts", len(parts))
	if s.hooks.OnPublish != nil {
		s.hooks.OnPublish(version, len(parts))
	}
	return nil
}
