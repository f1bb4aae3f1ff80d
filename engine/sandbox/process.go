package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Log collects a process's output; safe for concurrent use. Mirror, when set, also
// receives every write.
type Log struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	Mirror io.Writer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Mirror != nil {
		_, _ = l.Mirror.Write(p)
	}
	return l.buf.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Process is a child process in a process group of its own: a terminal's Ctrl-C or
// the end of the shell or test that started it does not reach it, so it stops only
// when told to, by its own pid.
type Process struct {
	Name string
	Log  *Log
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs bin with args; its output goes to a Log that mirrors to mirror (may be nil).
func Start(name string, mirror io.Writer, bin string, args ...string) (*Process, error) {
	p := &Process{Name: name, Log: &Log{Mirror: mirror}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.Log, p.Log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited; Err then says how.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the exit error (nil for status 0); only meaningful after Exited.
func (p *Process) Err() error { return p.err }

// Signal sends sig to the process (not its group) unless it has exited.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Stop sends SIGTERM, waits up to grace, then kills; it returns the exit error of a
// process that stopped in time, or says that it had to be killed.
func (p *Process) Stop(grace time.Duration) error {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		_ = p.Signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s ignored SIGTERM for %s and was killed", p.Name, grace)
	}
}

// FreeAddr returns a loopback address with a port nothing listens on right now.
func FreeAddr() (string, error) {
	addrs, err := FreeAddrs(1)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

// FreeAddrs returns n such addresses, all different: each listener stays open until
// every port is picked, so the kernel cannot hand out one port twice.
func FreeAddrs(n int) ([]string, error) {
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs, nil
}

// ErrExited says that a process ended while something waited for it.
var ErrExited = errors.New("process exited")

// WaitHTTP polls url until it answers 200, p exits or ctx ends.
func WaitHTTP(ctx context.Context, p *Process, url string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("%s: %w (%v) before %s answered 200:\n%s", p.Name, ErrExited, p.Err(), url, p.Log)
		case <-ctx.Done():
			return fmt.Errorf("%s: %s did not answer 200: %w:\n%s", p.Name, url, ctx.Err(), p.Log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
