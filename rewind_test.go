package cmq_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rewindQueue creates a queue with a RewindPeriod of an hour and a
// VisibilityTimeout of 30 s, plus attrs.
func rewindQueue(t *testing.T, b *cmq.Broker, attrs cmq.QueueAttributes) *cmq.Queue {
	t.Helper()
	if attrs.RewindPeriod == nil {
		attrs.RewindPeriod = cmq.Ptr(time.Hour)
	}
	if attrs.VisibilityTimeout == nil {
		attrs.VisibilityTimeout = cmq.Ptr(30 * time.Second)
	}
	return extQueue(t, b, "rewind", attrs)
}

// rewindConsume receives the next message, asserts its body and deletes it.
func rewindConsume(t *testing.T, q *cmq.Queue, body string) cmq.Message {
	t.Helper()
	m := extReceive(t, q)
	require.Equal(t, body, m.Body)
	require.NoError(t, q.Delete(t.Context(), m.ReceiptHandle))
	return m
}

func TestRewindWindowEdges(t *testing.T) {
	const period = time.Hour
	for _, tc := range []struct {
		name  string
		start func(now time.Time) time.Time
		ok    bool
	}{
		{"oldest allowed", func(now time.Time) time.Time { return now.Add(-period) }, true},
		{"1ns too old", func(now time.Time) time.Time { return now.Add(-period - 1) }, false},
		{"now", func(now time.Time) time.Time { return now }, true},
		{"1ns in the future", func(now time.Time) time.Time { return now.Add(1) }, false},
		{"far past", func(now time.Time) time.Time { return now.Add(-100 * 24 * time.Hour) }, false},
		{"far future", func(now time.Time) time.Time { return now.Add(24 * time.Hour) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := extBroker(t)
				q := rewindQueue(t, b, cmq.QueueAttributes{})
				// One message sent at exactly now-period and deleted, one
				// sent and deleted at now.
				consumeAt := time.Now()
				_, err := q.Send(t.Context(), "old", 0)
				require.NoError(t, err)
				rewindConsume(t, q, "old")
				time.Sleep(period)
				_, err = q.Send(t.Context(), "new", 0)
				require.NoError(t, err)
				rewindConsume(t, q, "new")
				now := time.Now()
				require.Equal(t, consumeAt.Add(period), now)
				require.Equal(t, extCounts{Rewind: 2}, extCountsOf(t, q))

				err = q.Rewind(t.Context(), tc.start(now))
				if !tc.ok {
					extCode(t, err, 4000, 10680)
					assert.ErrorIs(t, err, cmq.ErrRewindTime)
					assert.Equal(t, extCounts{Rewind: 2}, extCountsOf(t, q), "a refused rewind changes nothing")
					return
				}
				require.NoError(t, err)
				if tc.start(now).Equal(now) {
					// Only the message sent at now is at or after start.
					assert.Equal(t, extCounts{Active: 1, Rewind: 1}, extCountsOf(t, q))
					rewindConsume(t, q, "new")
				} else {
					assert.Equal(t, extCounts{Active: 2}, extCountsOf(t, q))
					rewindConsume(t, q, "old")
					rewindConsume(t, q, "new")
				}
				extNoMessage(t, q)
			})
		})
	}
}

func TestRewindDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := extQueue(t, b, "plain", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		rewindConsume(t, q, "a")
		// Without a RewindPeriod nothing is kept.
		assert.Equal(t, extCounts{}, extCountsOf(t, q))
		err = q.Rewind(t.Context(), time.Now())
		extCode(t, err, 6050, 10670)
		assert.ErrorIs(t, err, cmq.ErrRewindDisabled)
		extNoMessage(t, q)
	})
}

func TestRewindPeriodAttribute(t *testing.T) {
	retention := 2 * time.Hour
	for _, tc := range []struct {
		name   string
		period time.Duration
		code   int
		module int
	}{
		{"zero", 0, 0, 0},
		{"1ns", 1, 0, 0},
		{"equal to retention", retention, 0, 0},
		{"1ns above retention", retention + 1, 4000, 10700},
		{"negative", -1, 4000, 10350},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := extBroker(t)
			attrs := cmq.QueueAttributes{MsgRetention: cmq.Ptr(retention), RewindPeriod: cmq.Ptr(tc.period)}
			_, err := b.CreateQueue(t.Context(), "created", attrs)
			if tc.code == 0 {
				require.NoError(t, err)
			} else {
				extCode(t, err, tc.code, tc.module)
				_, err = b.Queue("created")
				assert.ErrorIs(t, err, cmq.ErrQueueNotExist, "a refused create creates nothing")
			}

			q := extQueue(t, b, "set", cmq.QueueAttributes{MsgRetention: cmq.Ptr(retention)})
			err = q.SetAttributes(t.Context(), cmq.QueueAttributes{RewindPeriod: cmq.Ptr(tc.period)})
			info, ierr := q.Attributes(t.Context())
			require.NoError(t, ierr)
			if tc.code == 0 {
				require.NoError(t, err)
				assert.Equal(t, tc.period, info.RewindPeriod)
			} else {
				extCode(t, err, tc.code, tc.module)
				assert.Equal(t, time.Duration(0), info.RewindPeriod, "a refused set changes nothing")
			}
		})
	}
}

func TestRewindPeriodAboveNewRetention(t *testing.T) {
	b := extBroker(t)
	q := extQueue(t, b, "set", cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Hour)})
	// Shortening the retention below the rewind period is refused ...
	err := q.SetAttributes(t.Context(), cmq.QueueAttributes{MsgRetention: cmq.Ptr(time.Hour - 1)})
	assert.ErrorIs(t, err, cmq.ErrRewindPeriod)
	info, err := q.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, cmq.DefaultLimits().MsgRetention.Default, info.MsgRetention)
	// ... unless both change together.
	require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{
		MsgRetention: cmq.Ptr(time.Hour - 1),
		RewindPeriod: cmq.Ptr(time.Minute),
	}))
	info, err = q.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, time.Hour-1, info.MsgRetention)
	assert.Equal(t, time.Minute, info.RewindPeriod)
}

func TestRewindOrderAndCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := rewindQueue(t, b, cmq.QueueAttributes{})
		t0 := time.Now()
		var ids []string
		for i, body := range []string{"m0", "m1", "m2", "m3", "m4"} {
			if i > 0 {
				time.Sleep(time.Second)
			}
			id, err := q.Send(t.Context(), body, 0)
			require.NoError(t, err)
			ids = append(ids, id)
		}
		_, err := q.Send(t.Context(), "delayed", time.Hour)
		require.NoError(t, err)

		time.Sleep(5 * time.Second)
		ms, err := q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 5)
		for _, i := range []int{0, 1, 3} {
			require.NoError(t, q.Delete(t.Context(), ms[i].ReceiptHandle))
		}
		require.Equal(t, extCounts{Inactive: 2, Delayed: 1, Rewind: 3}, extCountsOf(t, q))

		// Rewind to m1's send: m1 and m3 (deleted) and m2 and m4 (in
		// flight) come back; m0 stays kept; the delayed message stays
		// delayed.
		require.NoError(t, q.Rewind(t.Context(), t0.Add(time.Second)))
		assert.Equal(t, extCounts{Active: 4, Delayed: 1, Rewind: 1}, extCountsOf(t, q))
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, t0.Add(time.Second), info.MinMsgTime)
		for _, i := range []int{2, 4} {
			assert.ErrorIs(t, q.Delete(t.Context(), ms[i].ReceiptHandle), cmq.ErrInvalidReceiptHandle, "handle of m%d", i)
		}

		time.Sleep(time.Second)
		again, err := q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		var bodies []string
		for _, m := range again {
			bodies = append(bodies, m.Body)
		}
		assert.Equal(t, []string{"m1", "m2", "m3", "m4"}, bodies, "send order")
		for i, m := range again {
			assert.Equal(t, ids[i+1], m.ID)
			assert.Equal(t, 1, m.DequeueCount, m.Body+": delivered afresh")
			assert.Equal(t, t0.Add(time.Duration(i+1)*time.Second), m.EnqueueTime, m.Body)
			assert.Equal(t, t0.Add(10*time.Second), m.FirstDequeueTime, m.Body+": delivered afresh")
		}
		assert.Equal(t, extCounts{Inactive: 4, Delayed: 1, Rewind: 1}, extCountsOf(t, q))

		// Deleting a rewound message keeps it again.
		for _, m := range again {
			require.NoError(t, q.Delete(t.Context(), m.ReceiptHandle))
		}
		assert.Equal(t, extCounts{Delayed: 1, Rewind: 5}, extCountsOf(t, q))

		// A rewind over everything leaves the delayed message delayed until
		// its time.
		require.NoError(t, q.Rewind(t.Context(), t0))
		assert.Equal(t, extCounts{Active: 5, Delayed: 1}, extCountsOf(t, q))
		time.Sleep(time.Hour - 6*time.Second - 1)
		assert.Equal(t, extCounts{Active: 5, Delayed: 1}, extCountsOf(t, q))
		time.Sleep(1)
		assert.Equal(t, extCounts{Active: 6}, extCountsOf(t, q))
	})
}

// A message that was received and came back when its visibility timeout
// ended takes its send-order place among rewound messages too.
func TestRewindOrderWithRedelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := rewindQueue(t, b, cmq.QueueAttributes{})
		t0 := time.Now()
		_, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		extReceive(t, q) // a, not deleted
		rewindConsume(t, q, "b")
		time.Sleep(30 * time.Second)
		require.Equal(t, extCounts{Active: 1, Rewind: 1}, extCountsOf(t, q))

		require.NoError(t, q.Rewind(t.Context(), t0))
		assert.Equal(t, extCounts{Active: 2}, extCountsOf(t, q))
		assert.Equal(t, "a", extReceive(t, q).Body)
		assert.Equal(t, "b", extReceive(t, q).Body)
	})
}

func TestRewindInFlightInvalidatesHandle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := rewindQueue(t, b, cmq.QueueAttributes{})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		first := extReceive(t, q)
		time.Sleep(10 * time.Second)
		require.NoError(t, q.Rewind(t.Context(), t0))
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, q))

		assert.ErrorIs(t, q.Delete(t.Context(), first.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		_, err = q.ChangeVisibility(t.Context(), first.ReceiptHandle, time.Minute)
		assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle)

		second := extReceive(t, q)
		assert.Equal(t, first.ID, second.ID)
		assert.Equal(t, 1, second.DequeueCount, "delivered afresh")
		assert.Equal(t, t0.Add(40*time.Second), second.NextVisibleTime)
		assert.ErrorIs(t, q.Delete(t.Context(), first.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		require.NoError(t, q.Delete(t.Context(), second.ReceiptHandle))
		assert.Equal(t, extCounts{Rewind: 1}, extCountsOf(t, q))
	})
}

func TestRewindWakesWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := rewindQueue(t, b, cmq.QueueAttributes{})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		rewindConsume(t, q, "a")

		var got cmq.Message
		var at time.Time
		done := make(chan error, 1)
		go func() {
			var err error
			got, err = q.Receive(t.Context(), 20*time.Second)
			at = time.Now()
			done <- err
		}()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Empty(t, done)
		require.NoError(t, q.Rewind(t.Context(), t0))
		synctest.Wait()
		require.Len(t, done, 1, "the rewind wakes the waiter")
		require.NoError(t, <-done)
		assert.Equal(t, "a", got.Body)
		assert.Equal(t, t0.Add(5*time.Second), at)
	})
}

func TestRewindRetentionExpiry(t *testing.T) {
	const retention = 2 * time.Minute
	attrs := cmq.QueueAttributes{MsgRetention: cmq.Ptr(retention), RewindPeriod: cmq.Ptr(retention)}

	t.Run("kept message disappears", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := extBroker(t)
			q := rewindQueue(t, b, attrs)
			t0 := time.Now()
			_, err := q.Send(t.Context(), "a", 0)
			require.NoError(t, err)
			rewindConsume(t, q, "a")

			time.Sleep(retention - 1)
			assert.Equal(t, extCounts{Rewind: 1}, extCountsOf(t, q))
			time.Sleep(1)
			assert.Equal(t, extCounts{}, extCountsOf(t, q))
			// t0 is still inside the rewind window, but nothing is left.
			require.NoError(t, q.Rewind(t.Context(), t0))
			extNoMessage(t, q)
			assert.Equal(t, extCounts{}, extCountsOf(t, q))
		})
	})

	t.Run("rewound message expires at its retention end", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := extBroker(t)
			q := rewindQueue(t, b, attrs)
			t0 := time.Now()
			_, err := q.Send(t.Context(), "a", 0)
			require.NoError(t, err)
			rewindConsume(t, q, "a")

			time.Sleep(retention - 1)
			require.NoError(t, q.Rewind(t.Context(), t0))
			assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, q))
			info, err := q.Attributes(t.Context())
			require.NoError(t, err)
			assert.Equal(t, t0, info.MinMsgTime)
			time.Sleep(1)
			assert.Equal(t, extCounts{}, extCountsOf(t, q))
			extNoMessage(t, q)
		})
	})

	t.Run("only the expired are dropped", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := extBroker(t)
			q := rewindQueue(t, b, attrs)
			t0 := time.Now()
			_, err := q.Send(t.Context(), "a", 0)
			require.NoError(t, err)
			rewindConsume(t, q, "a")
			time.Sleep(time.Minute)
			_, err = q.Send(t.Context(), "b", 0)
			require.NoError(t, err)
			rewindConsume(t, q, "b")

			time.Sleep(time.Minute)
			assert.Equal(t, extCounts{Rewind: 1}, extCountsOf(t, q))
			require.NoError(t, q.Rewind(t.Context(), t0))
			rewindConsume(t, q, "b")
			extNoMessage(t, q)
		})
	})
}

func TestRewindOffDropsKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := rewindQueue(t, b, cmq.QueueAttributes{})
		t0 := time.Now()
		_, err := q.BatchSend(t.Context(), []string{"a", "b", "c"}, 0)
		require.NoError(t, err)
		rewindConsume(t, q, "a")
		rewindConsume(t, q, "b")
		inFlight := extReceive(t, q)
		require.Equal(t, extCounts{Inactive: 1, Rewind: 2}, extCountsOf(t, q))

		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Duration(0))}))
		// Kept messages are dropped; the one in flight is untouched.
		assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, q))
		assert.ErrorIs(t, q.Rewind(t.Context(), t0), cmq.ErrRewindDisabled)
		require.NoError(t, q.Delete(t.Context(), inFlight.ReceiptHandle))
		assert.Equal(t, extCounts{}, extCountsOf(t, q), "a delete without rewind keeps nothing")

		// Turning rewind on again does not bring the dropped ones back.
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Hour)}))
		require.NoError(t, q.Rewind(t.Context(), t0))
		extNoMessage(t, q)
		assert.Equal(t, extCounts{}, extCountsOf(t, q))
	})
}

func TestRewindPeriodChangeKeepsKept(t *testing.T) {
	// Changing another attribute, or the period to another nonzero value,
	// keeps what was kept.
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := rewindQueue(t, b, cmq.QueueAttributes{})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		rewindConsume(t, q, "a")
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Minute)}))
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Minute)}))
		assert.Equal(t, extCounts{Rewind: 1}, extCountsOf(t, q))
		require.NoError(t, q.Rewind(t.Context(), t0))
		rewindConsume(t, q, "a")
	})
}

func TestRewindHeapCountsKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := cmq.DefaultLimits()
		lim.MsgHeapNum.Min = 1
		b := extBroker(t, cmq.WithLimits(lim))
		q := rewindQueue(t, b, cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(2)})
		_, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		rewindConsume(t, q, "a")
		require.Equal(t, extCounts{Active: 1, Rewind: 1}, extCountsOf(t, q))

		_, err = q.Send(t.Context(), "c", 0)
		extCode(t, err, 4410, 10240)
		rewindConsume(t, q, "b")
		_, err = q.Send(t.Context(), "c", 0)
		assert.ErrorIs(t, err, cmq.ErrHeapFull, "two kept messages fill the heap")

		// Kept messages leave the heap when rewind is turned off.
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Duration(0))}))
		_, err = q.BatchSend(t.Context(), []string{"c", "d"}, 0)
		require.NoError(t, err)
		assert.Equal(t, extCounts{Active: 2}, extCountsOf(t, q))
	})
}

func TestRewindUnusableQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := rewindQueue(t, b, cmq.QueueAttributes{})
		require.NoError(t, b.DeleteQueue(t.Context(), "rewind"))
		assert.ErrorIs(t, q.Rewind(t.Context(), time.Now()), cmq.ErrQueueNotExist)
		q = rewindQueue(t, b, cmq.QueueAttributes{})
		require.NoError(t, b.Close())
		assert.ErrorIs(t, q.Rewind(t.Context(), time.Now()), cmq.ErrClosed)
	})
}

// A rewound message is delivered afresh: a dead-letter policy 0 counts
// only the receives after the rewind, so a message consumed once under
// MaxReceiveCount 1 is delivered again rather than moved.
func TestRewindRenewsReceiveCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		dlq := extQueue(t, b, "dlq", cmq.QueueAttributes{})
		q := rewindQueue(t, b, cmq.QueueAttributes{
			DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1},
		})
		t0 := time.Now()
		_, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		rewindConsume(t, q, "a")
		rewindConsume(t, q, "b")
		time.Sleep(time.Second)
		require.NoError(t, q.Rewind(t.Context(), t0))

		for _, body := range []string{"a", "b"} {
			m := extReceive(t, q)
			assert.Equal(t, body, m.Body)
			assert.Equal(t, 1, m.DequeueCount)
		}
		assert.Equal(t, extCounts{}, extCountsOf(t, dlq))
		// Not deleted this time: the next receive moves them.
		time.Sleep(30 * time.Second)
		extNoMessage(t, q)
		assert.Equal(t, extCounts{Active: 2}, extCountsOf(t, dlq))
	})
}

// A rewind does not renew a time-to-live: under policy 1 a rewound message
// already older than MaxTimeToLive moves to the dead-letter queue at once;
// a younger one waits for its time.
func TestRewindTimeToLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		dlq := extQueue(t, b, "dlq", cmq.QueueAttributes{})
		q := rewindQueue(t, b, cmq.QueueAttributes{
			DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: 5 * time.Minute},
		})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "old", 0)
		require.NoError(t, err)
		rewindConsume(t, q, "old")
		time.Sleep(4 * time.Minute)
		_, err = q.Send(t.Context(), "young", 0)
		require.NoError(t, err)
		rewindConsume(t, q, "young")
		time.Sleep(2 * time.Minute) // "old" is 6 minutes old, "young" 2
		require.Equal(t, extCounts{Rewind: 2}, extCountsOf(t, q))

		require.NoError(t, q.Rewind(t.Context(), t0))
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, q))
		m := extReceive(t, dlq)
		assert.Equal(t, "old", m.Body)
		assert.Equal(t, t0, m.DeadLetter.EnqueueTime)
		assert.Equal(t, t0.Add(6*time.Minute), m.EnqueueTime, "moved at the rewind")
		require.NoError(t, dlq.Delete(t.Context(), m.ReceiptHandle))

		time.Sleep(3*time.Minute - 1)
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, q))
		time.Sleep(1)
		assert.Equal(t, extCounts{}, extCountsOf(t, q))
		assert.Equal(t, "young", extReceive(t, dlq).Body)
	})
}

// The window's lower edge is taken down to its whole second, so that a
// client working in whole seconds can ask for now - RewindPeriod.
func TestRewindWindowWholeSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := rewindQueue(t, b, cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Minute)})
		time.Sleep(time.Minute + 700*time.Millisecond)
		edge := time.Now().Add(-time.Minute).Truncate(time.Second)
		require.Equal(t, 700*time.Millisecond, time.Now().Add(-time.Minute).Sub(edge))
		assert.NoError(t, q.Rewind(t.Context(), edge))
		assert.ErrorIs(t, q.Rewind(t.Context(), edge.Add(-1)), cmq.ErrRewindTime)
	})
}
