package cmq_test

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- The broker's memory budget: Limits.MemoryBytes. ---

// msgBytes is what a message of n bytes counts against the budget: its
// body and 128 bytes of overhead.
func msgBytes(n int) int64 { return int64(n) + 128 }

// budgetBroker returns a broker whose budget holds exactly n messages of
// 100 bytes, without a QPS limit.
func budgetBroker(t *testing.T, n int) *cmq.Broker {
	return newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
		l.MemoryBytes = int64(n) * msgBytes(100)
		l.QPS = 0
	})))
}

var body100 = strings.Repeat("x", 100)

func TestMemoryBudgetRefusesSends(t *testing.T) {
	tests := []struct {
		name string
		// try attempts what must be refused once the budget of three
		// messages of 100 bytes is spent.
		try func(t *testing.T, q, other *cmq.Queue) error
	}{
		{"send", func(t *testing.T, q, other *cmq.Queue) error {
			_, err := q.Send(t.Context(), body100, 0)
			return err
		}},
		{"one byte over", func(t *testing.T, q, other *cmq.Queue) error {
			_, err := q.Send(t.Context(), "x", 0)
			return err
		}},
		{"send to another queue", func(t *testing.T, q, other *cmq.Queue) error {
			_, err := other.Send(t.Context(), "x", time.Minute)
			return err
		}},
		{"batch send, all or nothing", func(t *testing.T, q, other *cmq.Queue) error {
			ids, err := other.BatchSend(t.Context(), []string{"a", "b"}, 0)
			assert.Nil(t, ids)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := budgetBroker(t, 3)
			q := newQueue(t, b, "q", cmq.QueueAttributes{})
			other := newQueue(t, b, "other", cmq.QueueAttributes{})
			_, err := q.BatchSend(t.Context(), []string{body100, body100}, 0)
			require.NoError(t, err)
			_, err = other.Send(t.Context(), body100, 0)
			require.NoError(t, err)

			err = tt.try(t, q, other)
			require.ErrorIs(t, err, cmq.ErrMemoryFull)
			assertCode(t, err, 4410, 10053)
			assert.NotErrorIs(t, err, cmq.ErrHeapFull, "the module tells them apart")
			assert.Equal(t, counts{Active: 2}, countsOf(t, q), "nothing sent")
			assert.Equal(t, counts{Active: 1}, countsOf(t, other), "nothing sent")

			// A delete frees its bytes at once.
			m, err := q.Receive(t.Context(), 0)
			require.NoError(t, err)
			require.NoError(t, q.Delete(t.Context(), m.ReceiptHandle))
			_, err = other.Send(t.Context(), body100, 0)
			require.NoError(t, err, "room for one again")
			_, err = other.Send(t.Context(), "x", 0)
			require.ErrorIs(t, err, cmq.ErrMemoryFull)

			// So does a purge, and a deleted queue.
			require.NoError(t, other.Purge(t.Context()))
			_, err = q.BatchSend(t.Context(), []string{body100, body100}, 0)
			require.NoError(t, err)
			require.NoError(t, b.DeleteQueue(t.Context(), "q"))
			_, err = other.BatchSend(t.Context(), []string{body100, body100, body100}, 0)
			require.NoError(t, err)
		})
	}
}

// The budget applies whatever MaxMsgHeapNum allows, and MaxMsgHeapNum
// whatever the budget allows; ErrHeapFull is reported first.
func TestMemoryBudgetAndHeapNum(t *testing.T) {
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
		l.MemoryBytes = 10 * msgBytes(100)
		l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1000, Default: 1000}
	})))
	small := newQueue(t, b, "small", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(2)})
	big := newQueue(t, b, "big", cmq.QueueAttributes{})
	_, err := small.BatchSend(t.Context(), []string{body100, body100}, 0)
	require.NoError(t, err)
	_, err = small.Send(t.Context(), body100, 0)
	assert.ErrorIs(t, err, cmq.ErrHeapFull)
	_, err = big.BatchSend(t.Context(), slicesRepeat(body100, 8), 0)
	require.NoError(t, err)
	_, err = big.Send(t.Context(), "x", 0)
	assert.ErrorIs(t, err, cmq.ErrMemoryFull, "1000 allowed, the budget is spent")
	_, err = small.Send(t.Context(), "x", 0)
	assert.ErrorIs(t, err, cmq.ErrHeapFull)
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// A refused send spends no QPS token, and a throttled send no budget.
func TestMemoryBudgetAndThrottling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
			l.MemoryBytes = 2 * msgBytes(100)
			l.QPS = 2
			l.BatchSize = 2
		})))
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), body100, 0)
		require.NoError(t, err)
		_, err = q.BatchSend(t.Context(), []string{body100, body100}, 0)
		require.ErrorIs(t, err, cmq.ErrMemoryFull)
		_, err = q.Send(t.Context(), "y", 0) // the second token is still there
		require.NoError(t, err)
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.NoError(t, q.Delete(t.Context(), m.ReceiptHandle))
		_, err = q.Send(t.Context(), body100, 0)
		require.ErrorIs(t, err, cmq.ErrThrottled, "tokens spent, budget free")
		time.Sleep(time.Second)
		_, err = q.Send(t.Context(), body100, 0)
		require.NoError(t, err, "the throttled send reserved nothing")
	})
}

// A dead-letter move frees what it adds: the budget never refuses or drops
// one, even when full.
func TestMemoryBudgetDeadLetterMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := budgetBroker(t, 2)
		src, dlq := dlPair(t, b, cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: 300 * time.Second},
			cmq.QueueAttributes{})
		_, err := src.BatchSend(t.Context(), []string{body100, body100}, 0)
		require.NoError(t, err)
		_, err = dlq.Send(t.Context(), "x", 0)
		require.ErrorIs(t, err, cmq.ErrMemoryFull)
		time.Sleep(300 * time.Second)
		assert.Equal(t, counts{}, countsOf(t, src))
		assert.Equal(t, counts{Active: 2}, countsOf(t, dlq), "both moved")
		_, err = src.Send(t.Context(), "x", 0)
		require.ErrorIs(t, err, cmq.ErrMemoryFull, "still full")
	})
}

// Sends racing on many queues never take the total past the budget, and
// fill it exactly.
func TestMemoryBudgetConcurrentSends(t *testing.T) {
	const budget = 1000
	b := budgetBroker(t, budget)
	var qs []*cmq.Queue
	for i := range 8 {
		qs = append(qs, newQueue(t, b, "q"+string(rune('a'+i)), cmq.QueueAttributes{}))
	}
	var wg sync.WaitGroup
	for _, q := range qs {
		for range 4 {
			wg.Go(func() {
				for {
					if _, err := q.Send(t.Context(), body100, 0); err != nil {
						assert.ErrorIs(t, err, cmq.ErrMemoryFull)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	total := 0
	for _, q := range qs {
		total += countsOf(t, q).Active
	}
	assert.Equal(t, budget, total)
}

func TestMemoryBudgetValidate(t *testing.T) {
	l := limitsWith(func(l *cmq.Limits) { l.MemoryBytes = -1 })
	assert.EqualError(t, l.Validate(), "cmq: invalid Limits.MemoryBytes (code 4000, module 10110)")
	assert.Zero(t, cmq.DefaultLimits().MemoryBytes, "no budget by default")
}
