package tlsfiles

import (
	"crypto/tls"
	"net"
	"os"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/pkg/tlsfiles/tlstest"
)

// handshake runs one TLS handshake between the two configurations over loopback
// and returns the server certificate's common name the client saw.
func handshake(t *testing.T, server, client *tls.Config) (string, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.(*tls.Conn).Handshake()
		_, _ = conn.Read(make([]byte, 1))
	}()
	c := client.Clone()
	c.ServerName = "localhost"
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), c)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// TLS 1.3 reports a refused client certificate only on the first read.
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		return "", err
	}
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestMutualTLSAndRotation(t *testing.T) {
	ca := tlstest.NewCA(t, "fleet")
	serverCert, serverKey := ca.Issue(t, "server-1")
	clientCert, clientKey := ca.Issue(t, "client")
	server, err := ServerConfig(Files{Cert: serverCert, Key: serverKey, CA: ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	withCert, err := ClientConfig(Files{Cert: clientCert, Key: clientKey, CA: ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if cn, err := handshake(t, server, withCert); err != nil || cn != "server-1" {
		t.Fatalf("mTLS handshake: %q %v", cn, err)
	}
	withoutCert, err := ClientConfig(Files{CA: ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, server, withoutCert); err == nil {
		t.Error("a client without a certificate was accepted")
	}
	other := tlstest.NewCA(t, "other")
	strangerCert, strangerKey := other.Issue(t, "stranger")
	stranger, err := ClientConfig(Files{Cert: strangerCert, Key: strangerKey, CA: ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, server, stranger); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}
	distrusting, err := ClientConfig(Files{Cert: clientCert, Key: clientKey, CA: other.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, server, distrusting); err == nil {
		t.Error("the client accepted a server certificate from a CA it does not trust")
	}

	// Rotation: new files at the same paths are used from the next handshake on.
	rotatedCert, rotatedKey := ca.Issue(t, "server-2")
	for from, to := range map[string]string{rotatedCert: serverCert, rotatedKey: serverKey} {
		raw, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if cn, err := handshake(t, server, withCert); err != nil || cn != "server-2" {
		t.Fatalf("after rotation: %q %v", cn, err)
	}
	// A broken file keeps the last good certificate.
	if err := os.WriteFile(serverKey, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cn, err := handshake(t, server, withCert); err != nil || cn != "server-2" {
		t.Fatalf("with a broken key file: %q %v", cn, err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := ServerConfig(Files{Cert: "c.pem"}); err == nil {
		t.Error("a server without a key")
	}
	if _, err := ClientConfig(Files{Key: "k.pem"}); err == nil {
		t.Error("a client key without a certificate")
	}
	if _, err := ServerConfig(Files{Cert: "/nonexistent/c.pem", Key: "/nonexistent/k.pem"}); err == nil {
		t.Error("missing files")
	}
}
