package sandbox

import (
	"context"
	"io"
)

// Engine is a running policy engine.
type Engine struct {
	*Process
	// Extproc, Admin and Debug are its listen addresses (host:port).
	Extproc, Admin, Debug string
}

// StartEngine runs "bin serve" on free loopback ports, with flags after them (a flag
// given again wins), until its admin interface reports a configuration in force.
func StartEngine(ctx context.Context, bin string, mirror io.Writer, flags ...string) (*Engine, error) {
	addrs, err := FreeAddrs(3)
	if err != nil {
		return nil, err
	}
	e := &Engine{Extproc: addrs[0], Admin: addrs[1], Debug: addrs[2]}
	args := append([]string{"serve", "--listen", e.Extproc, "--admin", e.Admin, "--debug", e.Debug}, flags...)
	if e.Process, err = Start("engine", mirror, bin, args...); err != nil {
		return nil, err
	}
	if err := WaitHTTP(ctx, e.Process, "http://"+e.Admin+"/readyz"); err != nil {
		_ = e.Stop(0)
		return nil, err
	}
	return e, nil
}
