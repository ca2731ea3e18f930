package cmq

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rewindLimits lets tests fill a queue fast: no QPS limit, batches of
// 1000.
func rewindLimits() Limits {
	l := DefaultLimits()
	l.QPS = 0
	l.BatchSize = 1000
	return l
}

// receiveAll receives n messages from q and returns them in seq order.
func receiveAll(t *testing.T, q *Queue, n int) []Message {
	t.Helper()
	var all []Message
	for len(all) < n {
		ms, err := q.BatchReceive(t.Context(), 1000, 0)
		require.NoError(t, err)
		require.NotEmpty(t, ms)
		all = append(all, ms...)
	}
	return all
}

// fillRewind sends n messages with bodies "0", "1", … to a new queue of b
// with a RewindPeriod and a visibility timeout of an hour, receives them
// all and returns the queue, the received messages in send order and an
// instant every message was sent at or after.
func fillRewind(t *testing.T, b *Broker, n int) (*Queue, []Message, time.Time) {
	t.Helper()
	ctx := t.Context()
	start := time.Unix(0, b.now()).Truncate(time.Second)
	q, err := b.CreateQueue(ctx, "rewind", QueueAttributes{RewindPeriod: Ptr(time.Hour), VisibilityTimeout: Ptr(time.Hour)})
	require.NoError(t, err)
	for i := 0; i < n; i += 1000 {
		bodies := make([]string, min(1000, n-i))
		for k := range bodies {
			bodies[k] = strconv.Itoa(i + k)
		}
		_, err := q.BatchSend(ctx, bodies, 0)
		require.NoError(t, err)
	}
	return q, receiveAll(t, q, n), start
}

// inOtherGoroutine runs f in another goroutine and waits for it, bounded
// in time: called between two steps of a rewind, it fails the test if f
// waits for the rewind.
func inOtherGoroutine(t *testing.T, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("a call on the queue waited for the rewind's next step")
	}
}

// A rewind of 200,000 messages runs in steps of stepBudget, and a call on
// the same queue from another goroutine completes between two steps, while
// only the first step's messages are rewound. A message sent meanwhile is
// not rewound.
func TestRewindInSteps(t *testing.T) {
	const n = 200_000
	b, err := NewBroker(WithLimits(rewindLimits()))
	require.NoError(t, err)
	defer b.Close()
	q, _, start := fillRewind(t, b, n)
	steps := 0
	b.rewindStepHook = func() {
		steps++
		if steps > 1 {
			return
		}
		inOtherGoroutine(t, func() {
			_, err := q.Send(t.Context(), "meanwhile", 0)
			require.NoError(t, err)
			a, err := q.Attributes(t.Context())
			require.NoError(t, err)
			require.Equal(t, stepBudget+1, a.ActiveMsgNum, "the first step's messages and the one sent")
			require.Equal(t, n-stepBudget, a.InactiveMsgNum)
		})
	}
	require.NoError(t, q.Rewind(t.Context(), start))
	require.Equal(t, (n+stepBudget-1)/stepBudget-1, steps)
	a, err := q.Attributes(t.Context())
	require.NoError(t, err)
	require.Equal(t, n+1, a.ActiveMsgNum)
	require.Zero(t, a.InactiveMsgNum)
	ms := receiveAll(t, q, n+1)
	require.Equal(t, "0", ms[0].Body, "in send order")
	require.Equal(t, strconv.Itoa(n-1), ms[n-1].Body)
	require.Equal(t, "meanwhile", ms[n].Body)
	for _, m := range ms {
		require.Equal(t, 1, m.DequeueCount, "%s: rewound afresh, or never received before", m.Body)
	}
}

// Calls between two steps of a rewind come after it for the messages it
// has rewound and before it for the others, on a durable broker too: the
// journal replays exactly what happened.
func TestRewindStepsAndConcurrentCalls(t *testing.T) {
	const n = 4 * stepBudget
	for _, tc := range []struct {
		name string
		kept int // messages deleted before the rewind: [0, kept)
		// between runs between the first two steps; the rewind is then
		// expected to leave the messages with these bodies, in this order.
		between func(t *testing.T, q *Queue, ms []Message)
		want    []string
		rewound int // RewindMsgNum after
	}{
		{
			name: "delete before and after its step",
			between: func(t *testing.T, q *Queue, ms []Message) {
				ctx := t.Context()
				require.ErrorIs(t, q.Delete(ctx, ms[0].ReceiptHandle), ErrInvalidReceiptHandle, "rewound: the handle stopped working")
				m, err := q.Receive(ctx, 0)
				require.NoError(t, err)
				require.Equal(t, "0", m.Body, "the oldest rewound message comes first")
				require.NoError(t, q.Delete(ctx, m.ReceiptHandle))       // after its rewind: stays deleted
				require.NoError(t, q.Delete(ctx, ms[n-1].ReceiptHandle)) // before its rewind: comes back
			},
			want:    bodies(1, n),
			rewound: 1,
		},
		{
			name: "rewind turned off",
			kept: 3 * stepBudget,
			between: func(t *testing.T, q *Queue, ms []Message) {
				require.NoError(t, q.SetAttributes(t.Context(), QueueAttributes{RewindPeriod: Ptr(time.Duration(0))}))
				a, err := q.Attributes(t.Context())
				require.NoError(t, err)
				require.Zero(t, a.RewindMsgNum, "the kept messages not rewound yet are dropped at once")
			},
			want: append(bodies(0, stepBudget), bodies(3*stepBudget, n)...),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			b, err := Open(ctx, dir, WithLimits(rewindLimits()))
			require.NoError(t, err)
			q, ms, start := fillRewind(t, b, n)
			for i := 0; i < tc.kept; i += 1000 {
				var hs []string
				for _, m := range ms[i:min(tc.kept, i+1000)] {
					hs = append(hs, m.ReceiptHandle)
				}
				errs, err := q.BatchDelete(ctx, hs)
				require.NoError(t, err)
				for _, e := range errs {
					require.NoError(t, e)
				}
			}
			steps := 0
			b.rewindStepHook = func() {
				steps++
				if steps == 1 {
					inOtherGoroutine(t, func() { tc.between(t, q, ms) })
				}
			}
			require.NoError(t, q.Rewind(ctx, start))
			require.Equal(t, 3, steps)
			a, err := q.Attributes(ctx)
			require.NoError(t, err)
			require.Equal(t, len(tc.want), a.ActiveMsgNum)
			require.Equal(t, tc.rewound, a.RewindMsgNum)

			before := dump(t, b)
			require.NoError(t, b.Close())
			b, err = Open(ctx, dir, WithLimits(rewindLimits()))
			require.NoError(t, err)
			defer b.Close()
			require.Equal(t, before, dump(t, b), "replay restores what happened")
			q, err = b.Queue("rewind")
			require.NoError(t, err)
			var got []string
			for _, m := range receiveAll(t, q, len(tc.want)) {
				got = append(got, m.Body)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// bodies returns the bodies fillRewind gives seqs [from, to).
func bodies(from, to int) []string {
	s := make([]string, 0, to-from)
	for i := range to - from {
		s = append(s, strconv.Itoa(from+i))
	}
	return slices.Clip(s)
}

// Close between two steps stops the rewind: Rewind returns ErrClosed, and
// what it rewound before is in the journal.
func TestRewindClosedBetweenSteps(t *testing.T) {
	const n = 3 * stepBudget
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, dir, WithLimits(rewindLimits()))
	require.NoError(t, err)
	q, _, start := fillRewind(t, b, n)
	b.rewindStepHook = func() {
		inOtherGoroutine(t, func() { require.NoError(t, b.Close()) })
	}
	require.ErrorIs(t, q.Rewind(ctx, start), ErrClosed)

	b, err = Open(ctx, dir, WithLimits(rewindLimits()))
	require.NoError(t, err)
	defer b.Close()
	q, err = b.Queue("rewind")
	require.NoError(t, err)
	a, err := q.Attributes(ctx)
	require.NoError(t, err)
	require.Equal(t, stepBudget, a.ActiveMsgNum, "the first step's messages")
	require.Equal(t, n-stepBudget, a.InactiveMsgNum)
}
