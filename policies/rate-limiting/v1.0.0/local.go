package ratelimit

import (
	"container/list"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// localShards spreads keys over independently locked shards so concurrent requests for
// different keys rarely contend.
const localShards = 16

// localBackend keeps one token bucket per key in this process's memory. Memory is
// bounded: each shard is an LRU of at most maxKeys/localShards buckets; the least
// recently used bucket is evicted when a new key arrives at a full shard. Evicting a
// bucket that has refilled completely loses nothing (a fresh bucket is full too); evicting
// a partly drained one hands that key a fresh burst, which is the price of the bound.
type localBackend struct {
	rate  float64
	burst float64
	now   func() time.Time
	seed  maphash.Seed

	shards [localShards]localShard
}

type localShard struct {
	mu      sync.Mutex
	max     int
	buckets map[string]*list.Element // value: *localBucket
	lru     list.List                // front: most recently used
}

type localBucket struct {
	key    string
	tokens float64
	last   time.Time
}

func newLocalBackend(rate float64, burst int64, maxKeys int, now func() time.Time) *localBackend {
	b := &localBackend{rate: rate, burst: float64(burst), now: now, seed: maphash.MakeSeed()}
	perShard := max(1, (maxKeys+localShards-1)/localShards)
	for i := range b.shards {
		b.shards[i].max = perShard
		b.shards[i].buckets = make(map[string]*list.Element)
	}
	return b
}

func (b *localBackend) take(key string) decision {
	s := &b.shards[maphash.String(b.seed, key)%localShards]
	now := b.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	var bucket *localBucket
	if el, ok := s.buckets[key]; ok {
		s.lru.MoveToFront(el)
		bucket = el.Value.(*localBucket)
		elapsed := now.Sub(bucket.last).Seconds()
		if elapsed > 0 {
			bucket.tokens = math.Min(b.burst, bucket.tokens+elapsed*b.rate)
		}
		bucket.last = now
	} else {
		if s.lru.Len() >= s.max {
			oldest := s.lru.Back()
			s.lru.Remove(oldest)
			delete(s.buckets, oldest.Value.(*localBucket).key)
		}
		bucket = &localBucket{key: key, tokens: b.burst, last: now}
		s.buckets[key] = s.lru.PushFront(bucket)
	}
	allowed := bucket.tokens >= 1
	if allowed {
		bucket.tokens--
	}
	return newDecision(allowed, bucket.tokens, b.rate, int64(b.burst))
}

// size reports how many buckets are held, for tests of the memory bound.
func (b *localBackend) size() int {
	n := 0
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}
