package cmq_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- ChangeVisibility. ---

func TestChangeVisibilityExtend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := extQueue(t, b, "lease", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(30 * time.Second)})
		_, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		t0 := time.Now()
		ms, err := q.BatchReceive(t.Context(), 2, 0)
		require.NoError(t, err)
		require.Len(t, ms, 2)

		time.Sleep(20 * time.Second)
		for _, m := range ms {
			next, err := q.ChangeVisibility(t.Context(), m.ReceiptHandle, 60*time.Second)
			require.NoError(t, err)
			assert.Equal(t, t0.Add(80*time.Second), next)
		}

		// The original timeout (t0+30s) has passed: still in flight.
		time.Sleep(10 * time.Second)
		extNoMessage(t, q)
		assert.Equal(t, extCounts{Inactive: 2}, extCountsOf(t, q))

		// 1ns before the new time the handle still works.
		time.Sleep(50*time.Second - 1)
		assert.Equal(t, extCounts{Inactive: 2}, extCountsOf(t, q))
		require.NoError(t, q.Delete(t.Context(), ms[1].ReceiptHandle))
		extNoMessage(t, q)

		// At the new time the other message is back and its handle is dead.
		time.Sleep(1)
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, q))
		assert.ErrorIs(t, q.Delete(t.Context(), ms[0].ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		m := extReceive(t, q)
		assert.Equal(t, "a", m.Body)
		assert.Equal(t, 2, m.DequeueCount)
		assert.Equal(t, t0, m.FirstDequeueTime)
	})
}

func TestChangeVisibilityShorten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := extQueue(t, b, "lease", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(30 * time.Second)})
		_, err := q.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		first := extReceive(t, q)
		t0 := time.Now()

		time.Sleep(5 * time.Second)
		next, err := q.ChangeVisibility(t.Context(), first.ReceiptHandle, 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, t0.Add(10*time.Second), next)

		time.Sleep(5*time.Second - 1)
		extNoMessage(t, q)
		assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, q))

		time.Sleep(1)
		assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, q))
		second := extReceive(t, q)
		assert.Equal(t, first.ID, second.ID)
		assert.Equal(t, 2, second.DequeueCount)
		assert.Equal(t, t0.Add(40*time.Second), second.NextVisibleTime)
		// Only the newest handle works.
		assert.ErrorIs(t, q.Delete(t.Context(), first.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		require.NoError(t, q.Delete(t.Context(), second.ReceiptHandle))
		assert.Equal(t, extCounts{}, extCountsOf(t, q))
	})
}

func TestChangeVisibilityZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := extQueue(t, b, "lease", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(30 * time.Second)})
		_, err := q.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		m := extReceive(t, q)

		// A receiver waits for the queue, which has nothing visible.
		type result struct {
			m   cmq.Message
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		go func() {
			m, err := q.Receive(t.Context(), 20*time.Second)
			done <- result{m, err, time.Now()}
		}()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		select {
		case r := <-done:
			t.Fatalf("receive returned early: %v", r.err)
		default:
		}

		changed := time.Now()
		next, err := q.ChangeVisibility(t.Context(), m.ReceiptHandle, 0)
		require.NoError(t, err)
		assert.Equal(t, changed, next)
		synctest.Wait()
		select {
		case r := <-done:
			require.NoError(t, r.err)
			assert.Equal(t, m.ID, r.m.ID)
			assert.Equal(t, 2, r.m.DequeueCount)
			assert.Equal(t, changed, r.at, "the waiter is woken at once")
		default:
			t.Fatal("the waiting receive was not woken")
		}

		// The handle of the released receive is dead, for every call.
		assert.ErrorIs(t, q.Delete(t.Context(), m.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		_, err = q.ChangeVisibility(t.Context(), m.ReceiptHandle, time.Minute)
		assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle)
		assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, q))
	})
}

func TestChangeVisibilityZeroWithoutWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := extQueue(t, b, "lease", cmq.QueueAttributes{})
		_, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		a := extReceive(t, q)
		time.Sleep(time.Second)
		_, err = q.ChangeVisibility(t.Context(), a.ReceiptHandle, 0)
		require.NoError(t, err)
		assert.Equal(t, extCounts{Active: 2}, extCountsOf(t, q))
		assert.ErrorIs(t, q.Delete(t.Context(), a.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		// Released at now, a's next visible time is later than b's send: b
		// first.
		assert.Equal(t, "b", extReceive(t, q).Body)
		assert.Equal(t, "a", extReceive(t, q).Body)
	})
}

func TestChangeVisibilityRange(t *testing.T) {
	maxVT := cmq.DefaultLimits().VisibilityTimeout.Max
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		ok      bool
	}{
		{"negative", -1, false},
		{"zero", 0, true},
		{"one nanosecond", 1, true},
		{"max", maxVT, true},
		{"above max", maxVT + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := extBroker(t)
				q := extQueue(t, b, "lease", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(30 * time.Second)})
				_, err := q.Send(t.Context(), "a", 0)
				require.NoError(t, err)
				m := extReceive(t, q)
				next, err := q.ChangeVisibility(t.Context(), m.ReceiptHandle, tc.timeout)
				if !tc.ok {
					extCode(t, err, 4000, 10350)
					assert.ErrorIs(t, err, cmq.ErrOutOfRange)
					assert.Zero(t, next)
					// Nothing changed: the lease ends at the old time.
					assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, q))
					time.Sleep(30*time.Second - 1)
					require.NoError(t, q.Delete(t.Context(), m.ReceiptHandle))
					return
				}
				require.NoError(t, err)
				assert.Equal(t, time.Now().Add(tc.timeout), next)
				if tc.timeout > 0 {
					time.Sleep(tc.timeout - 1)
					assert.Equal(t, extCounts{Inactive: 1}, extCountsOf(t, q))
					time.Sleep(1)
				}
				assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, q))
			})
		})
	}
}

func TestChangeVisibilityInvalidHandles(t *testing.T) {
	for _, tc := range []struct {
		name string
		// handle returns the handle to try on q; a is the message of q
		// that is in flight when it returns.
		handle func(t *testing.T, q, other *cmq.Queue, a cmq.Message) (string, cmq.Message)
	}{
		{"older receive", func(t *testing.T, q, _ *cmq.Queue, a cmq.Message) (string, cmq.Message) {
			time.Sleep(30 * time.Second)
			return a.ReceiptHandle, extReceive(t, q)
		}},
		{"after expiry", func(t *testing.T, q, _ *cmq.Queue, a cmq.Message) (string, cmq.Message) {
			time.Sleep(30 * time.Second)
			return a.ReceiptHandle, cmq.Message{}
		}},
		{"other queue", func(t *testing.T, _, other *cmq.Queue, a cmq.Message) (string, cmq.Message) {
			_, err := other.Send(t.Context(), "o", 0)
			require.NoError(t, err)
			return extReceive(t, other).ReceiptHandle, a
		}},
		{"deleted", func(t *testing.T, q, _ *cmq.Queue, a cmq.Message) (string, cmq.Message) {
			require.NoError(t, q.Delete(t.Context(), a.ReceiptHandle))
			return a.ReceiptHandle, cmq.Message{}
		}},
		{"malformed", func(t *testing.T, _, _ *cmq.Queue, a cmq.Message) (string, cmq.Message) {
			return a.ReceiptHandle[:len(a.ReceiptHandle)-1], a
		}},
		{"empty", func(t *testing.T, _, _ *cmq.Queue, a cmq.Message) (string, cmq.Message) {
			return "", a
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := extBroker(t)
				q := extQueue(t, b, "lease", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(30 * time.Second)})
				other := extQueue(t, b, "other", cmq.QueueAttributes{})
				_, err := q.Send(t.Context(), "a", 0)
				require.NoError(t, err)
				h, live := tc.handle(t, q, other, extReceive(t, q))
				before := extCountsOf(t, q)

				next, err := q.ChangeVisibility(t.Context(), h, time.Hour)
				extCode(t, err, 4430, 10260)
				assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle)
				assert.Zero(t, next)
				assert.Equal(t, before, extCountsOf(t, q), "a refused change changes nothing")
				if live.ReceiptHandle != "" {
					// The valid handle still holds its lease, which the
					// refused call did not extend.
					_, err := q.ChangeVisibility(t.Context(), live.ReceiptHandle, 0)
					require.NoError(t, err)
					assert.Equal(t, extCounts{Active: 1}, extCountsOf(t, q))
				}
			})
		})
	}
}

func TestChangeVisibilityUnusableQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := extQueue(t, b, "lease", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "a", 0)
		require.NoError(t, err)
		m := extReceive(t, q)
		require.NoError(t, b.DeleteQueue(t.Context(), "lease"))
		_, err = q.ChangeVisibility(t.Context(), m.ReceiptHandle, time.Minute)
		assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
		assert.ErrorIs(t, q.Purge(t.Context()), cmq.ErrQueueNotExist)

		q2 := extQueue(t, b, "lease", cmq.QueueAttributes{})
		require.NoError(t, b.Close())
		_, err = q2.ChangeVisibility(t.Context(), m.ReceiptHandle, time.Minute)
		assert.ErrorIs(t, err, cmq.ErrClosed)
		assert.ErrorIs(t, q2.Purge(t.Context()), cmq.ErrClosed)
	})
}
