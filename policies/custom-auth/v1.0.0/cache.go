package customauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCache remembers recently verified bcrypt credentials so that a client sending
// the same basic-auth header on every request pays bcrypt's deliberate cost once per TTL,
// not once per request.
//
// Entries are keyed by HMAC-SHA256 under a random per-instance secret, so the cache never
// holds passwords or unsalted password digests. Only successes are cached: a wrong
// password always goes through bcrypt. The cache is bounded; when full, expired entries
// are dropped, and if none are, the whole cache is, which only costs re-verification.
type verifiedCache struct {
	secret [32]byte
	ttl    time.Duration
	max    int
	now    func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]time.Time // key → expiry
}

func newVerifiedCache(ttl time.Duration, max int) *verifiedCache {
	c := &verifiedCache{ttl: ttl, max: max, now: time.Now, entries: make(map[[sha256.Size]byte]time.Time)}
	// crypto/rand.Read never returns an error (Go 1.24+); it aborts the program instead.
	_, _ = rand.Read(c.secret[:])
	return c
}

// key binds username and password; usernames cannot contain NUL (control characters are
// rejected at configuration time), so the encoding is unambiguous.
func (c *verifiedCache) key(username, password string) [sha256.Size]byte {
	mac := hmac.New(sha256.New, c.secret[:])
	mac.Write([]byte(username))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var k [sha256.Size]byte
	copy(k[:], mac.Sum(nil))
	return k
}

func (c *verifiedCache) contains(k [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	expiry, ok := c.entries[k]
	if !ok {
		return false
	}
	if !c.now().Before(expiry) {
		delete(c.entries, k)
		return false
	}
	return true
}

func (c *verifiedCache) add(k [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= c.max {
		for key, expiry := range c.entries {
			if !now.Before(expiry) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[k] = now.Add(c.ttl)
}

func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
