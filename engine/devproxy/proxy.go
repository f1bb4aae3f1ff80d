package devproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// Proxy is the dev proxy's HTTP handler. One gRPC connection to the processor is
// shared by all requests (HTTP/2 multiplexes the per-request streams, as in Envoy).
type Proxy struct {
	cfg    *Config
	conn   *grpc.ClientConn
	client extprocv3.ExternalProcessorClient
	rp     *httputil.ReverseProxy
	log    *slog.Logger
}

type sessionKey struct{}

// New validates cfg, fills in Envoy's defaults and connects (lazily) to the processor.
func New(cfg Config, log *slog.Logger) (*Proxy, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	conn, err := grpc.NewClient(c.ExtProc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: c, conn: conn, client: extprocv3.NewExternalProcessorClient(conn), log: log}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			s := pr.In.Context().Value(sessionKey{}).(*session)
			pr.SetURL(s.route.Upstream)
			// Envoy forwards the client's authority unless a host rewrite is configured.
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			return resp.Request.Context().Value(sessionKey{}).(*session).processResponse(resp)
		},
		ErrorHandler: p.writeError,
	}
	return p, nil
}

// Close releases the processor connection.
func (p *Proxy) Close() error { return p.conn.Close() }

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	s := &session{
		cfg:    p.cfg,
		client: p.client,
		log:    p.log.With("method", r.Method, "path", r.URL.Path),
		ctx:    ctx,
		cancel: cancel,
		mode:   proto.Clone(p.cfg.Mode).(*filterv3.ProcessingMode),
		route:  p.cfg.route(r.URL.Path),
	}
	s.attrs = attributes(s.route, r)
	defer s.close()

	out, err := s.processRequest(r)
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	if out.immediate != nil {
		writeImmediate(w, out.immediate)
		return
	}
	// The upstream call lives on the request's context: a processor failure cancels
	// only the stream, so fail-open requests still reach the upstream.
	fwd := r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
	fwd.Header = out.headers.httpHeader()
	u, err := url.ParseRequestURI(out.headers.pseudo[":path"])
	if err != nil {
		p.writeError(w, r, &failure{http.StatusBadRequest, "invalid :path after mutation: " + err.Error()})
		return
	}
	fwd.URL = u
	if out.body.buffered {
		fwd.Body = io.NopCloser(bytes.NewReader(out.body.body))
		fwd.ContentLength = int64(len(out.body.body))
	}
	p.rp.ServeHTTP(w, fwd)
}

// writeError answers a request the proxy could not complete: a processor failure
// with Envoy's status for it, anything else as an upstream failure (503, as Envoy).
func (p *Proxy) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var f *failure
	if !errors.As(err, &f) {
		p.log.Warn("upstream request failed", "path", r.URL.Path, "err", err)
		f = &failure{http.StatusServiceUnavailable, "upstream: " + err.Error()}
	}
	http.Error(w, http.StatusText(f.status), f.status)
}
