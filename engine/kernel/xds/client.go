package xds

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	sotwv3 "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// Applier is what a subscription feeds: the engine's config store. Apply must parse
// and validate the whole document, swap it in only if valid, and keep the last good
// config otherwise (worker/core's store does).
type Applier interface {
	Apply(raw []byte, source string) error
}

// SubscriberConfig configures a subscription.
type SubscriberConfig struct {
	Server  string // management server address, e.g. 127.0.0.1:9002
	NodeID  string // this engine's xDS node id
	Cluster string // xDS node cluster; "" means "policy-engine"
	Applier Applier
	Hooks   SubscriberHooks
	Logger  *slog.Logger
	// Reconnect backoff: doubles from MinBackoff to MaxBackoff, reset by any update.
	MinBackoff, MaxBackoff time.Duration
	// TLS, when set, connects over TLS (with a client certificate: mTLS); nil
	// connects in plaintext.
	TLS *tls.Config
}

// Subscribe keeps an ADS subscription to the policy discovery server until ctx is
// done: each update is reassembled into a config document and applied; success is
// ACKed, failure NACKed with the error as detail (the engine keeps its last good
// config). A broken stream is retried with exponential backoff. It returns ctx's
// error.
func Subscribe(ctx context.Context, cfg SubscriberConfig) error {
	if cfg.Applier == nil || cfg.Server == "" || cfg.NodeID == "" {
		return errors.New("xds: Subscribe needs a server, a node id and an applier")
	}
	if cfg.Cluster == "" {
		cfg.Cluster = "policy-engine"
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("xds_server", cfg.Server, "node", cfg.NodeID)
	// gRPC's own reconnect backoff starts at 1s; align it with ours so a restarted
	// server is found as quickly as the subscription retries.
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	conn, err := grpc.NewClient(cfg.Server,
		grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
			BaseDelay: cfg.MinBackoff, Multiplier: 2, Jitter: 0.2, MaxDelay: cfg.MaxBackoff}}))
	if err != nil {
		return err
	}
	defer conn.Close()
	node := &corev3.Node{Id: cfg.NodeID, Cluster: cfg.Cluster}
	wait := cfg.MinBackoff
	for {
		got, err := session(ctx, conn, node, cfg, log)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if got {
			wait = cfg.MinBackoff
		}
		log.Warn("policy discovery stream broken; reconnecting", "err", err, "in", wait)
		if cfg.Hooks.OnReconnect != nil {
			cfg.Hooks.OnReconnect(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, cfg.MaxBackoff)
	}
}

// session runs one ADS stream until it breaks; got reports whether any update came.
func session(ctx context.Context, conn *grpc.ClientConn, node *corev3.Node, cfg SubscriberConfig, log *slog.Logger) (got bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := sotwv3.NewADSClient(sctx, node, TypeURL)
	if err := c.InitConnect(conn); err != nil {
		return false, err
	}
	for {
		resp, err := c.Fetch()
		if err != nil {
			return got, err
		}
		got = true
		version, err := apply(resp.Resources, cfg)
		if err != nil {
			log.Error("policy discovery: config rejected (NACK); keeping the last good config", "version", version, "err", err)
			if cfg.Hooks.OnNACK != nil {
				cfg.Hooks.OnNACK(version, err)
			}
			if err := c.Nack(err.Error()); err != nil {
				return got, err
			}
			continue
		}
		log.Info("policy discovery: config applied (ACK)", "version", version)
		if cfg.Hooks.OnUpdate != nil {
			cfg.Hooks.OnUpdate(version)
		}
		if err := c.Ack(); err != nil {
			return got, err
		}
	}
}

func apply(resources []*anypb.Any, cfg SubscriberConfig) (version string, err error) {
	doc, version, err := Assemble(resources)
	if err != nil {
		return version, err
	}
	if err := cfg.Applier.Apply(doc, fmt.Sprintf("xds://%s@%s", cfg.Server, version)); err != nil {
		return version, err
	}
	return version, nil
}
