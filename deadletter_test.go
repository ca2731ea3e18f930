package cmq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dlPair creates the dead-letter queue "dlq" and the queue "src" that uses
// it with policy p (DeadLetterQueue filled in) and src's attrs.
func dlPair(t *testing.T, b *cmq.Broker, p cmq.DeadLetterPolicy, attrs cmq.QueueAttributes) (src, dlq *cmq.Queue) {
	t.Helper()
	dlq = extQueue(t, b, "dlq", cmq.QueueAttributes{})
	p.DeadLetterQueue = "dlq"
	attrs.DeadLetterPolicy = &p
	src = extQueue(t, b, "src", attrs)
	return src, dlq
}

// dlSources returns the names of dlq's source queues and their total.
func dlSources(t *testing.T, b *cmq.Broker, dlq string, o cmq.ListOptions) ([]string, int) {
	t.Helper()
	qs, total, err := b.ListDeadLetterSourceQueues(t.Context(), dlq, o)
	require.NoError(t, err)
	names := []string{}
	for _, q := range qs {
		names = append(names, q.Name)
	}
	return names, total
}

func dlPolicy(t *testing.T, q *cmq.Queue) *cmq.DeadLetterPolicy {
	t.Helper()
	info, err := q.Attributes(t.Context())
	require.NoError(t, err)
	return info.DeadLetterPolicy
}

func TestDeadLetterOnMaxReceiveBoundary(t *testing.T) {
	for _, count := range []int{1, 3, 1000} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := extBroker(t)
				src, dlq := dlPair(t, b,
					cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: count},
					cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
				t0 := time.Now()
				id, err := src.Send(t.Context(), "m", 0)
				require.NoError(t, err)
				for i := 1; i <= count; i++ {
					m := extReceive(t, src)
					require.Equal(t, i, m.DequeueCount)
					time.Sleep(time.Second)
				}
				require.Equal(t, extCounts{Active: 1}, extCountsOf(t, src))
				require.Equal(t, extCounts{}, extCountsOf(t, dlq))

				// The receive that would exceed the count moves it.
				moved := time.Now()
				extNoMessage(t, src)
				assert.Equal(t, extCounts{}, extCountsOf(t, src))
				assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))
				info, err := src.Attributes(t.Context())
				require.NoError(t, err)
				assert.True(t, info.MinMsgTime.IsZero())

				time.Sleep(time.Second)
				m := extReceive(t, dlq)
				assert.Equal(t, id, m.ID)
				assert.Equal(t, "m", m.Body)
				assert.Equal(t, &cmq.DeadLetterSource{Queue: "src", EnqueueTime: t0, DequeueCount: count}, m.DeadLetter)
				assert.Equal(t, moved, m.EnqueueTime, "enqueued in the dead-letter queue at the move")
				assert.Equal(t, 1, m.DequeueCount, "a fresh start in the dead-letter queue")
				assert.Equal(t, moved.Add(time.Second), m.FirstDequeueTime)
				assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, dlq))
				require.NoError(t, dlq.Delete(t.Context(), m.ReceiptHandle))
				assert.Equal(t, extCounts{}, extCountsOf(t, dlq))
			})
		})
	}
}

func TestDeadLetterOnMaxReceiveGivesNextMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		src, dlq := dlPair(t, b,
			cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 1},
			cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
		_, err := src.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		first, err := src.BatchReceive(t.Context(), 2, 0)
		require.NoError(t, err)
		require.Len(t, first, 2)
		time.Sleep(time.Second)
		_, err = src.BatchSend(t.Context(), []string{"c", "d"}, 0)
		require.NoError(t, err)

		// a and b are due again, before c and d, but received once
		// already: they move, and this receive gets c.
		m := extReceive(t, src)
		assert.Equal(t, "c", m.Body)
		assert.Equal(t, extCounts{Active: 1, Inactive: 1}, extCountsOf(t, src))
		assert.Equal(t, extCounts{Active: 2}, extCountsOf(t, dlq))
		// A batch receive moves as it goes, too: d is due first, then c.
		time.Sleep(time.Second)
		ms, err := src.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 1)
		assert.Equal(t, "d", ms[0].Body)
		assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, src))

		got, err := dlq.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		var bodies []string
		for _, m := range got {
			bodies = append(bodies, m.Body)
			assert.Equal(t, 1, m.DeadLetter.DequeueCount)
		}
		assert.Equal(t, []string{"a", "b", "c"}, bodies, "in order of their moves")
	})
}

// A received Message is a copy: a consumer that writes to its DeadLetter
// record changes neither what the next receive of that message returns nor
// what a batch receive gives for another message.
func TestDeadLetterRecordIsACopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		src, dlq := dlPair(t, b,
			cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 1},
			cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
		require.NoError(t, dlq.SetAttributes(t.Context(), cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)}))
		t0 := time.Now()
		_, err := src.Send(t.Context(), "m", 0)
		require.NoError(t, err)
		extReceive(t, src)
		time.Sleep(time.Second)
		extNoMessage(t, src) // moves it

		want := &cmq.DeadLetterSource{Queue: "src", EnqueueTime: t0, DequeueCount: 1}
		first := extReceive(t, dlq)
		require.Equal(t, want, first.DeadLetter)
		first.DeadLetter.Queue = "changed by a consumer"
		first.DeadLetter.DequeueCount = 99
		time.Sleep(time.Second)
		again := extReceive(t, dlq)
		assert.Equal(t, want, again.DeadLetter, "the next receive is not changed")
		assert.NotSame(t, first.DeadLetter, again.DeadLetter)
	})
}

func TestDeadLetterOnMaxReceiveDeletedInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		src, dlq := dlPair(t, b,
			cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 2},
			cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
		_, err := src.Send(t.Context(), "m", 0)
		require.NoError(t, err)
		extReceive(t, src)
		time.Sleep(time.Second)
		m := extReceive(t, src)
		require.Equal(t, 2, m.DequeueCount)
		require.NoError(t, src.Delete(t.Context(), m.ReceiptHandle))
		time.Sleep(time.Second)
		extNoMessage(t, src)
		assert.Equal(t, extCounts{}, extCountsOf(t, src))
		assert.Equal(t, extCounts{}, extCountsOf(t, dlq))
	})
}

func TestDeadLetterOnTimeToLiveBoundary(t *testing.T) {
	const ttl = 300 * time.Second
	for _, state := range []struct {
		name     string
		setup    func(t *testing.T, src *cmq.Queue) (handle string)
		before   extCounts
		dequeued int
	}{
		{"active", func(t *testing.T, src *cmq.Queue) string {
			_, err := src.Send(t.Context(), "m", 0)
			require.NoError(t, err)
			return ""
		}, extCounts{Active: 1}, 0},
		{"in flight", func(t *testing.T, src *cmq.Queue) string {
			_, err := src.Send(t.Context(), "m", 0)
			require.NoError(t, err)
			return extReceive(t, src).ReceiptHandle
		}, extCounts{Inactive: 1}, 1},
		{"delayed", func(t *testing.T, src *cmq.Queue) string {
			_, err := src.Send(t.Context(), "m", 2*ttl)
			require.NoError(t, err)
			return ""
		}, extCounts{Delayed: 1}, 0},
		{"redelivered", func(t *testing.T, src *cmq.Queue) string {
			_, err := src.Send(t.Context(), "m", 0)
			require.NoError(t, err)
			_, err = src.ChangeVisibility(t.Context(), extReceive(t, src).ReceiptHandle, 0)
			require.NoError(t, err)
			return ""
		}, extCounts{Active: 1}, 1},
	} {
		for _, dlqFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/dlq queried first %v", state.name, dlqFirst), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					b := extBroker(t)
					src, dlq := dlPair(t, b,
						cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: ttl},
						cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(2 * ttl)})
					t0 := time.Now()
					h := state.setup(t, src)

					time.Sleep(ttl - 1)
					if dlqFirst {
						assert.Equal(t, extCounts{}, extCountsOf(t, dlq))
						assert.Equal(t, state.before, extCountsOf(t, src))
					} else {
						assert.Equal(t, state.before, extCountsOf(t, src))
						assert.Equal(t, extCounts{}, extCountsOf(t, dlq))
					}

					time.Sleep(1)
					if dlqFirst {
						// Only the dead-letter queue is asked: it pulls
						// from its sources first.
						assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))
						assert.Equal(t, extCounts{}, extCountsOf(t, src))
					} else {
						assert.Equal(t, extCounts{}, extCountsOf(t, src))
						assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))
					}
					if h != "" {
						assert.ErrorIs(t, src.Delete(t.Context(), h), cmq.ErrInvalidReceiptHandle)
						_, err := src.ChangeVisibility(t.Context(), h, time.Minute)
						assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle)
					}
					extNoMessage(t, src)
					m := extReceive(t, dlq)
					assert.Equal(t, "m", m.Body)
					assert.Equal(t, &cmq.DeadLetterSource{Queue: "src", EnqueueTime: t0, DequeueCount: state.dequeued}, m.DeadLetter)
					assert.Equal(t, t0.Add(ttl), m.EnqueueTime)
					assert.Equal(t, 1, m.DequeueCount)
				})
			})
		}
	}
}

// A receive on the dead-letter queue, with nothing else asked, gets a
// message at the instant its time-to-live passes.
func TestDeadLetterOnTimeToLiveReceiveOnDLQ(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 300 * time.Second
		b := extBroker(t)
		src, dlq := dlPair(t, b, cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: ttl}, cmq.QueueAttributes{})
		_, err := src.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		time.Sleep(10 * time.Second)
		_, err = src.Send(t.Context(), "b", 0)
		require.NoError(t, err)

		time.Sleep(ttl - 10*time.Second - 1)
		extNoMessage(t, dlq)
		time.Sleep(1)
		assert.Equal(t, "a", extReceive(t, dlq).Body)
		extNoMessage(t, dlq)
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, src), "b is not due yet")
		time.Sleep(10 * time.Second)
		assert.Equal(t, "b", extReceive(t, dlq).Body)
		assert.Equal(t, extCounts{}, extCountsOf(t, src))
	})
}

func TestDeadLetterOnTimeToLiveSkipsDeleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 300 * time.Second
		b := extBroker(t)
		src, dlq := dlPair(t, b,
			cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: ttl},
			cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Hour)})
		_, err := src.BatchSend(t.Context(), []string{"deleted", "kept"}, 0)
		require.NoError(t, err)
		require.NoError(t, src.Delete(t.Context(), extReceive(t, src).ReceiptHandle))
		time.Sleep(ttl)
		// The deleted message stays kept for rewind; the other moves.
		assert.Equal(t, extCounts{Rewind: 1}, extCountsOf(t, src))
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))
		assert.Equal(t, "kept", extReceive(t, dlq).Body)
	})
}

// A purge of the dead-letter queue first takes in what is due, so the
// source's counts end exact too.
func TestDeadLetterPurgeDLQPullsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 300 * time.Second
		b := extBroker(t)
		src, dlq := dlPair(t, b, cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: ttl}, cmq.QueueAttributes{})
		_, err := src.Send(t.Context(), "m", 0)
		require.NoError(t, err)
		time.Sleep(ttl)
		require.NoError(t, dlq.Purge(t.Context()))
		assert.Equal(t, extCounts{}, extCountsOf(t, dlq))
		assert.Equal(t, extCounts{}, extCountsOf(t, src))
		extNoMessage(t, src)
		extNoMessage(t, dlq)
	})
}

// Setting a time-to-live policy applies it to the messages already there.
func TestDeadLetterOnTimeToLiveSetLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 300 * time.Second
		b := extBroker(t)
		src, dlq := dlPair(t, b, cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 5}, cmq.QueueAttributes{})
		_, err := src.Send(t.Context(), "old", 0)
		require.NoError(t, err)
		time.Sleep(ttl)
		_, err = src.Send(t.Context(), "new", 0)
		require.NoError(t, err)
		require.Equal(t, extCounts{Active: 2}, extCountsOf(t, src))

		require.NoError(t, src.SetAttributes(t.Context(), cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{
			DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: ttl,
		}}))
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, src))
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))
		assert.Equal(t, "old", extReceive(t, dlq).Body)
		assert.Equal(t, "new", extReceive(t, src).Body)
	})
}

func TestDeadLetterPolicyValidation(t *testing.T) {
	const retention = 400 * time.Second
	for _, tc := range []struct {
		name   string
		policy cmq.DeadLetterPolicy
		code   int
		module int
	}{
		{"missing queue", cmq.DeadLetterPolicy{MaxReceiveCount: 3}, 4000, 10760},
		{"kind -1", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: -1, MaxReceiveCount: 3}, 4000, 10770},
		{"kind 2", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: 2, MaxReceiveCount: 3}, 4000, 10770},
		{"count 0", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq"}, 4000, 10720},
		{"count 1", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1}, 0, 0},
		{"count 1000", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1000}, 0, 0},
		{"count 1001", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1001}, 4000, 10720},
		{"count ignores ttl", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 2, MaxTimeToLive: -1}, 0, 0},
		{"ttl 300s-1ns", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: 1, MaxTimeToLive: 300*time.Second - 1}, 4000, 10720},
		{"ttl 300s", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: 1, MaxTimeToLive: 300 * time.Second}, 0, 0},
		{"ttl just below retention", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: 1, MaxTimeToLive: retention - 1}, 0, 0},
		{"ttl equal to retention", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: 1, MaxTimeToLive: retention}, 4000, 10720},
		{"ttl ignores count", cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: 1, MaxTimeToLive: 300 * time.Second, MaxReceiveCount: -1}, 0, 0},
		{"queue does not exist", cmq.DeadLetterPolicy{DeadLetterQueue: "nope", MaxReceiveCount: 3}, 4000, 10730},
		{"queue name malformed", cmq.DeadLetterPolicy{DeadLetterQueue: "1-bad", MaxReceiveCount: 3}, 4000, 10730},
		{"queue name in other case", cmq.DeadLetterPolicy{DeadLetterQueue: "DLQ", MaxReceiveCount: 3}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := extBroker(t)
			extQueue(t, b, "dlq", cmq.QueueAttributes{})
			p := tc.policy
			attrs := cmq.QueueAttributes{MsgRetention: cmq.Ptr(retention), DeadLetterPolicy: &p}

			// On create.
			created, err := b.CreateQueue(t.Context(), "created", attrs)
			if tc.code == 0 {
				require.NoError(t, err)
				assert.Equal(t, &tc.policy, dlPolicy(t, created))
			} else {
				extCode(t, err, tc.code, tc.module)
				_, err := b.Queue("created")
				assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
			}

			// On set.
			set := extQueue(t, b, "set", cmq.QueueAttributes{MsgRetention: cmq.Ptr(retention)})
			err = set.SetAttributes(t.Context(), cmq.QueueAttributes{DeadLetterPolicy: &p})
			if tc.code == 0 {
				require.NoError(t, err)
				assert.Equal(t, &tc.policy, dlPolicy(t, set))
				names, total := dlSources(t, b, "dlq", cmq.ListOptions{})
				assert.Equal(t, []string{"created", "set"}, names)
				assert.Equal(t, 2, total)
			} else {
				extCode(t, err, tc.code, tc.module)
				assert.Nil(t, dlPolicy(t, set), "a refused set changes nothing")
				_, total := dlSources(t, b, "dlq", cmq.ListOptions{})
				assert.Zero(t, total)
			}
		})
	}
}

// A shorter retention must stay above a time-to-live already set.
func TestDeadLetterRetentionBelowTimeToLive(t *testing.T) {
	b := extBroker(t)
	src, _ := dlPair(t, b, cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: time.Hour}, cmq.QueueAttributes{})
	err := src.SetAttributes(t.Context(), cmq.QueueAttributes{MsgRetention: cmq.Ptr(time.Hour)})
	extCode(t, err, 4000, 10720)
	info, err := src.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, cmq.DefaultLimits().MsgRetention.Default, info.MsgRetention)
	require.NoError(t, src.SetAttributes(t.Context(), cmq.QueueAttributes{MsgRetention: cmq.Ptr(time.Hour + 1)}))
}

func TestDeadLetterNesting(t *testing.T) {
	policy := func(dlq string) *cmq.QueueAttributes {
		return &cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: dlq, MaxReceiveCount: 3}}
	}
	b := extBroker(t)
	d1 := extQueue(t, b, "d1", cmq.QueueAttributes{})
	extQueue(t, b, "d2", cmq.QueueAttributes{})
	q1 := extQueue(t, b, "q1", *policy("d1"))
	q2 := extQueue(t, b, "q2", cmq.QueueAttributes{})

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"create naming itself", func() error { _, err := b.CreateQueue(t.Context(), "self", *policy("self")); return err }},
		{"create naming itself in other case", func() error { _, err := b.CreateQueue(t.Context(), "self", *policy("SELF")); return err }},
		{"set naming itself", func() error { return q2.SetAttributes(t.Context(), *policy("q2")) }},
		{"set naming itself in other case", func() error { return q2.SetAttributes(t.Context(), *policy("Q2")) }},
		{"dead-letter queue gets its own", func() error { return d1.SetAttributes(t.Context(), *policy("d2")) }},
		{"create with a queue that has its own", func() error { _, err := b.CreateQueue(t.Context(), "q3", *policy("q1")); return err }},
		{"set to a queue that has its own", func() error { return q2.SetAttributes(t.Context(), *policy("q1")) }},
		{"source names itself", func() error { return q1.SetAttributes(t.Context(), *policy("q1")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extCode(t, tc.call(), 4000, 10740)
		})
	}
	_, total := dlSources(t, b, "d1", cmq.ListOptions{})
	assert.Equal(t, 1, total)
	_, total = dlSources(t, b, "d2", cmq.ListOptions{})
	assert.Zero(t, total)
	assert.Nil(t, dlPolicy(t, q2))
	assert.Nil(t, dlPolicy(t, d1))
	assert.Equal(t, "d1", dlPolicy(t, q1).DeadLetterQueue)
	_, err := b.Queue("self")
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)

	// Once q1 lets go of its dead-letter queue, q2 may use q1, and then q1
	// may not get one again.
	require.NoError(t, q1.UnbindDeadLetterQueue(t.Context()))
	require.NoError(t, q2.SetAttributes(t.Context(), *policy("q1")))
	extCode(t, q1.SetAttributes(t.Context(), *policy("d1")), 4000, 10740)
	names, _ := dlSources(t, b, "q1", cmq.ListOptions{})
	assert.Equal(t, []string{"q2"}, names)
}

func TestDeadLetterSourceLimit(t *testing.T) {
	b := extBroker(t)
	extQueue(t, b, "dlq", cmq.QueueAttributes{})
	other := extQueue(t, b, "other", cmq.QueueAttributes{})
	policy := func(dlq string, n int) cmq.QueueAttributes {
		return cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: dlq, MaxReceiveCount: n}}
	}
	var sources []*cmq.Queue
	for i := range 6 {
		sources = append(sources, extQueue(t, b, fmt.Sprintf("src%d", i), policy("dlq", 3)))
	}
	_, total := dlSources(t, b, "dlq", cmq.ListOptions{})
	require.Equal(t, 6, total)

	// The seventh is refused, on create and on set.
	_, err := b.CreateQueue(t.Context(), "src6", policy("dlq", 3))
	extCode(t, err, 4000, 10780)
	assert.ErrorIs(t, err, cmq.ErrDeadLetterTooManySources)
	_, err = b.Queue("src6")
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	extCode(t, other.SetAttributes(t.Context(), policy("dlq", 3)), 4000, 10780)
	assert.Nil(t, dlPolicy(t, other))

	// A bound source may set the same dead-letter queue again: it is not
	// counted twice.
	require.NoError(t, sources[0].SetAttributes(t.Context(), policy("dlq", 7)))
	require.NoError(t, sources[0].SetAttributes(t.Context(), policy("DLQ", 8)))
	assert.Equal(t, 8, dlPolicy(t, sources[0]).MaxReceiveCount)
	_, total = dlSources(t, b, "dlq", cmq.ListOptions{})
	assert.Equal(t, 6, total)
	extCode(t, other.SetAttributes(t.Context(), policy("dlq", 3)), 4000, 10780)

	// A source that moves to another dead-letter queue frees its place.
	extQueue(t, b, "dlq2", cmq.QueueAttributes{})
	require.NoError(t, sources[0].SetAttributes(t.Context(), policy("dlq2", 3)))
	require.NoError(t, other.SetAttributes(t.Context(), policy("dlq", 3)))
	extCode(t, sources[0].SetAttributes(t.Context(), policy("dlq", 3)), 4000, 10780)
	// So does one that unbinds, or is deleted.
	require.NoError(t, sources[1].UnbindDeadLetterQueue(t.Context()))
	require.NoError(t, sources[0].SetAttributes(t.Context(), policy("dlq", 3)))
	require.NoError(t, b.DeleteQueue(t.Context(), "src2"))
	extQueue(t, b, "src6", policy("dlq", 3))
	names, total := dlSources(t, b, "dlq", cmq.ListOptions{})
	assert.Equal(t, []string{"other", "src0", "src3", "src4", "src5", "src6"}, names)
	assert.Equal(t, 6, total)
}

func TestDeadLetterSourceLimitFromLimits(t *testing.T) {
	lim := cmq.DefaultLimits()
	lim.DeadLetterSources = 1
	b := extBroker(t, cmq.WithLimits(lim))
	p := cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1}}
	extQueue(t, b, "dlq", cmq.QueueAttributes{})
	extQueue(t, b, "a", p)
	_, err := b.CreateQueue(t.Context(), "b", p)
	extCode(t, err, 4000, 10780)
}

func TestDeadLetterUnbindWhileFlowing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		src, dlq := dlPair(t, b,
			cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 1},
			cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
		_, err := src.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		extReceive(t, src)
		time.Sleep(time.Second)
		_, err = src.Send(t.Context(), "b", 0)
		require.NoError(t, err)
		// a moves; b is received for the first time.
		assert.Equal(t, "b", extReceive(t, src).Body)
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))

		require.NoError(t, src.UnbindDeadLetterQueue(t.Context()))
		assert.Nil(t, dlPolicy(t, src))
		_, total := dlSources(t, b, "dlq", cmq.ListOptions{})
		assert.Zero(t, total)

		// b is over-received now, but stays in the source.
		for i := 2; i <= 4; i++ {
			time.Sleep(time.Second)
			m := extReceive(t, src)
			assert.Equal(t, "b", m.Body)
			assert.Equal(t, i, m.DequeueCount)
		}
		assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, src))
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))

		extCode(t, src.UnbindDeadLetterQueue(t.Context()), 4000, 10730)
		assert.ErrorIs(t, src.UnbindDeadLetterQueue(t.Context()), cmq.ErrDeadLetterQueueNotExist)
	})
}

// Unbinding a time-to-live policy first moves what is already due.
func TestDeadLetterUnbindTimeToLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 300 * time.Second
		b := extBroker(t)
		src, dlq := dlPair(t, b, cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: ttl}, cmq.QueueAttributes{})
		_, err := src.Send(t.Context(), "due", 0)
		require.NoError(t, err)
		time.Sleep(time.Second)
		_, err = src.Send(t.Context(), "not due", 0)
		require.NoError(t, err)
		time.Sleep(ttl - time.Second)
		require.NoError(t, src.UnbindDeadLetterQueue(t.Context()))
		time.Sleep(time.Hour)
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, src))
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))
		assert.Equal(t, "due", extReceive(t, dlq).Body)
		assert.Equal(t, "not due", extReceive(t, src).Body)
	})
}

func TestDeadLetterDeleteQueues(t *testing.T) {
	b := extBroker(t)
	policy := cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 3}}
	dlq := extQueue(t, b, "dlq", cmq.QueueAttributes{})
	a := extQueue(t, b, "a", policy)
	extQueue(t, b, "b", policy)

	// Refused while it serves a source.
	err := b.DeleteQueue(t.Context(), "dlq")
	extCode(t, err, 4000, 10750)
	assert.ErrorIs(t, err, cmq.ErrDeadLetterQueueInUse)
	_, err = dlq.Attributes(t.Context())
	require.NoError(t, err, "still there")

	// Deleting a source unbinds it.
	require.NoError(t, b.DeleteQueue(t.Context(), "b"))
	names, total := dlSources(t, b, "dlq", cmq.ListOptions{})
	assert.Equal(t, []string{"a"}, names)
	assert.Equal(t, 1, total)
	// A new queue of the deleted source's name is not bound.
	extQueue(t, b, "b", cmq.QueueAttributes{})
	_, total = dlSources(t, b, "dlq", cmq.ListOptions{})
	assert.Equal(t, 1, total)

	assert.ErrorIs(t, b.DeleteQueue(t.Context(), "DLQ"), cmq.ErrDeadLetterQueueInUse)
	require.NoError(t, a.UnbindDeadLetterQueue(t.Context()))
	require.NoError(t, b.DeleteQueue(t.Context(), "dlq"))
	_, _, err = b.ListDeadLetterSourceQueues(t.Context(), "dlq", cmq.ListOptions{})
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	// The former source cannot bind to a queue that is gone.
	extCode(t, a.SetAttributes(t.Context(), policy), 4000, 10730)
}

func TestListDeadLetterSourceQueues(t *testing.T) {
	b := extBroker(t)
	extQueue(t, b, "dlq", cmq.QueueAttributes{})
	extQueue(t, b, "dlq2", cmq.QueueAttributes{})
	extQueue(t, b, "unbound-alpha", cmq.QueueAttributes{})
	for _, name := range []string{"Delta", "alpha", "charlie", "bravo", "alphabet"} {
		extQueue(t, b, name, cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1}})
	}
	extQueue(t, b, "elsewhere-alpha", cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq2", MaxReceiveCount: 1}})

	for _, tc := range []struct {
		name  string
		dlq   string
		o     cmq.ListOptions
		want  []string
		total int
	}{
		{"all", "dlq", cmq.ListOptions{}, []string{"alpha", "alphabet", "bravo", "charlie", "Delta"}, 5},
		{"name in other case", "DLQ", cmq.ListOptions{}, []string{"alpha", "alphabet", "bravo", "charlie", "Delta"}, 5},
		{"search", "dlq", cmq.ListOptions{Search: "ALPHA"}, []string{"alpha", "alphabet"}, 2},
		{"search ignoring case", "dlq", cmq.ListOptions{Search: "del"}, []string{"Delta"}, 1},
		{"search without match", "dlq", cmq.ListOptions{Search: "zulu"}, []string{}, 0},
		{"offset", "dlq", cmq.ListOptions{Offset: 3}, []string{"charlie", "Delta"}, 5},
		{"offset past end", "dlq", cmq.ListOptions{Offset: 9}, []string{}, 5},
		{"limit", "dlq", cmq.ListOptions{Limit: 2}, []string{"alpha", "alphabet"}, 5},
		{"offset and limit", "dlq", cmq.ListOptions{Offset: 1, Limit: 2}, []string{"alphabet", "bravo"}, 5},
		{"search, offset and limit", "dlq", cmq.ListOptions{Search: "a", Offset: 1, Limit: 3}, []string{"alphabet", "bravo", "charlie"}, 5},
		{"other dead-letter queue", "dlq2", cmq.ListOptions{}, []string{"elsewhere-alpha"}, 1},
		{"no sources", "alpha", cmq.ListOptions{}, []string{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, total := dlSources(t, b, tc.dlq, tc.o)
			assert.Equal(t, tc.want, names)
			assert.Equal(t, tc.total, total)
		})
	}

	for _, tc := range []struct {
		name   string
		dlq    string
		o      cmq.ListOptions
		code   int
		module int
	}{
		{"malformed name", "-dlq", cmq.ListOptions{}, 4000, 10020},
		{"missing queue", "nope", cmq.ListOptions{}, 4440, 10100},
		{"negative offset", "dlq", cmq.ListOptions{Offset: -1}, 4000, 10350},
		{"negative limit", "dlq", cmq.ListOptions{Limit: -1}, 4000, 10350},
		{"limit above max", "dlq", cmq.ListOptions{Limit: 51}, 4000, 10350},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qs, total, err := b.ListDeadLetterSourceQueues(t.Context(), tc.dlq, tc.o)
			extCode(t, err, tc.code, tc.module)
			assert.Nil(t, qs)
			assert.Zero(t, total)
		})
	}
	_, total := dlSources(t, b, "dlq", cmq.ListOptions{Limit: 50})
	assert.Equal(t, 5, total)
}

// A long poll on the dead-letter queue is woken by a move that a receive
// on the source makes.
func TestDeadLetterLongPollWokenByMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		src, dlq := dlPair(t, b,
			cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 1},
			cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(5 * time.Second)})
		id, err := src.Send(t.Context(), "m", 0)
		require.NoError(t, err)
		extReceive(t, src)

		var got cmq.Message
		var at time.Time
		done := make(chan error, 1)
		go func() {
			var err error
			got, err = dlq.Receive(t.Context(), 20*time.Second)
			at = time.Now()
			done <- err
		}()
		// The visibility timeout ends at 5 s, but nothing moves until the
		// source is used.
		time.Sleep(8 * time.Second)
		synctest.Wait()
		require.Empty(t, done)

		moved := time.Now()
		extNoMessage(t, src)
		synctest.Wait()
		require.Len(t, done, 1, "the move wakes the waiter")
		require.NoError(t, <-done)
		assert.Equal(t, moved, at)
		assert.Equal(t, id, got.ID)
		assert.Equal(t, "src", got.DeadLetter.Queue)
		assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, dlq))
	})
}

// A message that would go to a full dead-letter queue is dropped and
// logged.
func TestDeadLetterQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		_, src, dlq, ids := overflowDeadLetter(t, slog.NewTextHandler(&logs, nil))

		assert.Equal(t, extCounts{}, extCountsOf(t, src))
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, dlq))
		assert.Equal(t, "a", extReceive(t, dlq).Body)
		var dropped []string
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(line, "dead-letter queue full") {
				dropped = append(dropped, line)
			}
		}
		if assert.Len(t, dropped, 1) {
			assert.Contains(t, dropped[0], "count=1 firstMsgId="+ids[1])
		}
	})
}

// The logger runs outside every lock: a handler that calls back into the
// broker and the queue that is logging does not deadlock.
func TestLoggerCallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &callbackHandler{}
		b, _, _, _ := overflowDeadLetter(t, h) // drops "b", and logs it
		require.NoError(t, b.DeleteQueue(t.Context(), "src"))
		require.NoError(t, b.Close())
		assert.Equal(t, []string{"queue created", "queue created", "dead-letter queue full, messages dropped",
			"queue deleted", "broker closed"}, h.msgs)
	})
}

// overflowDeadLetter makes a broker logging to h, a dead-letter queue
// "dlq" that holds one message and a source "src" (policy 0, one receive),
// and sends "a" and "b" through src until both move: "a" reaches dlq and
// "b" is dropped. It returns the ids of a and b.
func overflowDeadLetter(t *testing.T, h slog.Handler) (b *cmq.Broker, src, dlq *cmq.Queue, ids []string) {
	t.Helper()
	lim := cmq.DefaultLimits()
	lim.MsgHeapNum.Min = 1
	b = extBroker(t, cmq.WithLimits(lim), cmq.WithLogger(slog.New(h)))
	if c, ok := h.(*callbackHandler); ok {
		c.b = b
	}
	dlq = extQueue(t, b, "dlq", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(1)})
	src = extQueue(t, b, "src", cmq.QueueAttributes{
		VisibilityTimeout: cmq.Ptr(time.Second),
		DeadLetterPolicy:  &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1},
	})
	ids, err := src.BatchSend(t.Context(), []string{"a", "b"}, 0)
	require.NoError(t, err)
	_, err = src.BatchReceive(t.Context(), 2, 0)
	require.NoError(t, err)
	time.Sleep(time.Second)
	extNoMessage(t, src)
	return b, src, dlq, ids
}

// callbackHandler records messages, and on each calls the broker and each
// of its queues.
type callbackHandler struct {
	b    *cmq.Broker
	msgs []string
}

func (h *callbackHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *callbackHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *callbackHandler) WithGroup(string) slog.Handler            { return h }
func (h *callbackHandler) Handle(_ context.Context, r slog.Record) error {
	h.msgs = append(h.msgs, r.Message)
	qs, _, _ := h.b.ListQueues(context.Background(), cmq.ListOptions{})
	for _, s := range qs {
		if q, err := h.b.Queue(s.Name); err == nil {
			_, _ = q.Attributes(context.Background())
		}
	}
	return nil
}

func TestDeadLetterUnusableQueue(t *testing.T) {
	b := extBroker(t)
	src, _ := dlPair(t, b, cmq.DeadLetterPolicy{MaxReceiveCount: 1}, cmq.QueueAttributes{})
	require.NoError(t, b.DeleteQueue(t.Context(), "src"))
	assert.ErrorIs(t, src.UnbindDeadLetterQueue(t.Context()), cmq.ErrQueueNotExist)
	require.NoError(t, b.Close())
	_, _, err := b.ListDeadLetterSourceQueues(t.Context(), "dlq", cmq.ListOptions{})
	assert.ErrorIs(t, err, cmq.ErrClosed)
}

// Consumers of three sources and of their dead-letter queue run at once
// while one source is bound and unbound: every message ends exactly once,
// deleted from its source, deleted from the dead-letter queue or still in
// one of them, and the counts add up.
func TestDeadLetterConcurrentFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const perSource = 40
		b := extBroker(t)
		dlq := extQueue(t, b, "dlq", cmq.QueueAttributes{})
		policy := &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 2}
		var sources []*cmq.Queue
		sent := map[string]bool{}
		for i := range 3 {
			q := extQueue(t, b, fmt.Sprintf("src%d", i), cmq.QueueAttributes{
				VisibilityTimeout: cmq.Ptr(time.Second),
				DeadLetterPolicy:  policy,
			})
			for j := range perSource {
				id, err := q.Send(t.Context(), fmt.Sprint(j), 0)
				require.NoError(t, err)
				sent[id] = true
			}
			sources = append(sources, q)
		}

		var mu sync.Mutex
		deleted := map[string]int{}
		fromDLQ := 0
		record := func(id string, dead bool) {
			mu.Lock()
			deleted[id]++
			if dead {
				fromDLQ++
			}
			mu.Unlock()
		}
		var wg sync.WaitGroup
		for _, q := range sources {
			wg.Go(func() {
				for range 30 {
					ms, err := q.BatchReceive(t.Context(), 4, 0)
					if errors.Is(err, cmq.ErrNoMessage) {
						time.Sleep(time.Second)
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					for _, m := range ms {
						// Delete one message in three; the rest come back
						// and eventually move.
						if m.Body[len(m.Body)-1]%3 == 0 {
							if assert.NoError(t, q.Delete(t.Context(), m.ReceiptHandle)) {
								record(m.ID, false)
							}
						}
					}
					time.Sleep(500 * time.Millisecond)
				}
			})
		}
		ctx, cancel := context.WithCancel(t.Context())
		dlqDone := make(chan struct{})
		go func() {
			defer close(dlqDone)
			for {
				m, err := dlq.Receive(ctx, 5*time.Second)
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, cmq.ErrNoMessage) {
					continue
				}
				if assert.NoError(t, err) && assert.NoError(t, dlq.Delete(t.Context(), m.ReceiptHandle)) {
					assert.NotNil(t, m.DeadLetter)
					record(m.ID, true)
				}
			}
		}()
		wg.Go(func() {
			for i := range 10 {
				time.Sleep(1500 * time.Millisecond)
				if i%2 == 0 {
					assert.NoError(t, sources[0].UnbindDeadLetterQueue(t.Context()))
				} else {
					assert.NoError(t, sources[0].SetAttributes(t.Context(), cmq.QueueAttributes{DeadLetterPolicy: policy}))
				}
				_, err := dlq.Attributes(t.Context())
				assert.NoError(t, err)
			}
		})
		wg.Wait()
		time.Sleep(10 * time.Second) // let the dead-letter consumer drain
		cancel()
		<-dlqDone

		remaining := 0
		for _, q := range append(sources, dlq) {
			c := extCountsOf(t, q)
			assert.Zero(t, c.Rewind)
			remaining += c.Active + c.Inactive + c.Delayed
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range deleted {
			assert.True(t, sent[id], "unknown id %s", id)
			assert.Equal(t, 1, n, "id %s deleted %d times", id, n)
		}
		assert.Equal(t, len(sent), len(deleted)+remaining)
		assert.Less(t, remaining, len(sent)/2, "messages flowed")
		assert.Greater(t, fromDLQ, len(sent)/3, "the dead-letter queue took messages")
		t.Logf("sent %d, deleted %d (%d from the dead-letter queue), remaining %d", len(sent), len(deleted), fromDLQ, remaining)
	})
}

func TestDeadLetterTimeToLiveMax(t *testing.T) {
	maxTTL := cmq.DefaultLimits().MaxTimeToLive.Max
	require.Equal(t, 43200*time.Second, maxTTL)
	b := extBroker(t)
	extQueue(t, b, "dlq", cmq.QueueAttributes{})
	q := extQueue(t, b, "src", cmq.QueueAttributes{})
	p := cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: maxTTL + 1}
	extCode(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{DeadLetterPolicy: &p}), 4000, 10720)
	p.MaxTimeToLive = maxTTL
	require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{DeadLetterPolicy: &p}))
	assert.Equal(t, &p, dlPolicy(t, q))
}

// A message moved by time-to-live enters the dead-letter queue as of the
// instant its time-to-live passed, however much later the move is noticed:
// its enqueue time there, and so its retention there, start at that instant.
func TestDeadLetterOnTimeToLiveMoveTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 300 * time.Second
		b := extBroker(t)
		src, dlq := dlPair(t, b, cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: ttl}, cmq.QueueAttributes{})
		sent := time.Now()
		_, err := src.Send(t.Context(), "a", 0)
		require.NoError(t, err)

		time.Sleep(ttl + time.Hour) // nothing touches either queue meanwhile
		m := extReceive(t, dlq)
		assert.Equal(t, "a", m.Body)
		assert.True(t, sent.Add(ttl).Equal(m.EnqueueTime), "enqueue time %v, want %v", m.EnqueueTime, sent.Add(ttl))
		assert.True(t, sent.Equal(m.DeadLetter.EnqueueTime))
		info, err := dlq.Attributes(t.Context())
		require.NoError(t, err)
		assert.True(t, sent.Add(ttl).Equal(info.MinMsgTime))
	})
}

// A message moved on from a second dead-letter queue keeps the record of
// where it first came from.
func TestDeadLetterChainKeepsFirstSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		src, d1 := dlPair(t, b, cmq.DeadLetterPolicy{MaxReceiveCount: 1}, cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
		d2 := extQueue(t, b, "d2", cmq.QueueAttributes{})
		t0 := time.Now()
		id, err := src.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		extReceive(t, src)
		time.Sleep(time.Second)
		extNoMessage(t, src) // moves it to d1
		require.NoError(t, src.UnbindDeadLetterQueue(t.Context()))
		require.NoError(t, d1.SetAttributes(t.Context(), cmq.QueueAttributes{
			VisibilityTimeout: cmq.Ptr(time.Second),
			DeadLetterPolicy:  &cmq.DeadLetterPolicy{DeadLetterQueue: "d2", MaxReceiveCount: 1},
		}))
		time.Sleep(time.Second)
		extReceive(t, d1)
		time.Sleep(time.Second)
		extNoMessage(t, d1) // moves it to d2

		m := extReceive(t, d2)
		assert.Equal(t, id, m.ID)
		assert.Equal(t, &cmq.DeadLetterSource{Queue: "src", EnqueueTime: t0, DequeueCount: 1}, m.DeadLetter)
	})
}

// dlWait starts a receive on q in a goroutine; its result and the instant
// it returned arrive on the channel.
func dlWait(t *testing.T, q *cmq.Queue, wait time.Duration) <-chan dlWaitResult {
	c := make(chan dlWaitResult, 1)
	go func() {
		m, err := q.Receive(t.Context(), wait)
		c <- dlWaitResult{m, err, time.Now()}
	}()
	return c
}

type dlWaitResult struct {
	m   cmq.Message
	err error
	at  time.Time
}

// A long poll on a dead-letter queue is woken at the instant a message's
// time-to-live passes in a source that nobody uses.
func TestDeadLetterLongPollWokenByTimeToLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		src, dlq := dlPair(t, b, cmq.DeadLetterPolicy{Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: 5 * time.Minute}, cmq.QueueAttributes{})
		t0 := time.Now()
		id, err := src.Send(t.Context(), "m", 0)
		require.NoError(t, err)
		time.Sleep(5*time.Minute - 10*time.Second)
		got := dlWait(t, dlq, 20*time.Second)
		r := <-got
		require.NoError(t, r.err)
		assert.Equal(t, t0.Add(5*time.Minute), r.at)
		assert.Equal(t, id, r.m.ID)
		assert.Equal(t, extCounts{}, extCountsOf(t, src))
	})
}

// A dead-letter queue's waiters learn of time-to-live moves that came
// closer while they waited: a send to a source that held nothing, a rewind
// in a source, a source bound while they wait.
func TestDeadLetterLongPollTimeToLiveComesCloser(t *testing.T) {
	lim := cmq.DefaultLimits()
	lim.MaxTimeToLive.Min = time.Second
	lim.PollingWait.Max = time.Hour
	ttl := func(d time.Duration) *cmq.DeadLetterPolicy {
		return &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: d}
	}
	t.Run("send", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := extBroker(t, cmq.WithLimits(lim))
			dlq := extQueue(t, b, "dlq", cmq.QueueAttributes{})
			src := extQueue(t, b, "src", cmq.QueueAttributes{DeadLetterPolicy: ttl(10 * time.Second)})
			got := dlWait(t, dlq, time.Hour)
			synctest.Wait()
			t0 := time.Now()
			_, err := src.Send(t.Context(), "m", 0)
			require.NoError(t, err)
			r := <-got
			require.NoError(t, r.err)
			assert.Equal(t, t0.Add(10*time.Second), r.at)
		})
	})
	t.Run("rewind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := extBroker(t, cmq.WithLimits(lim))
			dlq := extQueue(t, b, "dlq", cmq.QueueAttributes{})
			src := extQueue(t, b, "src", cmq.QueueAttributes{DeadLetterPolicy: ttl(time.Minute), RewindPeriod: cmq.Ptr(time.Hour)})
			t0 := time.Now()
			_, err := src.Send(t.Context(), "m", 0)
			require.NoError(t, err)
			m := extReceive(t, src)
			require.NoError(t, src.Delete(t.Context(), m.ReceiptHandle))
			got := dlWait(t, dlq, time.Hour)
			time.Sleep(30 * time.Second)
			require.NoError(t, src.Rewind(t.Context(), t0))
			r := <-got
			require.NoError(t, r.err)
			assert.Equal(t, t0.Add(time.Minute), r.at)
		})
	})
	t.Run("bind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := extBroker(t, cmq.WithLimits(lim))
			dlq := extQueue(t, b, "dlq", cmq.QueueAttributes{})
			src := extQueue(t, b, "src", cmq.QueueAttributes{})
			t0 := time.Now()
			_, err := src.Send(t.Context(), "m", 0)
			require.NoError(t, err)
			got := dlWait(t, dlq, time.Hour)
			time.Sleep(30 * time.Second)
			require.NoError(t, src.SetAttributes(t.Context(), cmq.QueueAttributes{DeadLetterPolicy: ttl(time.Minute)}))
			r := <-got
			require.NoError(t, r.err)
			assert.Equal(t, t0.Add(time.Minute), r.at)
		})
	})
}

// A dead-letter queue unbound and deleted while messages flow: its
// waiters and handles get ErrQueueNotExist, and the source goes on, its
// messages no longer moved.
func TestDeadLetterDeletedWhileFlowing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		src, dlq := dlPair(t, b, cmq.DeadLetterPolicy{MaxReceiveCount: 1}, cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
		_, err := src.BatchSend(t.Context(), []string{"a", "b", "c"}, 0)
		require.NoError(t, err)
		_, err = src.BatchReceive(t.Context(), 3, 0)
		require.NoError(t, err)
		time.Sleep(time.Second)
		extNoMessage(t, src) // a, b and c move
		held := extReceive(t, dlq)
		assert.Equal(t, "a", held.Body)
		_, err = dlq.BatchReceive(t.Context(), 2, 0)
		require.NoError(t, err)
		waiting := dlWait(t, dlq, 20*time.Second)
		synctest.Wait()

		_, err = src.Send(t.Context(), "d", 0) // the source keeps working throughout
		require.NoError(t, err)
		assert.ErrorIs(t, b.DeleteQueue(t.Context(), "dlq"), cmq.ErrDeadLetterQueueInUse)
		require.NoError(t, src.UnbindDeadLetterQueue(t.Context()))
		require.NoError(t, b.DeleteQueue(t.Context(), "dlq"))
		assert.ErrorIs(t, (<-waiting).err, cmq.ErrQueueNotExist)
		assert.ErrorIs(t, dlq.Delete(t.Context(), held.ReceiptHandle), cmq.ErrQueueNotExist)
		_, err = dlq.Receive(t.Context(), 0)
		assert.ErrorIs(t, err, cmq.ErrQueueNotExist)

		m := extReceive(t, src)
		assert.Equal(t, "d", m.Body)
		time.Sleep(time.Second)
		m = extReceive(t, src)
		assert.Equal(t, "d", m.Body)
		assert.Equal(t, 2, m.DequeueCount, "no longer moved")
		require.NoError(t, src.Delete(t.Context(), m.ReceiptHandle))
		assert.Equal(t, extCounts{}, extCountsOf(t, src))
		_, err = b.CreateQueue(t.Context(), "dlq", cmq.QueueAttributes{})
		require.NoError(t, err, "the name is free again")
	})
}

// Races around a dead-letter queue's long poll and the time-to-live moves
// of its source, each run many times with the goroutines interleaved by
// the scheduler: a send while a receive starts waiting, a send while the
// source timer's callback runs, and a receive that takes the message a
// move woke a waiter for. No wake-up may be lost.
func TestDeadLetterLongPollRaces(t *testing.T) {
	lim := cmq.DefaultLimits()
	lim.MaxTimeToLive.Min = time.Second
	lim.PollingWait.Max = time.Hour
	lim.QPS = 0 // the fewer steps a send takes, the more often the races hit
	ttl := &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: 10 * time.Second}
	setup := func(t *testing.T) (src, dlq *cmq.Queue) {
		b := extBroker(t, cmq.WithLimits(lim))
		dlq = extQueue(t, b, "dlq", cmq.QueueAttributes{})
		return extQueue(t, b, "src", cmq.QueueAttributes{DeadLetterPolicy: ttl}), dlq
	}
	const rounds = 1000
	t.Run("send while a receive starts", func(t *testing.T) {
		for range rounds {
			synctest.Test(t, func(t *testing.T) {
				src, dlq := setup(t)
				t0 := time.Now()
				w := dlWait(t, dlq, time.Hour)
				go func() { _, _ = src.Send(t.Context(), "m", 0) }()
				r := <-w
				require.NoError(t, r.err)
				require.Equal(t, "m", r.m.Body)
				require.Equal(t, t0.Add(10*time.Second), r.at)
			})
		}
	})
	t.Run("send while the timer fires", func(t *testing.T) {
		for range rounds {
			synctest.Test(t, func(t *testing.T) {
				src, dlq := setup(t)
				t0 := time.Now()
				_, err := src.Send(t.Context(), "m1", 0)
				require.NoError(t, err)
				w1 := dlWait(t, dlq, time.Hour)
				synctest.Wait()
				w2 := dlWait(t, dlq, time.Hour)
				synctest.Wait()
				go func() {
					time.Sleep(time.Until(t0.Add(10 * time.Second)))
					_, _ = src.Send(t.Context(), "m2", 0) // moves at t0+20s
				}()
				r1, r2 := <-w1, <-w2
				require.Equal(t, "m1", r1.m.Body)
				require.NoError(t, r2.err)
				require.Equal(t, "m2", r2.m.Body)
				require.Equal(t, t0.Add(20*time.Second), r2.at)
			})
		}
	})
	t.Run("another receive takes the moved message", func(t *testing.T) {
		for range rounds {
			synctest.Test(t, func(t *testing.T) {
				src, dlq := setup(t)
				t0 := time.Now()
				_, err := src.Send(t.Context(), "m1", 0) // moves at t0+10s
				require.NoError(t, err)
				time.Sleep(5 * time.Second)
				_, err = src.Send(t.Context(), "m2", 0) // moves at t0+15s
				require.NoError(t, err)
				w := dlWait(t, dlq, time.Hour)
				thief := make(chan cmq.Message, 1)
				go func() {
					time.Sleep(time.Until(t0.Add(10 * time.Second)))
					m, _ := dlq.Receive(t.Context(), 0)
					thief <- m
				}()
				r, taken := <-w, <-thief
				if r.m.Body == "m1" {
					return // the waiter won the race for m1
				}
				require.Equal(t, "m1", taken.Body)
				require.NoError(t, r.err)
				require.Equal(t, "m2", r.m.Body)
				require.Equal(t, t0.Add(15*time.Second), r.at)
			})
		}
	})
}
