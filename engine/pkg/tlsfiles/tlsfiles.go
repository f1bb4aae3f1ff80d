// Package tlsfiles builds TLS configurations from PEM files that are read again
// when they change, so a rotated certificate (cert-manager, a Kubernetes secret
// volume) is used from the next handshake on without a restart.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Files names the PEM files of one side of a connection. Cert and Key go together;
// CA is, on a server, the CA that client certificates must chain to (mTLS: clients
// without one are refused) and, on a client, the CA the server's certificate must
// chain to instead of the system roots.
type Files struct {
	Cert, Key, CA string
}

// Enabled reports whether any file is named.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// ServerConfig returns a server configuration; Cert and Key are required.
func ServerConfig(f Files) (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("a TLS server needs both a certificate and a key file")
	}
	pair := &keyPair{cert: f.Cert, key: f.Key}
	if _, err := pair.get(); err != nil {
		return nil, err
	}
	var ca *caPool
	if f.CA != "" {
		ca = &caPool{path: f.CA}
		if _, err := ca.get(); err != nil {
			return nil, err
		}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Per handshake, so that both the certificate and the client CA follow
		// their files.
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, err := pair.get()
			if err != nil {
				return nil, err
			}
			cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}}
			if ca != nil {
				pool, err := ca.get()
				if err != nil {
					return nil, err
				}
				cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
			}
			return cfg, nil
		},
	}, nil
}

// ClientConfig returns a client configuration; Cert and Key (a client
// certificate, for mTLS) are optional but go together.
func ClientConfig(f Files) (*tls.Config, error) {
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("a TLS client certificate needs both a certificate and a key file")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.Cert != "" {
		pair := &keyPair{cert: f.Cert, key: f.Key}
		if _, err := pair.get(); err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return pair.get() }
	}
	if f.CA != "" {
		ca := &caPool{path: f.CA}
		if _, err := ca.get(); err != nil {
			return nil, err
		}
		// crypto/tls reads RootCAs once; to follow the CA file the chain is verified
		// here against its current content, exactly as the default check would.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			pool, err := ca.get()
			if err != nil {
				return err
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				DNSName: cs.ServerName, Roots: pool, Intermediates: inter,
			})
			return err
		}
	}
	return cfg, nil
}

// stamp identifies a file's version cheaply: a rotation changes the modification
// time or the size (Kubernetes swaps a symlink, which os.Stat follows).
type stamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (stamp, error) {
	info, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{info.ModTime(), info.Size()}, nil
}

// keyPair is a certificate and key read again when either file changes. A pair
// that fails to load (a half-written rotation) keeps the last good one in use.
type keyPair struct {
	cert, key string

	mu     sync.Mutex
	stamps [2]stamp
	loaded *tls.Certificate
}

func (p *keyPair) get() (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs, errC := stampOf(p.cert)
	ks, errK := stampOf(p.key)
	if err := errors.Join(errC, errK); err != nil {
		if p.loaded != nil {
			return p.loaded, nil
		}
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	if p.loaded != nil && p.stamps == [2]stamp{cs, ks} {
		return p.loaded, nil
	}
	cert, err := tls.LoadX509KeyPair(p.cert, p.key)
	if err != nil {
		if p.loaded != nil {
			return p.loaded, nil
		}
		// LoadX509KeyPair's errors name the problem, never the key material.
		return nil, fmt.Errorf("TLS certificate %s, key %s: %w", p.cert, p.key, err)
	}
	p.loaded, p.stamps = &cert, [2]stamp{cs, ks}
	return p.loaded, nil
}

// caPool is a CA bundle read again when its file changes.
type caPool struct {
	path string

	mu     sync.Mutex
	stamp  stamp
	loaded *x509.CertPool
}

func (c *caPool) get() (*x509.CertPool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := stampOf(c.path)
	if err != nil {
		if c.loaded != nil {
			return c.loaded, nil
		}
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	if c.loaded != nil && c.stamp == st {
		return c.loaded, nil
	}
	pem, err := os.ReadFile(c.path)
	if err != nil {
		if c.loaded != nil {
			return c.loaded, nil
		}
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		if c.loaded != nil {
			return c.loaded, nil
		}
		return nil, fmt.Errorf("TLS CA %s: no PEM certificate in it", c.path)
	}
	c.loaded, c.stamp = pool, st
	return pool, nil
}
