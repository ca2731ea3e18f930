package cmq

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIndexAgainstModel drives an index with random inserts (mostly in key
// order, as sends and receives make them, sometimes not), removals from
// anywhere, pops of the minimum and crossings of a moving horizon, and
// checks it after each step against a sorted slice of keys: the minimum,
// where each message is, which keys cross, and that every run stays sorted
// with live keys at both ends. It reaches appends that fall back to the
// tree, tombstones, spills of a mostly dead run into the tree, and a run's
// ring shrinking once empty.
func TestIndexAgainstModel(t *testing.T) {
	spills, fallbacks, maxN := 0, 0, 0
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var log messageLog
		log.reset(0)
		x := newIndex(&log)
		var model []treeKey // sorted
		held := map[uint64]*message{}
		var now, horizon int64 = 1000, 1000
		var seq uint64
		crossed := map[uint64]bool{} // seqs the model expects to cross
		newMsg := func(visibleAt int64, received bool) *message {
			m := &message{seq: seq, visibleAt: visibleAt}
			if received {
				m.dequeues = 1
			}
			seq++
			log.push(m)
			held[m.seq] = m
			return m
		}
		add := func(m *message, to uint8) {
			x.insert(m, to, horizon)
			if to != inTree && m.where == inTree {
				fallbacks++
			}
			k := m.key()
			i, _ := slices.BinarySearchFunc(model, k, func(a, b treeKey) int {
				switch {
				case lessKey(a, b):
					return -1
				case lessKey(b, a):
					return 1
				}
				return 0
			})
			model = slices.Insert(model, i, k)
		}
		del := func(m *message) {
			x.remove(m)
			m.where = inNone
			i := slices.Index(model, m.key())
			require.GreaterOrEqual(t, i, 0)
			model = slices.Delete(model, i, i+1)
			log.remove(m)
			delete(held, m.seq)
		}
		const vt = 50
		for step := range 30_000 {
			before := x.treeLen()
			switch r := rng.IntN(100); {
			case r < 38: // a send without delay
				add(newMsg(now, false), inReady)
			case r < 42: // a delayed send
				add(newMsg(now+int64(rng.IntN(200)), false), inTree)
			case r < 65 && len(model) > 0: // a receive of the minimum, if visible
				k, where, ok := x.min()
				require.True(t, ok)
				require.Equal(t, model[0], k, "step %d: min", step)
				m := held[k.seq()]
				require.Equal(t, where, m.where)
				if k.visibleAt > now {
					break
				}
				x.popMin(where)
				m.where = inNone
				model = model[1:]
				m.visibleAt = now + vt
				if rng.IntN(20) == 0 {
					m.visibleAt = now + int64(rng.IntN(vt)) // a changed timeout: out of order
				}
				m.dequeues++
				add(m, inFlight)
			case r < 76 && len(model) > 0: // a delete, mostly of a recent key
				i := len(model) - 1 - rng.IntN(min(len(model), 10))
				if rng.IntN(4) == 0 {
					i = rng.IntN(len(model))
				}
				del(held[model[i].seq()])
			case r < 95: // time passes; keys cross the horizon
				now += int64(rng.IntN(20))
				for _, k := range model {
					if k.visibleAt > horizon && k.visibleAt <= now {
						crossed[k.seq()] = true
					}
				}
				next := x.cross(horizon, now, func(k treeKey) {
					require.True(t, crossed[k.seq()], "step %d: key %v crossed twice or wrongly", step, k)
					delete(crossed, k.seq())
				})
				require.Empty(t, crossed, "step %d: keys that did not cross", step)
				want := int64(maxTime)
				for _, k := range model {
					if k.visibleAt > now {
						want = min(want, k.visibleAt)
					}
				}
				require.LessOrEqual(t, next, want, "step %d: next visible time", step)
				require.Greater(t, next, now)
				horizon = now
			case r < 96 && rng.IntN(5) == 0: // many deletes at once: consumers finish a burst of work
				for _, k := range slices.Clone(model) {
					if rng.IntN(10) < 9 {
						del(held[k.seq()])
					}
				}
			case r < 98 && rng.IntN(100) == 0: // purge
				x.clear()
				for _, m := range held {
					m.where = inNone
					log.remove(m)
				}
				clear(held)
				model = nil
			}
			if x.treeLen() > before+1 {
				spills++
			}
			maxN = max(maxN, x.runs[0].n, x.runs[1].n)
			checkIndex(t, &x, model, held, step)
		}
	}
	t.Logf("spills %d, fallbacks %d, largest run %d", spills, fallbacks, maxN)
	require.Positive(t, spills, "no run spilled into the tree")
	require.Positive(t, fallbacks, "no append fell back to the tree")
}

func checkIndex(t *testing.T, x *index, model []treeKey, held map[uint64]*message, step int) {
	t.Helper()
	k, _, ok := x.min()
	require.Equal(t, len(model) > 0, ok, "step %d", step)
	if ok {
		require.Equal(t, model[0], k, "step %d: min", step)
	}
	var got []treeKey
	if x.tree != nil {
		x.tree.Ascend(func(k treeKey) bool {
			require.Equal(t, inTree, held[k.seq()].where, "step %d: tree key of a message elsewhere", step)
			got = append(got, k)
			return true
		})
	}
	for i := range x.runs {
		r := &x.runs[i]
		live := 0
		for j := range r.n {
			k := r.at(j)
			if j > 0 {
				require.True(t, lessKey(r.at(j-1), k), "step %d: run %d unsorted", step, i)
			}
			if k.seqBit&tombstone != 0 {
				require.NotZero(t, j, "step %d: tombstone first", step)
				require.NotEqual(t, r.n-1, j, "step %d: tombstone last", step)
				continue
			}
			live++
			require.Equal(t, uint8(i+1), held[k.seq()].where, "step %d: run key of a message elsewhere", step)
			got = append(got, k)
		}
		require.Equal(t, live, r.live, "step %d: run %d live count", step, i)
		require.LessOrEqual(t, r.crossed, r.n)
		if r.n == 0 {
			require.LessOrEqual(t, len(r.keys), 1024, "step %d: empty run keeps a large ring", step)
		}
	}
	slices.SortFunc(got, func(a, b treeKey) int {
		if lessKey(a, b) {
			return -1
		}
		return 1
	})
	if len(model) > 0 || len(got) > 0 {
		require.Equal(t, model, got, "step %d: keys", step)
	}
	require.Len(t, held, len(model))
}

// treeLen is the number of keys in x's B-tree, 0 before it is made.
func (x *index) treeLen() int {
	if x.tree == nil {
		return 0
	}
	return x.tree.Len()
}
