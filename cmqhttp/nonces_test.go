package cmqhttp

import (
	"runtime"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNonceCache(t *testing.T) {
	type step struct {
		id        string
		nonce     uint64
		ts, now   int64
		want      nonceResult
		wantLen   int
		rationale string
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"replays", 10, []step{
			{"a", 1, 100, 100, nonceOK, 1, ""},
			{"a", 1, 100, 100, nonceReplayed, 1, "the same request"},
			{"a", 1, 150, 150, nonceReplayed, 1, "the same nonce, a new timestamp"},
			{"b", 1, 100, 100, nonceOK, 2, "nonces are per SecretId"},
			{"a", 1, 401, 401, nonceOK, 2, "kept until Timestamp + window (b's table expires on its own adds)"},
		}},
		{"future-dated nonces live until their Timestamp leaves the window", 10, []step{
			{"a", 1, 399, 100, nonceOK, 1, ""},
			{"a", 1, 420, 690, nonceReplayed, 1, ""},
			{"a", 1, 700, 700, nonceOK, 1, "399+300 passed"},
		}},
		{"full of the request's own second", 2, []step{
			{"a", 1, 100, 100, nonceOK, 1, ""},
			{"a", 2, 100, 100, nonceOK, 2, ""},
			{"a", 3, 100, 100, nonceFull, 2, "nothing else to forget"},
			{"a", 3, 101, 101, nonceOK, 1, "second 100 forgotten"},
			{"a", 4, 100, 101, nonceForgotten, 1, "a forgotten second is refused"},
			{"a", 1, 100, 101, nonceForgotten, 1, "so its replays cannot pass"},
			{"a", 5, 101, 101, nonceOK, 2, ""},
			{"b", 6, 100, 101, nonceOK, 3, "other SecretIds are not affected"},
			{"a", 4, 100, 401, nonceOK, 2, "... until the second leaves the window"},
		}},
		{"future-dated flood: honest requests proceed", 3, []step{
			{"a", 1, 399, 100, nonceOK, 1, "the attacker dates ahead"},
			{"a", 2, 399, 100, nonceOK, 2, ""},
			{"a", 3, 399, 100, nonceOK, 3, ""},
			{"a", 4, 100, 100, nonceOK, 1, "399 forgotten: the farthest second"},
			{"a", 5, 399, 100, nonceForgotten, 1, ""},
			{"a", 6, 398, 100, nonceOK, 2, ""},
			{"a", 7, 398, 100, nonceOK, 3, ""},
			{"a", 8, 101, 101, nonceOK, 2, "398 forgotten, not 100"},
			{"a", 9, 101, 101, nonceOK, 3, ""},
			{"a", 10, 102, 102, nonceOK, 3, "100 forgotten: older than 101"},
			{"a", 4, 100, 102, nonceForgotten, 3, "no replay of a forgotten request"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newNonceCache(tt.max, 300)
			for i, s := range tt.steps {
				assert.Equal(t, s.want, c.add(s.id, s.nonce, s.ts, s.now), "step %d: %s", i, s.rationale)
				assert.Equal(t, s.wantLen, c.len(), "step %d: len", i)
			}
		})
	}
}

// The memory of a full table, for the bound stated in the doc.
func TestNonceCacheMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a million nonces")
	}
	const n = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newNonceCache(n, 300)
	for i := range n {
		c.add("AKIDx", uint64(i)*7919, 1000+int64(i%601)-300, 1000)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d nonces: %.1f MB, %.1f bytes each", c.len(), float64(after.HeapAlloc-before.HeapAlloc)/1e6, perEntry)
	assert.Equal(t, n, c.len())
	assert.Less(t, perEntry, 64.0, "the doc states about 50 bytes a nonce")
	runtime.KeepAlive(c)
}

// The lockout of the hostile-load review: a client with credentials fills
// a 50-nonce table with requests dated 299 s ahead. Before, honest clients
// then got 4480 for 600 s; now they are served at once: the attacker's
// second is forgotten to make room, and the attacker's next request, of
// that second, is refused; later seconds are new, and the table, bounded,
// takes them in turn.
func TestNonceFloodDoesNotLockOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{Credentials: map[string]string{"AKIDtest": "k"}, MaxNonces: 50})
		attacker, honest := e.c.signed("AKIDtest", "k"), e.c.signed("AKIDtest", "k")
		honest.nonce.Store(1 << 40)
		ahead := func() map[string]string {
			vals := attacker.params("ListQueue")
			vals["Timestamp"] = strconv.FormatInt(time.Now().Unix()+299, 10)
			attacker.sign(vals)
			return vals
		}
		for range 50 {
			_, r := attacker.send(t, t.Context(), ahead())
			requireOK(t, r)
		}
		assert.Equal(t, 50, e.h.nonces.len())
		for i := range 100 {
			requireOK(t, honest.call(t, t.Context(), "ListQueue"))
			_, r := attacker.send(t, t.Context(), ahead())
			if i == 0 {
				assertIs(t, r, errSlowDown) // the forgotten second
			} else {
				requireOK(t, r)
			}
			time.Sleep(time.Second)
		}
		assert.LessOrEqual(t, e.h.nonces.len(), 50)
	})
}
