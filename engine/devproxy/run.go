package devproxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Run serves the proxy on cfg.Listen until ctx is cancelled, then shuts down within
// five seconds. ready, when not nil, receives the bound address once listening
// (useful with port 0).
func Run(ctx context.Context, cfg Config, log *slog.Logger, ready chan<- net.Addr) error {
	p, err := New(cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready <- ln.Addr()
	}
	p.log.Info("devproxy listening (development tool, not a production data plane)",
		"listen", ln.Addr().String(), "upstream", p.cfg.Upstream.String(), "ext_proc", p.cfg.ExtProc)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			return err
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
