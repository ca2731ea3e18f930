package cmq_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// Stats: the counters each call moves, the snapshot's counts, oldest
// message age and waiting receivers, and the broker's sums.

func TestQueueStatsCounters(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, q *cmq.Queue)
		want cmq.QueueStats // counters and counts only
	}{
		{"nothing", func(t *testing.T, q *cmq.Queue) {}, cmq.QueueStats{}},
		{"send and batch send", func(t *testing.T, q *cmq.Queue) {
			_, err := q.Send(t.Context(), "a", 0)
			require.NoError(t, err)
			_, err = q.BatchSend(t.Context(), []string{"b", "c"}, time.Minute)
			require.NoError(t, err)
		}, cmq.QueueStats{Active: 1, Delayed: 2, Sent: 3}},
		{"receive twice, delete once", func(t *testing.T, q *cmq.Queue) {
			_, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
			require.NoError(t, err)
			ms, err := q.BatchReceive(t.Context(), 16, 0)
			require.NoError(t, err)
			require.NoError(t, q.Delete(t.Context(), ms[0].ReceiptHandle))
			_, err = q.ChangeVisibility(t.Context(), ms[1].ReceiptHandle, 0)
			require.NoError(t, err)
			_, err = q.Receive(t.Context(), 0)
			require.NoError(t, err)
		}, cmq.QueueStats{Inactive: 1, Sent: 2, Received: 3, Deleted: 1}},
		{"batch delete counts each message", func(t *testing.T, q *cmq.Queue) {
			_, err := q.BatchSend(t.Context(), []string{"a", "b", "c"}, 0)
			require.NoError(t, err)
			ms, err := q.BatchReceive(t.Context(), 16, 0)
			require.NoError(t, err)
			_, err = q.BatchDelete(t.Context(), []string{ms[0].ReceiptHandle, ms[1].ReceiptHandle, "bogus"})
			require.ErrorIs(t, err, cmq.ErrBatchDeletePartial)
		}, cmq.QueueStats{Inactive: 1, Sent: 3, Received: 3, Deleted: 2, Refused: 1}},
		{"refused calls; empty receives are not", func(t *testing.T, q *cmq.Queue) {
			_, err := q.Receive(t.Context(), 0)
			require.ErrorIs(t, err, cmq.ErrNoMessage)
			require.ErrorIs(t, q.Delete(t.Context(), "bogus"), cmq.ErrInvalidReceiptHandle)
			_, err = q.Send(t.Context(), string(make([]byte, 70_000)), 0)
			require.ErrorIs(t, err, cmq.ErrMessageTooLarge)
			_, err = q.BatchSend(t.Context(), nil, 0) // wrong on its face: not counted
			require.ErrorIs(t, err, cmq.ErrBatchSize)
		}, cmq.QueueStats{Refused: 2}},
		{"canceled long poll is not refused", func(t *testing.T, q *cmq.Queue) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			_, err := q.Receive(ctx, 10*time.Second)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}, cmq.QueueStats{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBroker(t)
				defer b.Close()
				q := newQueue(t, b, "q", cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(65536)})
				tc.do(t, q)
				got, err := q.Stats()
				require.NoError(t, err)
				assert.Equal(t, "q", got.Name)
				got.Name, got.OldestMessageAge, got.Bytes = "", 0, 0
				assert.Equal(t, tc.want, got)
			})
		})
	}
}

func TestQueueStatsThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.QPS = 16 })))
		defer b.Close()
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		throttled := 0
		for range 40 {
			if _, err := q.Send(t.Context(), "x", 0); err != nil {
				require.ErrorIs(t, err, cmq.ErrThrottled)
				throttled++
			}
		}
		s, err := q.Stats()
		require.NoError(t, err)
		assert.EqualValues(t, 24, throttled)
		assert.EqualValues(t, throttled, s.Throttled)
		assert.EqualValues(t, 16, s.Sent)
		assert.Zero(t, s.Refused)
	})
}

func TestQueueStatsAgeAndWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		defer b.Close()
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		s, err := q.Stats()
		require.NoError(t, err)
		assert.Zero(t, s.OldestMessageAge, "empty queue")

		_, err = q.Send(t.Context(), "old", time.Hour)
		require.NoError(t, err)
		time.Sleep(90 * time.Second)
		_, err = q.Send(t.Context(), "new", 0)
		require.NoError(t, err)
		s, err = q.Stats()
		require.NoError(t, err)
		assert.Equal(t, 90*time.Second, s.OldestMessageAge, "the oldest, delayed or not")
		assert.Equal(t, int64(2*(3+128)), s.Bytes)

		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.NoError(t, q.Delete(t.Context(), m.ReceiptHandle))
		for range 3 {
			go q.Receive(t.Context(), 10*time.Second)
		}
		synctest.Wait()
		s, err = q.Stats()
		require.NoError(t, err)
		assert.Equal(t, 3, s.WaitingReceivers)
		time.Sleep(11 * time.Second)
		synctest.Wait()
		s, err = q.Stats()
		require.NoError(t, err)
		assert.Zero(t, s.WaitingReceivers)
		assert.Equal(t, 101*time.Second, s.OldestMessageAge)
	})
}

func TestStatsDeadLetterMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		defer b.Close()
		dlq := newQueue(t, b, "dlq", cmq.QueueAttributes{})
		src := newQueue(t, b, "src", cmq.QueueAttributes{
			VisibilityTimeout: cmq.Ptr(time.Second),
			DeadLetterPolicy:  &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 1},
		})
		_, err := src.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		_, err = src.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		_, err = src.Receive(t.Context(), 0) // both move on this receive
		require.ErrorIs(t, err, cmq.ErrNoMessage)

		s, err := src.Stats()
		require.NoError(t, err)
		assert.EqualValues(t, 2, s.DeadLettered)
		assert.Equal(t, "dlq", s.DeadLetterQueue)
		d, err := dlq.Stats()
		require.NoError(t, err)
		assert.EqualValues(t, 2, d.DeadLetterIn)
		assert.Equal(t, 2, d.Active)

		all := b.Stats()
		require.Len(t, all.Queues, 2)
		assert.Equal(t, []string{"dlq", "src"}, []string{all.Queues[0].Name, all.Queues[1].Name})
		assert.EqualValues(t, 2, all.Total.Sent)
		assert.EqualValues(t, 2, all.Total.Received)
		assert.EqualValues(t, 2, all.Total.DeadLettered)
		assert.EqualValues(t, 2, all.Total.DeadLetterIn)
		assert.Equal(t, 2, all.Total.Active)
		assert.Equal(t, all.Bytes, all.Total.Bytes)
		assert.False(t, all.Closed)
	})
}

func TestStatsAfterDeleteAndClose(t *testing.T) {
	b := newBroker(t)
	q := newQueue(t, b, "gone", cmq.QueueAttributes{})
	newQueue(t, b, "kept", cmq.QueueAttributes{})
	require.NoError(t, b.DeleteQueue(t.Context(), "gone"))
	_, err := q.Stats()
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	s := b.Stats()
	require.Len(t, s.Queues, 1)
	assert.Equal(t, "kept", s.Queues[0].Name)

	require.NoError(t, b.Close())
	_, err = q.Stats()
	assert.ErrorIs(t, err, cmq.ErrClosed)
	s = b.Stats()
	assert.True(t, s.Closed)
	assert.Empty(t, s.Queues)
}

// Stats are cheap snapshots for metrics and dashboards.
func ExampleBroker_Stats() {
	b, _ := cmq.NewBroker()
	defer b.Close()
	ctx := context.Background()
	q, _ := b.CreateQueue(ctx, "orders", cmq.QueueAttributes{})
	q.BatchSend(ctx, []string{"a", "b", "c"}, 0)
	m, _ := q.Receive(ctx, 0)
	q.Delete(ctx, m.ReceiptHandle)

	for _, s := range b.Stats().Queues {
		fmt.Printf("%s: active %d, sent %d, received %d, deleted %d\n", s.Name, s.Active, s.Sent, s.Received, s.Deleted)
	}
	// Output: orders: active 2, sent 3, received 1, deleted 1
}
