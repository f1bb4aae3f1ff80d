// Command noop is the no-op ext_proc server used as the floor in load tests: it
// answers every message with CONTINUE at once. Loopback only by default.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/policy-engine-builder/policy-engine/bench/floor"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9101", "ext_proc listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "noop:", err)
		os.Exit(1)
	}
	gs := floor.Serve(ln)
	fmt.Fprintln(os.Stderr, "noop ext_proc server on", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	gs.Stop()
}
