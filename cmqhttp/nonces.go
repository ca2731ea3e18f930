package cmqhttp

import (
	"sync"
)

// nonceCache remembers the nonces of accepted signed requests, one table
// per SecretId, so that a replay is refused while its Timestamp would
// still pass the check: a nonce is kept until its request's Timestamp
// leaves the window (Timestamp + window), and a nonce may not come again,
// whatever its Timestamp, while it is kept.
//
// A table holds at most max nonces. When a table is full, it makes room by
// forgetting every nonce of one Timestamp second — the second farthest
// from now, other than the newcomer's — and from then on refuses that
// second until it leaves the window, so a forgotten request cannot be
// replayed. Honest clients sign with the current time: the seconds
// forgotten first are those an attacker dated far ahead (or old ones,
// about to expire), which honest clients reach only later and each for one
// second. So a full table refuses an honest request only when
//
//   - all of the table's nonces share the request's own second (the table
//     is then too small for one second of traffic; the next second
//     proceeds), or
//   - the request's second was forgotten earlier: at most the window
//     (300 s) after the attack that filled the table ends, and then only
//     if the attacker filled the table once for every second refused.
//
// Memory: per SecretId at most max entries of about 50 bytes (a map entry
// nonce -> Timestamp and the nonce in its second's list; measured 46 bytes
// by TestNonceCacheMemory) plus at most 2·window+1 seconds of lists and of
// forgotten seconds: 100,000 nonces (the default) take about 5 MB,
// 1,000,000 about 46 MB. Since old seconds can be forgotten at no cost to
// honest clients, the table need only hold one second of signed traffic.
// Nothing runs in the background: a table drops its expired seconds on its
// next add.
type nonceCache struct {
	mu     sync.Mutex
	max    int
	win    int64 // seconds
	tables map[string]*nonceTable
}

// nonceTable is the nonces of one SecretId.
type nonceTable struct {
	seen      map[uint64]int64   // nonce -> Timestamp
	seconds   map[int64][]uint64 // Timestamp -> its nonces
	forgotten map[int64]struct{} // seconds whose nonces were forgotten
	lo        int64              // seconds below lo have been expired
}

type nonceResult int

const (
	nonceOK        nonceResult = iota
	nonceReplayed              // the nonce is remembered
	nonceFull                  // the table is full of the request's own second
	nonceForgotten             // the request's second was forgotten to make room
)

func newNonceCache(max int, win int64) *nonceCache {
	return &nonceCache{max: max, win: win, tables: make(map[string]*nonceTable)}
}

// add records nonce for the SecretId id, for a request with Timestamp ts
// that passed the timestamp check at now (Unix seconds), unless it is a
// replay or must be refused to keep the table bounded.
func (c *nonceCache) add(id string, nonce uint64, ts, now int64) nonceResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tables[id]
	if t == nil {
		t = &nonceTable{seen: make(map[uint64]int64), seconds: make(map[int64][]uint64),
			forgotten: make(map[int64]struct{}), lo: now - c.win}
		c.tables[id] = t
	}
	t.expire(now - c.win)
	if _, ok := t.seen[nonce]; ok {
		return nonceReplayed
	}
	if _, ok := t.forgotten[ts]; ok {
		return nonceForgotten
	}
	if len(t.seen) >= c.max {
		// Forget the second farthest from now, other than ts; later on
		// ties.
		far, found := int64(0), false
		for s := range t.seconds {
			if s == ts {
				continue
			}
			if !found || dist(s, now) > dist(far, now) || dist(s, now) == dist(far, now) && s > far {
				far, found = s, true
			}
		}
		if !found {
			return nonceFull
		}
		for _, n := range t.seconds[far] {
			delete(t.seen, n)
		}
		delete(t.seconds, far)
		t.forgotten[far] = struct{}{}
	}
	t.seen[nonce] = ts
	t.seconds[ts] = append(t.seconds[ts], nonce)
	return nonceOK
}

func dist(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// expire drops the seconds below lo: their requests fail the timestamp
// check now.
func (t *nonceTable) expire(lo int64) {
	if lo <= t.lo {
		return
	}
	drop := func(s int64) {
		for _, n := range t.seconds[s] {
			delete(t.seen, n)
		}
		delete(t.seconds, s)
		delete(t.forgotten, s)
	}
	if lo-t.lo > int64(len(t.seconds)+len(t.forgotten)) {
		for s := range t.seconds {
			if s < lo {
				drop(s)
			}
		}
		for s := range t.forgotten {
			if s < lo {
				drop(s)
			}
		}
	} else {
		for s := t.lo; s < lo; s++ {
			drop(s)
		}
	}
	t.lo = lo
}

// len returns the number of remembered nonces.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.tables {
		n += len(t.seen)
	}
	return n
}
