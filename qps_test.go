package cmq_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- QPS: per-queue token buckets for send, receive and delete. ---

// qpsBroker returns a broker whose queues admit qps messages per second for
// each of send, receive and delete.
func qpsBroker(t *testing.T, qps int) *cmq.Broker {
	return newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.QPS = qps })))
}

func bodiesN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint("m", i)
	}
	return out
}

func TestQPSSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := qpsBroker(t, 20)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		// A batch of n costs n: 16 + 4 = 20 fills the bucket.
		_, err := q.BatchSend(t.Context(), bodiesN(16), 0)
		require.NoError(t, err)
		ids, err := q.BatchSend(t.Context(), bodiesN(5), 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled, "16 + 5 > 20")
		assertCode(t, err, 4420, 10250)
		assert.Nil(t, ids)
		assert.Equal(t, counts{Active: 16}, countsOf(t, q), "a throttled batch enqueues nothing")
		_, err = q.BatchSend(t.Context(), bodiesN(4), 0)
		require.NoError(t, err, "the refused batch took no tokens")
		id, err := q.Send(t.Context(), "x", 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		assert.Empty(t, id)
		_, err = q.Send(t.Context(), "x", time.Second)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		assert.Equal(t, counts{Active: 20}, countsOf(t, q))

		// Refill at 20 per second: nothing after 49 ms, two after 100 ms.
		time.Sleep(49 * time.Millisecond)
		_, err = q.Send(t.Context(), "x", 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		time.Sleep(51 * time.Millisecond)
		for range 2 {
			_, err = q.Send(t.Context(), "x", 0)
			require.NoError(t, err)
		}
		_, err = q.Send(t.Context(), "x", 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)

		// The bucket holds at most 20, however long it rests.
		time.Sleep(time.Hour)
		_, err = q.BatchSend(t.Context(), bodiesN(16), 0)
		require.NoError(t, err)
		_, err = q.BatchSend(t.Context(), bodiesN(4), 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "x", 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		assert.Equal(t, counts{Active: 42}, countsOf(t, q))
	})
}

func TestQPSBucketsAreSeparate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := qpsBroker(t, 20)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		other := newQueue(t, b, "other", cmq.QueueAttributes{})
		_, err := q.BatchSend(t.Context(), bodiesN(16), 0)
		require.NoError(t, err)
		_, err = q.BatchSend(t.Context(), bodiesN(4), 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "x", 0)
		require.ErrorIs(t, err, cmq.ErrThrottled)

		// Another queue has its own buckets.
		_, err = other.BatchSend(t.Context(), bodiesN(16), 0)
		require.NoError(t, err)
		// Receive and delete have their own buckets.
		ms, err := q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 16)
		handles := make([]string, len(ms))
		for i, m := range ms {
			handles[i] = m.ReceiptHandle
		}
		results, err := q.BatchDelete(t.Context(), handles)
		require.NoError(t, err)
		assert.Len(t, results, 16)
		assert.Equal(t, counts{Active: 4}, countsOf(t, q))
	})
}

func TestQPSReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := qpsBroker(t, 20)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.BatchSend(t.Context(), bodiesN(3), 0)
		require.NoError(t, err)

		// A batch receive costs what it asks for, not what it gets: 16 for 3.
		ms, err := q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 3)
		// 4 tokens left.
		_, err = q.BatchReceive(t.Context(), 5, 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		// A receive on an empty queue costs a token too.
		for range 4 {
			_, err = q.Receive(t.Context(), 0)
			assert.ErrorIs(t, err, cmq.ErrNoMessage)
		}
		_, err = q.BatchSend(t.Context(), bodiesN(2), 0)
		require.NoError(t, err)
		// Throttled at once, even with a wait, and nothing is consumed.
		start := time.Now()
		m, err := q.Receive(t.Context(), 20*time.Second)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		assert.Empty(t, m.ID)
		_, err = q.BatchReceive(t.Context(), 1, cmq.QueueWait)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		assertTime(t, start, time.Now(), "a refusal never waits")
		assert.Equal(t, counts{Active: 2, Inactive: 3}, countsOf(t, q))

		// 50 ms later one token is back.
		time.Sleep(50 * time.Millisecond)
		m, err = q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assert.Equal(t, "m0", m.Body)
		_, err = q.Receive(t.Context(), 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		assert.Equal(t, counts{Active: 1, Inactive: 4}, countsOf(t, q))
	})
}

func TestQPSDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := qpsBroker(t, 20)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.BatchSend(t.Context(), bodiesN(16), 0)
		require.NoError(t, err)
		ms, err := q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 16)
		handles := make([]string, len(ms))
		for i, m := range ms {
			handles[i] = m.ReceiptHandle
		}

		// A refused call costs nothing: bad handles alone, or a batch of
		// nothing but them.
		for range 25 {
			assert.ErrorIs(t, q.Delete(t.Context(), "bad"), cmq.ErrInvalidReceiptHandle)
		}
		_, err = q.BatchDelete(t.Context(), []string{"bad", "worse"})
		assert.ErrorIs(t, err, cmq.ErrBatchDeleteFailed)
		// A batch that deletes something costs a token per handle: 16 of
		// the 20, then the last 4 one by one.
		results, err := q.BatchDelete(t.Context(), append(slices.Clone(handles[:12]), "bad", "bad", "bad", "bad"))
		assert.ErrorIs(t, err, cmq.ErrBatchDeletePartial)
		assert.Len(t, results, 16)
		for _, h := range handles[12:] {
			require.NoError(t, q.Delete(t.Context(), h))
		}
		assert.Equal(t, counts{}, countsOf(t, q))

		// Refill, then a throttled batch delete deletes nothing.
		_, err = q.BatchSend(t.Context(), bodiesN(4), 0)
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond) // 2 delete tokens
		ms, err = q.BatchReceive(t.Context(), 4, 0)
		require.NoError(t, err)
		require.Len(t, ms, 4)
		handles = handles[:0]
		for _, m := range ms {
			handles = append(handles, m.ReceiptHandle)
		}
		results, err = q.BatchDelete(t.Context(), handles)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		assert.Nil(t, results)
		assert.Equal(t, counts{Inactive: 4}, countsOf(t, q))
		require.NoError(t, q.Delete(t.Context(), handles[0]))
		require.NoError(t, q.Delete(t.Context(), handles[1]))
		assert.ErrorIs(t, q.Delete(t.Context(), handles[2]), cmq.ErrThrottled)
		assert.Equal(t, counts{Inactive: 2}, countsOf(t, q))
		// The handles still work once tokens are back.
		time.Sleep(100 * time.Millisecond)
		results, err = q.BatchDelete(t.Context(), handles[2:])
		require.NoError(t, err)
		assert.Len(t, results, 2)
		assert.Equal(t, counts{}, countsOf(t, q))
	})
}

func TestQPSDefaultLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		bodies := bodiesN(16)
		for range 5000 / 16 {
			_, err := q.BatchSend(t.Context(), bodies, 0)
			require.NoError(t, err)
		}
		_, err := q.BatchSend(t.Context(), bodies[:5000%16], 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "x", 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled, "5001st message in the same instant")
		assert.Equal(t, counts{Active: 5000}, countsOf(t, q))
		time.Sleep(time.Millisecond) // 5 tokens
		_, err = q.BatchSend(t.Context(), bodies[:5], 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "x", 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
	})
}

func TestQPSZeroIsUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := qpsBroker(t, 0)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		start := time.Now()
		const n = 6000 // more than CMQ's 5000 in one instant
		bodies := bodiesN(16)
		var handles []string
		for i := 0; i < n; i += 16 {
			_, err := q.BatchSend(t.Context(), bodies[:min(16, n-i)], 0)
			require.NoError(t, err)
		}
		for i := 0; i < n; i += 16 {
			ms, err := q.BatchReceive(t.Context(), 16, 0)
			require.NoError(t, err)
			for _, m := range ms {
				handles = append(handles, m.ReceiptHandle)
			}
		}
		require.Len(t, handles, n)
		for i := 0; i < n; i += 16 {
			_, err := q.BatchDelete(t.Context(), handles[i:min(i+16, n)])
			require.NoError(t, err)
		}
		assertTime(t, start, time.Now(), "all in one instant")
		assert.Equal(t, counts{}, countsOf(t, q))
	})
}

func TestQPSBurstCoversBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A QPS below the batch size still lets a full batch through a full
		// bucket.
		b := qpsBroker(t, 5)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.BatchSend(t.Context(), bodiesN(16), 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "x", 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		time.Sleep(time.Second) // 5 tokens
		_, err = q.BatchSend(t.Context(), bodiesN(6), 0)
		assert.ErrorIs(t, err, cmq.ErrThrottled)
		_, err = q.BatchSend(t.Context(), bodiesN(5), 0)
		require.NoError(t, err)
		assert.Equal(t, counts{Active: 21}, countsOf(t, q))
	})
}

// Calls refused for their arguments or the queue's state take no token:
// after many of them every bucket is still full.
func TestQPSRefusedCallsCostNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
			l.QPS = 20
			l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 100, Default: 100}
			l.MsgSize = cmq.Range[int]{Min: 1, Max: 1024, Default: 1024}
		})))
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		full := newQueue(t, b, "full", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(1)})
		_, err := full.Send(t.Context(), "only", 0)
		require.NoError(t, err)
		ctx := t.Context()
		for range 30 {
			_, err = q.Send(ctx, "", 0)
			require.ErrorIs(t, err, cmq.ErrEmptyMessage)
			_, err = q.Send(ctx, strings.Repeat("x", 1025), 0)
			require.ErrorIs(t, err, cmq.ErrMessageTooLarge)
			_, err = q.BatchSend(ctx, []string{"ok", strings.Repeat("x", 1025)}, 0)
			require.ErrorIs(t, err, cmq.ErrMessageTooLarge)
			_, err = q.Send(ctx, "x", time.Hour+time.Second)
			require.ErrorIs(t, err, cmq.ErrOutOfRange)
			_, err = full.BatchSend(ctx, []string{"a", "b"}, 0)
			require.ErrorIs(t, err, cmq.ErrHeapFull)
			_, err = q.Receive(ctx, time.Minute)
			require.ErrorIs(t, err, cmq.ErrOutOfRange)
			_, err = q.BatchReceive(ctx, 17, 0)
			require.ErrorIs(t, err, cmq.ErrBatchSize)
		}
		ids, err := q.BatchSend(ctx, bodiesN(16), 0)
		require.NoError(t, err)
		for range 4 {
			_, err = q.Send(ctx, "x", 0)
			require.NoError(t, err)
		}
		_, err = full.Send(ctx, "x", 0) // a bucket per queue
		require.ErrorIs(t, err, cmq.ErrHeapFull)
		ms, err := q.BatchReceive(ctx, 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 16)
		assert.Equal(t, ids[0], ms[0].ID)
	})
}
