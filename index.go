package cmq

import "github.com/google/btree"

// index orders a queue's messages that are not deleted by (next visible
// time, seq), the order in which receives take them. Every key may go in
// the B-tree. Most keys arrive in increasing order, though: a message sent
// without delay is visible at the send's instant, later than every such
// message before it, and a received message is invisible for the queue's
// visibility timeout from the receive's instant, later than every message
// received before it. So two runs, sorted deques of keys appended at their
// end, hold those (ready: sent without delay or moved in from a source
// queue; in flight: received), and the B-tree holds the rest (delayed
// sends, changed visibilities, rewound messages, and any key that would
// not append in order). The queue's order is the merge of the three.
//
// A run turns the B-tree's O(log n) insert and delete-min, with the
// memmove of a node's keys, into O(1) appends and pops; deleting from its
// middle is a binary search and a tombstone. When a run is mostly
// tombstones, its live keys move to the B-tree, so its memory follows the
// messages it holds. Each message records where its key is. The B-tree is
// made when a key first goes there: a queue that only ever sends without
// delay and receives with its own visibility timeout never needs one.
type index struct {
	tree *btree.BTreeG[treeKey] // nil until needed
	runs [2]run                 // inReady-1, inFlight-1
	log  *messageLog
}

// Where a message's key is: message.where.
const (
	inNone   uint8 = iota // deleted or removed: in no container
	inReady               // the ready run
	inFlight              // the in-flight run
	inTree                // the B-tree
)

func newIndex(log *messageLog) index {
	return index{log: log}
}

// treeFor returns the B-tree, made on first use.
func (x *index) treeFor() *btree.BTreeG[treeKey] {
	if x.tree == nil {
		x.tree = btree.NewG(32, lessKey)
	}
	return x.tree
}

// insert adds m's key, in the run to if it appends there in order, else in
// the tree (to may be inTree). m must be in no container; horizon is the
// queue's.
func (x *index) insert(m *message, to uint8, horizon int64) {
	k := m.key()
	if to != inTree && x.runs[to-1].push(k, horizon) {
		m.where = to
		return
	}
	x.treeFor().ReplaceOrInsert(k)
	m.where = inTree
}

// remove takes m's key out of its container. m.where is left for the
// caller.
func (x *index) remove(m *message) {
	switch m.where {
	case inTree:
		x.tree.Delete(m.key())
	case inReady, inFlight:
		r := &x.runs[m.where-1]
		if r.remove(m.key()) {
			x.spill(r)
		}
	}
}

// spill moves the live keys of r to the tree and empties r.
func (x *index) spill(r *run) {
	for i := range r.n {
		k := r.at(i)
		if k.seqBit&tombstone != 0 {
			continue
		}
		x.treeFor().ReplaceOrInsert(k)
		x.log.get(k.seq()).where = inTree
	}
	r.reset()
}

// min returns the smallest key and where it is; ok is false if x is
// empty.
func (x *index) min() (k treeKey, where uint8, ok bool) {
	if x.tree != nil {
		if k, ok = x.tree.Min(); ok {
			where = inTree
		}
	}
	for i := range x.runs {
		r := &x.runs[i]
		if r.n > 0 && (!ok || lessKey(r.at(0), k)) {
			k, where, ok = r.at(0), uint8(i+1), true
		}
	}
	return k, where, ok
}

// popMin removes the key min returned, which is in where.
func (x *index) popMin(where uint8) {
	if where == inTree {
		x.tree.DeleteMin()
		return
	}
	x.runs[where-1].pop()
}

// cross calls f for every key with horizon < visibleAt <= now, and returns
// the smallest visibleAt above now (maxTime if none). The caller then moves
// its horizon to now.
func (x *index) cross(horizon, now int64, f func(treeKey)) int64 {
	next := int64(maxTime)
	if x.tree != nil {
		x.tree.AscendGreaterOrEqual(treeKey{visibleAt: horizon + 1}, func(k treeKey) bool {
			if k.visibleAt > now {
				next = k.visibleAt
				return false
			}
			f(k)
			return true
		})
	}
	for i := range x.runs {
		next = min(next, x.runs[i].cross(horizon, now, f))
	}
	return next
}

// clear empties x.
func (x *index) clear() {
	x.tree = nil // a purged queue gives its tree's memory back
	for i := range x.runs {
		x.runs[i].reset()
	}
}

// tombstone marks a key in a run whose message was removed; the key stays
// so that the run stays sorted for binary search.
const tombstone = 2

// run is a sorted deque of keys: a ring whose length is a power of two.
// Its first and last keys are never tombstones.
type run struct {
	keys    []treeKey
	head    int // ring index of the first key
	n       int // keys from head, tombstones included
	live    int // keys that are not tombstones
	crossed int // keys before this offset have visibleAt <= the queue's horizon
}

// at returns the key at offset i from the first.
func (r *run) at(i int) treeKey { return r.keys[(r.head+i)&(len(r.keys)-1)] }

// push appends k if it is greater than the last key, and reports whether it
// did.
func (r *run) push(k treeKey, horizon int64) bool {
	if r.n > 0 && !lessKey(r.at(r.n-1), k) {
		return false
	}
	if r.n == len(r.keys) {
		keys := make([]treeKey, max(16, 2*len(r.keys)))
		for i := range r.n {
			keys[i] = r.at(i)
		}
		r.keys, r.head = keys, 0
	}
	r.keys[(r.head+r.n)&(len(r.keys)-1)] = k
	if r.crossed == r.n && k.visibleAt <= horizon {
		r.crossed++ // already visible: nothing to cross
	}
	r.n++
	r.live++
	return true
}

// pop removes the first key.
func (r *run) pop() {
	r.head = (r.head + 1) & (len(r.keys) - 1)
	r.n--
	r.live--
	r.crossed = max(r.crossed-1, 0)
	r.trim()
}

// remove tombstones k, which is in r, and reports whether r should spill:
// whether it is mostly tombstones.
func (r *run) remove(k treeKey) bool {
	lo, hi := 0, r.n-1 // binary search for k.seq at k.visibleAt
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if m := r.at(mid); m.visibleAt < k.visibleAt || m.visibleAt == k.visibleAt && m.seq() < k.seq() {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	r.keys[(r.head+lo)&(len(r.keys)-1)].seqBit |= tombstone
	r.live--
	r.trim()
	return r.n >= 64 && r.live*4 <= r.n
}

// trim drops tombstones at both ends, and lets a large empty ring go.
func (r *run) trim() {
	for r.n > 0 && r.at(0).seqBit&tombstone != 0 {
		r.head = (r.head + 1) & (len(r.keys) - 1)
		r.n--
		r.crossed = max(r.crossed-1, 0)
	}
	for r.n > 0 && r.at(r.n-1).seqBit&tombstone != 0 {
		r.n--
	}
	r.crossed = min(r.crossed, r.n)
	if r.n == 0 {
		r.head, r.crossed = 0, 0
		if len(r.keys) > 1024 {
			r.keys = nil
		}
	}
}

// cross is index.cross for r: it walks from the first key not yet at or
// below the horizon.
func (r *run) cross(horizon, now int64, f func(treeKey)) int64 {
	for ; r.crossed < r.n; r.crossed++ {
		k := r.at(r.crossed)
		if k.visibleAt > now {
			return k.visibleAt
		}
		if k.seqBit&tombstone == 0 && k.visibleAt > horizon {
			f(k)
		}
	}
	return maxTime
}

func (r *run) reset() { *r = run{} }
