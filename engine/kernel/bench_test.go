package kernel

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/policy-engine-builder/policy-engine/pkg/metrics"
	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// BenchmarkRequestHeaders measures executor + translator for one request on
// request headers, without the gRPC transport, for chains of 1, 5 and 20
// header-setting policies (the first one an API-key check).
func BenchmarkRequestHeaders(b *testing.B) {
	for _, n := range []int{1, 5, 20} {
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			var cfg strings.Builder
			cfg.WriteString("routes:\n  - name: r\n    policies:\n")
			cfg.WriteString("      - {name: auth, version: v1.0.0, parameters: {key: good}}\n")
			for i := 1; i < n; i++ {
				fmt.Fprintf(&cfg, "      - {name: edit, version: v1.0.0, parameters: {set: {x-h%d: v}}}\n", i)
			}
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			m := metrics.New(prometheus.NewRegistry())
			store := core.NewConfigStore(core.NewCatalog(testRegistry(b)), logger, m)
			if err := store.Apply([]byte(cfg.String()), "bench"); err != nil {
				b.Fatal(err)
			}
			srv := &Server{Store: store, Executor: &core.Executor{Logger: logger, Observer: m}, Metrics: m, Logger: logger}
			req := requestHeaders("r", true, "x-api-key", "good", "user-agent", "bench", "accept", "*/*")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				p := &processor{srv: srv, ctx: context.Background()}
				resp := p.handle(req)
				if resp.GetRequestHeaders() == nil {
					b.Fatalf("unexpected response %v", resp)
				}
			}
		})
	}
}
