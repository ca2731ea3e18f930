package cmq_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- Receive, BatchReceive and long polls. ---

func TestReceiveFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(30 * time.Second)})
		t0 := time.Now()
		id, err := q.Send(t.Context(), "hello", 0)
		require.NoError(t, err)

		time.Sleep(2 * time.Second)
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assert.Equal(t, id, m.ID)
		assert.Equal(t, "hello", m.Body)
		assert.Regexp(t, `^[0-9a-f]{32}$`, m.ReceiptHandle)
		assertTime(t, t0, m.EnqueueTime)
		assertTime(t, t0.Add(2*time.Second), m.FirstDequeueTime)
		assertTime(t, t0.Add(32*time.Second), m.NextVisibleTime)
		assert.Equal(t, 1, m.DequeueCount)
		assert.Nil(t, m.DeadLetter)

		// Inactive for the visibility timeout, to the nanosecond.
		assert.Equal(t, counts{Inactive: 1}, countsOf(t, q))
		time.Sleep(30*time.Second - 1)
		_, err = q.Receive(t.Context(), 0)
		assert.ErrorIs(t, err, cmq.ErrNoMessage)
		assert.Equal(t, counts{Inactive: 1}, countsOf(t, q))
		time.Sleep(1)
		assert.Equal(t, counts{Active: 1}, countsOf(t, q))

		// Back, received again: same id and first dequeue time, a new handle.
		time.Sleep(time.Second)
		m2, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assert.Equal(t, id, m2.ID)
		assert.Equal(t, "hello", m2.Body)
		assert.NotEqual(t, m.ReceiptHandle, m2.ReceiptHandle)
		assertTime(t, t0, m2.EnqueueTime)
		assertTime(t, t0.Add(2*time.Second), m2.FirstDequeueTime)
		assertTime(t, t0.Add(63*time.Second), m2.NextVisibleTime)
		assert.Equal(t, 2, m2.DequeueCount)

		// BatchReceive fills the same fields.
		id2, err := q.Send(t.Context(), "world", 0)
		require.NoError(t, err)
		ms, err := q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 1)
		assert.Equal(t, id2, ms[0].ID)
		assert.Equal(t, "world", ms[0].Body)
		assert.Len(t, ms[0].ReceiptHandle, 32)
		assertTime(t, t0.Add(33*time.Second), ms[0].EnqueueTime)
		assertTime(t, t0.Add(33*time.Second), ms[0].FirstDequeueTime)
		assertTime(t, t0.Add(63*time.Second), ms[0].NextVisibleTime)
		assert.Equal(t, 1, ms[0].DequeueCount)
	})
}

func TestReceiveOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(20 * time.Second)})
		// t0: A delayed 10 s, B at once, C delayed 5 s, D at once.
		for _, s := range []struct {
			body  string
			delay time.Duration
		}{{"A", 10 * time.Second}, {"B", 0}, {"C", 5 * time.Second}, {"D", 0}} {
			_, err := q.Send(t.Context(), s.body, s.delay)
			require.NoError(t, err)
		}
		// Receive B at t0; it comes back at t0+20s.
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "B", m.Body)
		// t0+15s: E sent (visible at once).
		time.Sleep(15 * time.Second)
		_, err = q.Send(t.Context(), "E", 0)
		require.NoError(t, err)
		// t0+25s: visible are D (t0), C (t0+5s), A (t0+10s), E (t0+15s),
		// B (t0+20s).
		time.Sleep(10 * time.Second)
		var got []string
		for range 2 {
			ms, err := q.BatchReceive(t.Context(), 3, 0)
			require.NoError(t, err)
			for _, m := range ms {
				got = append(got, m.Body)
			}
		}
		assert.Equal(t, []string{"D", "C", "A", "E", "B"}, got)
	})
}

func TestReceiveWaitRange(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"1ns", 1, true},
		{"30s", 30 * time.Second, true},
		{"30s+1ns", 30*time.Second + 1, false},
		{"31s", 31 * time.Second, false},
		{"QueueWait", cmq.QueueWait, true},
		{"any negative", -time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBroker(t)
				q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Hour)})
				_, err := q.Send(t.Context(), "x", 0)
				require.NoError(t, err)
				_, err = q.Receive(t.Context(), tt.wait)
				_, berr := q.BatchReceive(t.Context(), 1, tt.wait)
				if tt.ok {
					require.NoError(t, err)
					assert.ErrorIs(t, berr, cmq.ErrNoMessage, "the one message was received")
					return
				}
				assert.ErrorIs(t, err, cmq.ErrOutOfRange)
				assert.EqualError(t, err, "cmq: parameter pollingWaitSeconds value or length is out of range (code 4000, module 10350)")
				assert.ErrorIs(t, berr, cmq.ErrOutOfRange)
				assert.Equal(t, counts{Active: 1}, countsOf(t, q), "nothing received")
			})
		})
	}
}

func TestReceiveWaitEndsExactlyAtDeadline(t *testing.T) {
	tests := []struct {
		name        string
		pollingWait time.Duration
		wait        time.Duration
		want        time.Duration // how long the call waits
	}{
		{"no wait", 0, 0, 0},
		{"no wait, queue has a polling wait", 7 * time.Second, 0, 0},
		{"per-call wait", 0, 5 * time.Second, 5 * time.Second},
		{"per-call wait overrides the queue's", 7 * time.Second, 3 * time.Second, 3 * time.Second},
		{"QueueWait uses PollingWait", 7 * time.Second, cmq.QueueWait, 7 * time.Second},
		{"negative uses PollingWait", 7 * time.Second, -2 * time.Second, 7 * time.Second},
		{"QueueWait with PollingWait 0", 0, cmq.QueueWait, 0},
		{"max wait", 0, 30 * time.Second, 30 * time.Second},
		{"fine-grained wait", 0, 1500 * time.Microsecond, 1500 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBroker(t)
				q := newQueue(t, b, "q", cmq.QueueAttributes{PollingWait: &tt.pollingWait})
				start := time.Now()
				_, err := q.Receive(t.Context(), tt.wait)
				assert.ErrorIs(t, err, cmq.ErrNoMessage)
				assertCode(t, err, 7000, 10200)
				assert.Equal(t, tt.want, time.Since(start), "Receive")

				start = time.Now()
				ms, err := q.BatchReceive(t.Context(), 16, tt.wait)
				assert.ErrorIs(t, err, cmq.ErrNoMessage)
				assert.Nil(t, ms)
				assert.Equal(t, tt.want, time.Since(start), "BatchReceive")
			})
		})
	}
}

// waitResult is what a receive running in a goroutine returned, and when.
type waitResult struct {
	msgs []cmq.Message
	err  error
	at   time.Time
}

// goReceive starts a receive in a goroutine and returns its result channel.
func goReceive(ctx context.Context, q *cmq.Queue, n int, wait time.Duration) <-chan waitResult {
	c := make(chan waitResult, 1)
	go func() {
		var r waitResult
		if n == 0 {
			var m cmq.Message
			m, r.err = q.Receive(ctx, wait)
			if r.err == nil {
				r.msgs = []cmq.Message{m}
			}
		} else {
			r.msgs, r.err = q.BatchReceive(ctx, n, wait)
		}
		r.at = time.Now()
		c <- r
	}()
	return c
}

func TestLongPollWakesOnSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{PollingWait: cmq.Ptr(20 * time.Second)})
		t0 := time.Now()
		res := goReceive(t.Context(), q, 0, cmq.QueueWait)
		go func() {
			time.Sleep(3 * time.Second)
			_, err := q.Send(t.Context(), "x", 0)
			assert.NoError(t, err)
		}()
		r := <-res
		require.NoError(t, r.err)
		require.Len(t, r.msgs, 1)
		assert.Equal(t, "x", r.msgs[0].Body)
		assertTime(t, t0.Add(3*time.Second), r.at)
		assertTime(t, t0.Add(3*time.Second), r.msgs[0].FirstDequeueTime)
	})
}

func TestLongPollWakesOnDelayEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "later", 4*time.Second)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "much later", 25*time.Second)
		require.NoError(t, err)
		res := goReceive(t.Context(), q, 16, 20*time.Second)
		r := <-res
		require.NoError(t, r.err)
		require.Len(t, r.msgs, 1, "returns what is visible, does not wait to fill")
		assert.Equal(t, "later", r.msgs[0].Body)
		assertTime(t, t0.Add(4*time.Second), r.at)

		// A delay sent while the receive already waits, shorter than the
		// message it waits for, wakes it at its own time.
		res = goReceive(t.Context(), q, 0, 20*time.Second)
		time.Sleep(time.Second) // t0+5s
		_, err = q.Send(t.Context(), "soon", 2*time.Second)
		require.NoError(t, err)
		r = <-res
		require.NoError(t, r.err)
		assert.Equal(t, "soon", r.msgs[0].Body)
		assertTime(t, t0.Add(7*time.Second), r.at)

		// The last one, at t0+25s.
		res = goReceive(t.Context(), q, 0, 20*time.Second)
		r = <-res
		require.NoError(t, r.err)
		assert.Equal(t, "much later", r.msgs[0].Body)
		assertTime(t, t0.Add(25*time.Second), r.at)
	})
}

func TestLongPollWakesOnVisibilityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(5 * time.Second)})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		first, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)

		res := goReceive(t.Context(), q, 0, 20*time.Second)
		r := <-res
		require.NoError(t, r.err)
		assert.Equal(t, first.ID, r.msgs[0].ID)
		assert.Equal(t, 2, r.msgs[0].DequeueCount)
		assertTime(t, t0.Add(5*time.Second), r.at)
		assert.ErrorIs(t, q.Delete(t.Context(), first.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		require.NoError(t, q.Delete(t.Context(), r.msgs[0].ReceiptHandle))
	})
}

func TestLongPollWakesOnChangeVisibility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Hour)})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		res := goReceive(t.Context(), q, 0, 30*time.Second)
		time.Sleep(2 * time.Second)
		next, err := q.ChangeVisibility(t.Context(), m.ReceiptHandle, 3*time.Second)
		require.NoError(t, err)
		assertTime(t, t0.Add(5*time.Second), next)
		r := <-res
		require.NoError(t, r.err)
		assertTime(t, t0.Add(5*time.Second), r.at)
		assert.Equal(t, 2, r.msgs[0].DequeueCount)
	})
}

func TestLongPollOneSendWakesOneWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		t0 := time.Now()
		a := goReceive(t.Context(), q, 0, 10*time.Second)
		c := goReceive(t.Context(), q, 0, 10*time.Second)
		time.Sleep(time.Second)
		_, err := q.Send(t.Context(), "only", 0)
		require.NoError(t, err)
		var got, empty waitResult
		select {
		case got = <-a:
			empty = <-c
		case got = <-c:
			empty = <-a
		}
		require.NoError(t, got.err)
		assert.Equal(t, "only", got.msgs[0].Body)
		assertTime(t, t0.Add(time.Second), got.at)
		assert.ErrorIs(t, empty.err, cmq.ErrNoMessage)
		assertTime(t, t0.Add(10*time.Second), empty.at, "the other waits out its wait")

		// A batch of two wakes two waiters; each gets one or the first gets
		// both, but both messages are received at once.
		a = goReceive(t.Context(), q, 1, 10*time.Second)
		c = goReceive(t.Context(), q, 1, 10*time.Second)
		synctest.Wait()
		sentAt := time.Now()
		_, err = q.BatchSend(t.Context(), []string{"p", "q"}, 0)
		require.NoError(t, err)
		ra, rc := <-a, <-c
		require.NoError(t, ra.err)
		require.NoError(t, rc.err)
		assertTime(t, sentAt, ra.at)
		assertTime(t, sentAt, rc.at)
		assert.ElementsMatch(t, []string{"p", "q"}, []string{ra.msgs[0].Body, rc.msgs[0].Body})
	})
}

func TestLongPollManyWaitersManyMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		const n = 8
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				m, err := q.Receive(t.Context(), 30*time.Second)
				if assert.NoError(t, err) {
					mu.Lock()
					got[m.Body]++
					mu.Unlock()
				}
			})
		}
		synctest.Wait()
		t0 := time.Now()
		for i := range n {
			_, err := q.Send(t.Context(), string(rune('a'+i)), time.Duration(i)*time.Second)
			require.NoError(t, err)
		}
		wg.Wait()
		assert.Equal(t, time.Duration(n-1)*time.Second, time.Since(t0), "the last wakes when the last delay ends")
		assert.Len(t, got, n)
		for body, k := range got {
			assert.Equal(t, 1, k, body)
		}
		assert.Equal(t, counts{Inactive: n}, countsOf(t, q))
	})
}

func TestLongPollContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "later", 5*time.Second)
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(t.Context())
		res := goReceive(ctx, q, 0, 20*time.Second)
		time.Sleep(2 * time.Second)
		cancel()
		r := <-res
		assert.Equal(t, context.Canceled, r.err)
		assert.Nil(t, r.msgs)
		assertTime(t, t0.Add(2*time.Second), r.at)

		// A deadline ends the wait the same way.
		ctx, cancel = context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		res = goReceive(ctx, q, 16, 20*time.Second)
		r = <-res
		assert.Equal(t, context.DeadlineExceeded, r.err)
		assertTime(t, t0.Add(3*time.Second), r.at)

		// Nothing was consumed: the message comes out untouched.
		time.Sleep(2 * time.Second)
		assert.Equal(t, counts{Active: 1}, countsOf(t, q))
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assert.Equal(t, 1, m.DequeueCount)
		assertTime(t, t0.Add(5*time.Second), m.FirstDequeueTime)
	})
}

func TestReceiveCancelledContextConsumesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, wait := range []time.Duration{0, 10 * time.Second} {
			_, err = q.Receive(ctx, wait)
			assert.Equal(t, context.Canceled, err)
			ms, err := q.BatchReceive(ctx, 2, wait)
			assert.Equal(t, context.Canceled, err)
			assert.Nil(t, ms)
		}
		assert.Equal(t, counts{Active: 1}, countsOf(t, q))
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assert.Equal(t, 1, m.DequeueCount)
	})
}

// A long poll whose context ends at the same instant as a message becomes
// visible returns the context's error and leaves the message for others.
func TestLongPollCancelRacesSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		ctx, cancel := context.WithCancel(t.Context())
		got := goReceive(ctx, q, 1, 10*time.Second)
		synctest.Wait()
		cancel()
		_, err := q.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		r := <-got
		assert.Equal(t, context.Canceled, r.err)
		assert.Empty(t, r.msgs)
		assert.Equal(t, counts{Active: 1}, countsOf(t, q))
	})
}

func TestBatchReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		for _, n := range []int{0, -1, 17} {
			ms, err := q.BatchReceive(t.Context(), n, 0)
			assert.ErrorIs(t, err, cmq.ErrBatchSize, n)
			assertCode(t, err, 4000, 10370)
			assert.Nil(t, ms)
		}
		ids, err := q.BatchSend(t.Context(), []string{"a", "b", "c"}, 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "d", time.Second)
		require.NoError(t, err)

		// Returns the three visible at once, with a wait, without waiting
		// for more.
		start := time.Now()
		ms, err := q.BatchReceive(t.Context(), 16, 20*time.Second)
		require.NoError(t, err)
		assertTime(t, start, time.Now())
		require.Len(t, ms, 3)
		for i, m := range ms {
			assert.Equal(t, ids[i], m.ID)
		}
		// Up to n: two of three.
		time.Sleep(30 * time.Second)
		ms, err = q.BatchReceive(t.Context(), 2, 0)
		require.NoError(t, err)
		require.Len(t, ms, 2)
		assert.Equal(t, "d", ms[0].Body, "d became visible at t0+1s, before the three came back")
		assert.Equal(t, "a", ms[1].Body)
		assert.Equal(t, counts{Active: 2, Inactive: 2}, countsOf(t, q))
		// 16 is allowed.
		ms, err = q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		assert.Len(t, ms, 2)
		_, err = q.BatchReceive(t.Context(), 16, 0)
		assert.ErrorIs(t, err, cmq.ErrNoMessage)
	})
}

func TestBatchReceiveSizeFromLimits(t *testing.T) {
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.BatchSize = 2 })))
	q := newQueue(t, b, "q", cmq.QueueAttributes{})
	_, err := q.BatchReceive(t.Context(), 3, 0)
	assert.ErrorIs(t, err, cmq.ErrBatchSize)
	_, err = q.BatchReceive(t.Context(), 2, 0)
	assert.ErrorIs(t, err, cmq.ErrNoMessage)
}

func TestLongPollMessageVisibleAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		t0 := time.Now()
		_, err := q.Send(t.Context(), "edge", 5*time.Second)
		require.NoError(t, err)
		// The wait ends at the instant the message becomes visible: it is
		// received, not reported missing.
		m, err := q.Receive(t.Context(), 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "edge", m.Body)
		assertTime(t, t0.Add(5*time.Second), time.Now())

		// One nanosecond later than the wait: ErrNoMessage at the deadline.
		_, err = q.Send(t.Context(), "late", 5*time.Second+1)
		require.NoError(t, err)
		_, err = q.Receive(t.Context(), 5*time.Second)
		assert.ErrorIs(t, err, cmq.ErrNoMessage)
		assertTime(t, t0.Add(10*time.Second), time.Now())
		assert.Equal(t, counts{Inactive: 1, Delayed: 1}, countsOf(t, q))
	})
}

func TestLongPollOldestWaiterFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		var res []<-chan waitResult
		for range 3 {
			res = append(res, goReceive(t.Context(), q, 0, 30*time.Second))
			synctest.Wait() // parked before the next one starts
		}
		for i, body := range []string{"first", "second", "third"} {
			time.Sleep(time.Second)
			_, err := q.Send(t.Context(), body, 0)
			require.NoError(t, err)
			r := <-res[i]
			require.NoError(t, r.err, body)
			assert.Equal(t, body, r.msgs[0].Body, "waiter %d", i)
		}
	})
}

// TestConcurrentProducersConsumers runs producers and long-polling
// consumers together: every message is received once and deleted once, and
// the queue ends empty.
func TestConcurrentProducersConsumers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.QPS = 0 })))
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Hour)})
		const producers, perProducer, consumers = 4, 150, 4
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()

		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for c := range consumers {
			wg.Go(func() {
				for {
					ms, err := q.BatchReceive(ctx, 1+c, 5*time.Second)
					if errors.Is(err, context.Canceled) {
						return
					}
					if errors.Is(err, cmq.ErrNoMessage) {
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					handles := make([]string, len(ms))
					mu.Lock()
					for i, m := range ms {
						got[m.Body]++
						handles[i] = m.ReceiptHandle
					}
					done := len(got) == producers*perProducer
					mu.Unlock()
					results, err := q.BatchDelete(t.Context(), handles)
					assert.NoError(t, err)
					assert.Equal(t, make([]error, len(handles)), results)
					if done {
						cancel()
					}
				}
			})
		}
		for p := range producers {
			wg.Go(func() {
				for i := range perProducer {
					delay := time.Duration((p*perProducer+i)%7) * 100 * time.Millisecond
					_, err := q.Send(t.Context(), fmt.Sprintf("p%d-%d", p, i), delay)
					assert.NoError(t, err)
					time.Sleep(time.Duration(i%5) * 10 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		assert.Len(t, got, producers*perProducer)
		for body, n := range got {
			assert.Equal(t, 1, n, body)
		}
		assert.Equal(t, counts{}, countsOf(t, q))
	})
}

// quietCtx is a context whose cancellation is only seen by Err: it
// schedules no AfterFunc callback, so a waiter learns of it only when
// something else wakes it. It counts the AfterFunc registrations that
// were never stopped.
type quietCtx struct {
	context.Context // for Deadline only
	done            chan struct{}
	cancelled       atomic.Bool
	live            atomic.Int64
}

func newQuietCtx() *quietCtx {
	return &quietCtx{Context: context.Background(), done: make(chan struct{})}
}

// Done is never closed, and Value hides any parent, so that
// context.AfterFunc goes through the AfterFunc method.
func (c *quietCtx) Done() <-chan struct{} { return c.done }
func (c *quietCtx) Value(any) any         { return nil }

func (c *quietCtx) Err() error {
	if c.cancelled.Load() {
		return context.Canceled
	}
	return nil
}

func (c *quietCtx) AfterFunc(func()) func() bool {
	c.live.Add(1)
	var once sync.Once
	return func() bool {
		stopped := false
		once.Do(func() { c.live.Add(-1); stopped = true })
		return stopped
	}
}

// A waiter woken for a message whose context has ended leaves it, and
// passes the wake-up on: the next waiter gets the message at once.
func TestLongPollCancelledWaiterPassesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		ctx := newQuietCtx()
		first := goReceive(ctx, q, 0, 30*time.Second)
		synctest.Wait()
		second := goReceive(t.Context(), q, 0, 30*time.Second)
		synctest.Wait()
		ctx.cancelled.Store(true) // seen only when the first waiter wakes
		start := time.Now()
		_, err := q.Send(t.Context(), "x", 0) // wakes the first waiter, the oldest
		require.NoError(t, err)
		r := <-first
		assert.Equal(t, context.Canceled, r.err)
		r = <-second
		require.NoError(t, r.err)
		assert.Equal(t, "x", r.msgs[0].Body)
		assert.Equal(t, start, r.at, "passed on at once")
	})
}

// Every long poll stops the context callback it registered, however it
// ends, so a long-lived context does not collect them.
func TestLongPollReleasesContextCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		ctx := newQuietCtx()
		for range 3 {
			got := goReceive(ctx, q, 0, 10*time.Second) // ends by a send
			synctest.Wait()
			_, err := q.Send(ctx, "x", 0)
			require.NoError(t, err)
			require.NoError(t, (<-got).err)
			_, err = q.Receive(ctx, time.Second) // ends by its wait
			require.ErrorIs(t, err, cmq.ErrNoMessage)
		}
		got := goReceive(ctx, q, 0, 10*time.Second) // ends by Close
		synctest.Wait()
		require.NoError(t, b.Close())
		require.ErrorIs(t, (<-got).err, cmq.ErrClosed)
		assert.Zero(t, ctx.live.Load(), "context callbacks left registered")
	})
}

// A message received while other receives wait comes back to them when
// its visibility timeout ends.
func TestLongPollWakesOnOthersVisibilityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(10 * time.Second)})
		first := goReceive(t.Context(), q, 0, 20*time.Second)
		synctest.Wait()
		second := goReceive(t.Context(), q, 0, 25*time.Second)
		synctest.Wait()
		t0 := time.Now()
		_, err := q.Send(t.Context(), "m", 0)
		require.NoError(t, err)
		r := <-first // received, never deleted
		require.NoError(t, r.err)
		r = <-second
		require.NoError(t, r.err)
		assert.Equal(t, "m", r.msgs[0].Body)
		assert.Equal(t, t0.Add(10*time.Second), r.at)
		assert.Equal(t, 2, r.msgs[0].DequeueCount)
	})
}
