package cmq

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMessageLogAgainstModel drives a messageLog with random pushes and
// removes, in patterns that make the ring sparse (a few old messages kept
// while many pass) and dense (a backlog), and checks every method against
// a sorted slice after each step. It reaches the ring, its compaction into
// the map, and removals from both, and pushes past end(): the seqs that a
// replay skips, or that a reopened queue's deleted newest messages had.
func TestMessageLogAgainstModel(t *testing.T) {
	compacted := 0
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 42))
		var l messageLog
		l.reset(100)
		var held []*message // the model: held messages by seq
		next := uint64(100)
		gap := uint64(0) // seqs the next push skips
		for step := range 20_000 {
			switch r := rng.IntN(100); {
			case r < 50 || len(held) == 0: // push
				m := &message{seq: next + gap}
				next, gap = m.seq+1, 0
				l.push(m)
				held = append(held, m)
			case r < 52: // remove the oldest
				l.remove(held[0])
				held = held[1:]
			case r < 53 && seed%2 == 0: // purge
				l.reset(next)
				held = nil
			case r < 55: // a gap: the next push skips seqs, as after a reopen
				gap = uint64(1 + rng.IntN(5))
			default: // remove a recent one, mostly: old ones linger
				i := len(held) - 1 - rng.IntN(min(len(held), 8))
				if rng.IntN(10) == 0 {
					i = rng.IntN(len(held))
				}
				l.remove(held[i])
				l.remove(held[i]) // a second remove does nothing
				held = slices.Delete(held, i, i+1)
			}
			if l.old != nil {
				compacted++
			}
			if step%499 == 0 || step > 19_950 {
				checkLog(t, &l, held, next)
			}
		}
		checkLog(t, &l, held, next)
		require.LessOrEqual(t, len(l.slots), max(2048, 8*len(held)), "seed %d: ring of %d slots for %d messages", seed, len(l.slots), len(held))
	}
	require.Positive(t, compacted, "no step had messages in the map")
}

func checkLog(t *testing.T, l *messageLog, held []*message, next uint64) {
	t.Helper()
	require.Equal(t, next, l.end())
	if len(held) == 0 {
		require.Nil(t, l.first())
		require.Nil(t, l.last())
		require.Equal(t, next, l.base)
	} else {
		require.Same(t, held[0], l.first())
		require.Same(t, held[len(held)-1], l.last())
		require.Equal(t, held[0].seq, l.base)
	}
	i := 0
	for m := l.first(); m != nil; m = m.newer {
		require.Same(t, held[i], m, "forward walk at %d", i)
		i++
	}
	require.Equal(t, len(held), i)
	for m := l.last(); m != nil; m = m.older {
		i--
		require.Same(t, held[i], m, "backward walk at %d", i)
	}
	j := 0
	lo := uint64(0)
	if len(held) > 0 {
		lo = held[0].seq - 3
	}
	for s := lo; s < next+3; s++ {
		if j < len(held) && held[j].seq == s {
			require.Same(t, held[j], l.get(s), "get(%d)", s)
			j++
		} else {
			require.Nil(t, l.get(s), "get(%d) of a removed seq", s)
		}
	}
}
