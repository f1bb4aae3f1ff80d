package ratelimit

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// redisServer is a real redis-server on a free loopback port, owned by one test.
type redisServer struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
	out  bytes.Buffer
}

// startRedis starts redis-server without persistence. A missing binary fails the test
// rather than skipping it: a skipped Redis test would let the fleet-wide mode go untested
// in CI without anyone noticing. CI installs the Debian package redis-server.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	return startRedisOnPort(t, freePort(t))
}

func startRedisOnPort(t *testing.T, port int) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found in PATH (%v); install it (Debian: apt-get install redis-server) to run the Redis backend tests", err)
	}
	s := &redisServer{t: t, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.cmd = exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes",
		"--loglevel", "warning")
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s.ping() == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING within 10s; output:\n%s", s.addr, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping speaks just enough RESP to know the server is up, without depending on the
// client library under test.
func (s *redisServer) ping() error {
	conn, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// stop kills the server (as an outage would) and waits for it to exit.
func (s *redisServer) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// restartRedisOn starts a fresh server on the address of a stopped one.
func restartRedisOn(t *testing.T, old *redisServer) *redisServer {
	t.Helper()
	_, portStr, _ := net.SplitHostPort(old.addr)
	port, _ := strconv.Atoi(portStr)
	return startRedisOnPort(t, port)
}
