package xds

import (
	"context"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

// nackHold is the server's callbacks: it reports NACKs and stops the snapshot cache
// from resending a version a subscriber just rejected. A NACK carries the last
// version the subscriber accepted, so the cache would see an out-of-date client and
// answer at once with the same rejected snapshot, in a loop. Rewriting the NACK's
// version to the one that was sent on that stream makes the cache wait for the next
// change of the config file instead.
type nackHold struct {
	serverv3.CallbackFuncs
	hooks ServerHooks

	mu   sync.Mutex
	sent map[int64]string // stream ID -> version last sent on it
}

func newNackHold(h ServerHooks) *nackHold {
	n := &nackHold{hooks: h, sent: map[int64]string{}}
	n.StreamRequestFunc = n.onRequest
	n.StreamResponseFunc = n.onResponse
	n.StreamClosedFunc = n.onClosed
	return n
}

func (n *nackHold) onRequest(id int64, req *discoveryv3.DiscoveryRequest) error {
	if req.GetErrorDetail() == nil || req.GetTypeUrl() != TypeURL {
		return nil
	}
	n.mu.Lock()
	rejected, ok := n.sent[id]
	n.mu.Unlock()
	if n.hooks.OnNACK != nil {
		n.hooks.OnNACK(req.GetNode().GetId(), rejected, req.GetErrorDetail().GetMessage())
	}
	if ok {
		req.VersionInfo = rejected
	}
	return nil
}

func (n *nackHold) onResponse(_ context.Context, id int64, _ *discoveryv3.DiscoveryRequest, resp *discoveryv3.DiscoveryResponse) {
	if resp.GetTypeUrl() != TypeURL {
		return
	}
	n.mu.Lock()
	n.sent[id] = resp.GetVersionInfo()
	n.mu.Unlock()
}

func (n *nackHold) onClosed(id int64, _ *corev3.Node) {
	n.mu.Lock()
	delete(n.sent, id)
	n.mu.Unlock()
}
