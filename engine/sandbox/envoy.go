package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Envoy is a running Envoy.
type Envoy struct {
	*Process
	// Admin is its admin address (host:port).
	Admin string
}

// StartEnvoy writes config to dir/envoy.yaml and runs bin on it until its admin
// interface (admin, which config must name) reports it ready. concurrency is its
// number of worker threads.
func StartEnvoy(ctx context.Context, bin, dir string, config []byte, admin string, concurrency int, mirror io.Writer) (*Envoy, error) {
	path := filepath.Join(dir, "envoy.yaml")
	if err := os.WriteFile(path, config, 0o644); err != nil {
		return nil, err
	}
	// No hot restart: several Envoys (tests, a benchmark) may run on one machine,
	// and hot restart would make them share memory by base id.
	p, err := Start("envoy", mirror, bin, "--config-path", path, "--disable-hot-restart",
		"--concurrency", fmt.Sprint(concurrency), "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	if err := WaitHTTP(ctx, p, "http://"+admin+"/ready"); err != nil {
		_ = p.Stop(0)
		return nil, err
	}
	return &Envoy{Process: p, Admin: admin}, nil
}
