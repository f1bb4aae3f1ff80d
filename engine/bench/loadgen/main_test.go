package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/bench/floor"
)

func TestSideBySideAgainstTwoFloors(t *testing.T) {
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gs := floor.Serve(ln)
		t.Cleanup(gs.Stop)
		addrs = append(addrs, ln.Addr().String())
	}
	var out, errOut bytes.Buffer
	code := run([]string{"--target", "noop=" + addrs[0], "--target", "engine=" + addrs[1],
		"--concurrency", "4", "--duration", "300ms", "--rounds", "2", "--warmup", "50ms",
		"--route", "api", "--header", "x-api-key=k"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"target", "noop ", "engine ", "engine/noop: throughput"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRejectsNonLoopbackTargets(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--target", "x=10.0.0.1:9001"}, &out, &errOut); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if code := run(nil, &out, &errOut); code != 2 {
		t.Errorf("no targets: exit %d, want 2", code)
	}
}
