package cmqhttp

import (
	"container/heap"
	"sync"
)

// nonceCache remembers the nonces of accepted requests until their
// replay could no longer pass the timestamp check. It is bounded: expired
// entries are dropped on every add (amortised O(log n), no goroutine), and
// it never holds more than max entries.
type nonceCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]int64 // key -> expiry, Unix seconds
	exp  expiryHeap
}

type nonceResult int

const (
	nonceOK nonceResult = iota
	nonceReplayed
	nonceFull
)

func newNonceCache(max int) *nonceCache {
	return &nonceCache{max: max, seen: make(map[string]int64)}
}

// add records key until the instant until unless it is already recorded
// (a replay) or the cache is full. now and until are Unix seconds.
func (c *nonceCache) add(key string, now, until int64) nonceResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.exp) > 0 && c.exp[0].at <= now {
		e := heap.Pop(&c.exp).(expiry)
		if c.seen[e.key] == e.at {
			delete(c.seen, e.key)
		}
	}
	if at, ok := c.seen[key]; ok && at > now {
		return nonceReplayed
	}
	if len(c.seen) >= c.max {
		return nonceFull
	}
	if n := len(c.exp); n == 0 && cap(c.exp) > 1024 {
		c.exp = nil // give back the memory of a past burst
	}
	c.seen[key] = until
	heap.Push(&c.exp, expiry{key: key, at: until})
	return nonceOK
}

// len returns the number of remembered nonces.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type expiry struct {
	key string
	at  int64
}

// expiryHeap is a min-heap of expiries, for container/heap.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
