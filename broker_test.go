package cmq_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Helpers shared by the tests of package cmq_test.

// --- Broker: queue names, lookups, lists, missing queues. ---

func TestNewBrokerDefaults(t *testing.T) {
	b, err := cmq.NewBroker()
	require.NoError(t, err)
	assert.Equal(t, cmq.DefaultLimits(), b.Limits())

	qs, total, err := b.ListQueues(t.Context(), cmq.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, qs)
	assert.Equal(t, 0, total)
}

func TestQueueNames(t *testing.T) {
	name64 := "a" + strings.Repeat("b1-", 21) // 64 characters
	require.Len(t, name64, 64)
	tests := []struct {
		name  string
		valid bool
	}{
		{"a", true},
		{"Z", true},
		{"a1", true},
		{"a-b", true},
		{"a-", true},
		{"Queue-01-x", true},
		{name64, true},
		{name64 + "c", false}, // 65 characters
		{"", false},
		{"1a", false},
		{"-a", false},
		{"_a", false},
		{"a_b", false},
		{"a b", false},
		{"a.b", false},
		{"a/b", false},
		{"é", false},
		{"aé", false},
		{"日本", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.name), func(t *testing.T) {
			b := newBroker(t)
			q, err := b.CreateQueue(t.Context(), tt.name, cmq.QueueAttributes{})
			if !tt.valid {
				assert.ErrorIs(t, err, cmq.ErrQueueNameFormat)
				assertCode(t, err, 4000, 10020)
				assert.Nil(t, q)
				_, err = b.Queue(tt.name)
				assert.ErrorIs(t, err, cmq.ErrQueueNameFormat)
				assert.ErrorIs(t, b.DeleteQueue(t.Context(), tt.name), cmq.ErrQueueNameFormat)
				_, _, err = b.ListDeadLetterSourceQueues(t.Context(), tt.name, cmq.ListOptions{})
				assert.ErrorIs(t, err, cmq.ErrQueueNameFormat)
				_, total, err := b.ListQueues(t.Context(), cmq.ListOptions{})
				require.NoError(t, err)
				assert.Equal(t, 0, total, "a rejected name creates nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.name, q.Name())
			assert.Regexp(t, `^queue-[a-z0-9]{12}$`, q.ID())
			got, err := b.Queue(tt.name)
			require.NoError(t, err)
			assert.Same(t, q, got)
			require.NoError(t, b.DeleteQueue(t.Context(), tt.name))
			_, err = b.Queue(tt.name)
			assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
		})
	}
}

func TestQueueNameLengthFromLimits(t *testing.T) {
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.QueueNameLength = 3 })))
	_, err := b.CreateQueue(t.Context(), "abc", cmq.QueueAttributes{})
	require.NoError(t, err)
	_, err = b.CreateQueue(t.Context(), "abcd", cmq.QueueAttributes{})
	assert.ErrorIs(t, err, cmq.ErrQueueNameFormat)
}

func TestQueueNameUniqueIgnoringCase(t *testing.T) {
	b := newBroker(t)
	q := newQueue(t, b, "Orders", cmq.QueueAttributes{})
	for _, name := range []string{"Orders", "orders", "ORDERS", "oRDERs"} {
		got, err := b.CreateQueue(t.Context(), name, cmq.QueueAttributes{})
		assert.ErrorIs(t, err, cmq.ErrQueueExists, name)
		assertCode(t, err, 4460, 4460)
		assert.Nil(t, got)

		found, err := b.Queue(name)
		require.NoError(t, err, name)
		assert.Same(t, q, found, name)
		assert.Equal(t, "Orders", found.Name(), "the name keeps the case it was created with")
	}
	_, total, err := b.ListQueues(t.Context(), cmq.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, total)

	// The name is free again once deleted, in any case.
	require.NoError(t, b.DeleteQueue(t.Context(), "ORDERS"))
	q2 := newQueue(t, b, "orders", cmq.QueueAttributes{})
	assert.NotSame(t, q, q2)
	assert.Equal(t, "orders", q2.Name())
}

func TestQueueLimit(t *testing.T) {
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.Queues = 3 })))
	for _, name := range []string{"a", "b", "c"} {
		newQueue(t, b, name, cmq.QueueAttributes{})
	}
	q, err := b.CreateQueue(t.Context(), "d", cmq.QueueAttributes{})
	assert.ErrorIs(t, err, cmq.ErrQueueLimit)
	assertCode(t, err, 4450, 10220)
	assert.Nil(t, q)
	// A taken name reports that it exists, even at the limit.
	_, err = b.CreateQueue(t.Context(), "A", cmq.QueueAttributes{})
	assert.ErrorIs(t, err, cmq.ErrQueueExists)
	_, err = b.Queue("d")
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist, "the refused queue was not created")

	require.NoError(t, b.DeleteQueue(t.Context(), "b"))
	newQueue(t, b, "d", cmq.QueueAttributes{})
	_, err = b.CreateQueue(t.Context(), "e", cmq.QueueAttributes{})
	assert.ErrorIs(t, err, cmq.ErrQueueLimit)

	_, total, err := b.ListQueues(t.Context(), cmq.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
}

func TestMissingQueue(t *testing.T) {
	b := newBroker(t)
	q, err := b.Queue("nope")
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	assertCode(t, err, 4440, 10100)
	assert.Nil(t, q)
	assert.ErrorIs(t, b.DeleteQueue(t.Context(), "nope"), cmq.ErrQueueNotExist)
	_, _, err = b.ListDeadLetterSourceQueues(t.Context(), "nope", cmq.ListOptions{})
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
}

// queueCalls calls every method of q once and returns the error of each,
// by method name. Handles are well-formed but name nothing.
func queueCalls(ctx context.Context, q *cmq.Queue) map[string]error {
	const handle = "0000000000000000000000000000000f"
	errs := map[string]error{}
	_, errs["Send"] = q.Send(ctx, "x", 0)
	_, errs["BatchSend"] = q.BatchSend(ctx, []string{"x", "y"}, 0)
	_, errs["Receive"] = q.Receive(ctx, 0)
	_, errs["ReceiveWait"] = q.Receive(ctx, time.Second)
	_, errs["BatchReceive"] = q.BatchReceive(ctx, 2, 0)
	errs["Delete"] = q.Delete(ctx, handle)
	_, errs["BatchDelete"] = q.BatchDelete(ctx, []string{handle})
	_, errs["ChangeVisibility"] = q.ChangeVisibility(ctx, handle, time.Second)
	_, errs["Attributes"] = q.Attributes(ctx)
	errs["SetAttributes"] = q.SetAttributes(ctx, cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Minute)})
	errs["Purge"] = q.Purge(ctx)
	errs["Rewind"] = q.Rewind(ctx, time.Now())
	errs["UnbindDeadLetterQueue"] = q.UnbindDeadLetterQueue(ctx)
	return errs
}

func TestDeletedQueueHandle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		old := newQueue(t, b, "jobs", cmq.QueueAttributes{})
		_, err := old.Send(t.Context(), "before", 0)
		require.NoError(t, err)

		require.NoError(t, b.DeleteQueue(t.Context(), "jobs"))
		assert.ErrorIs(t, b.DeleteQueue(t.Context(), "jobs"), cmq.ErrQueueNotExist, "second delete")
		_, err = b.Queue("jobs")
		assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
		for method, err := range queueCalls(t.Context(), old) {
			assert.ErrorIs(t, err, cmq.ErrQueueNotExist, method)
		}

		// Re-creating the name does not revive the old handle.
		fresh := newQueue(t, b, "JOBS", cmq.QueueAttributes{})
		assert.NotSame(t, old, fresh)
		for method, err := range queueCalls(t.Context(), old) {
			assert.ErrorIs(t, err, cmq.ErrQueueNotExist, method)
		}
		// The calls on the old handle touched nothing in the new queue, and
		// the old queue's message is gone.
		assert.Equal(t, counts{}, countsOf(t, fresh))
		_, err = fresh.Receive(t.Context(), 0)
		assert.ErrorIs(t, err, cmq.ErrNoMessage)
	})
}

func TestDeleteQueueWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "jobs", cmq.QueueAttributes{})
		start := time.Now()
		errc := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := q.Receive(t.Context(), 30*time.Second)
				errc <- err
			}()
		}
		time.Sleep(2 * time.Second)
		require.NoError(t, b.DeleteQueue(t.Context(), "jobs"))
		for range 2 {
			assert.ErrorIs(t, <-errc, cmq.ErrQueueNotExist)
		}
		assert.Equal(t, 2*time.Second, time.Since(start), "waiters return at once")
	})
}

func TestListQueues(t *testing.T) {
	b := newBroker(t)
	names := []string{"beta", "Alpha", "gamma-2", "ALPHA-1", "delta", "Gamma-1", "epsilon"}
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = newQueue(t, b, n, cmq.QueueAttributes{}).ID()
	}
	namesOf := func(qs []cmq.QueueSummary) []string {
		out := make([]string, len(qs))
		for i, q := range qs {
			out[i] = q.Name
			assert.Equal(t, ids[q.Name], q.ID, q.Name)
		}
		return out
	}

	tests := []struct {
		name  string
		opts  cmq.ListOptions
		want  []string
		total int
	}{
		{"all sorted ignoring case", cmq.ListOptions{}, []string{"Alpha", "ALPHA-1", "beta", "delta", "epsilon", "Gamma-1", "gamma-2"}, 7},
		{"search lower", cmq.ListOptions{Search: "alpha"}, []string{"Alpha", "ALPHA-1"}, 2},
		{"search upper", cmq.ListOptions{Search: "GAMMA"}, []string{"Gamma-1", "gamma-2"}, 2},
		{"search substring", cmq.ListOptions{Search: "LT"}, []string{"delta"}, 1},
		{"search hyphen", cmq.ListOptions{Search: "-"}, []string{"ALPHA-1", "Gamma-1", "gamma-2"}, 3},
		{"search none", cmq.ListOptions{Search: "zeta"}, []string{}, 0},
		{"offset", cmq.ListOptions{Offset: 5}, []string{"Gamma-1", "gamma-2"}, 7},
		{"offset and limit", cmq.ListOptions{Offset: 1, Limit: 2}, []string{"ALPHA-1", "beta"}, 7},
		{"search offset limit", cmq.ListOptions{Search: "a", Offset: 1, Limit: 3}, []string{"ALPHA-1", "beta", "delta"}, 6},
		{"offset at end", cmq.ListOptions{Offset: 7}, []string{}, 7},
		{"offset past end", cmq.ListOptions{Offset: 1000}, []string{}, 7},
		{"huge offset", cmq.ListOptions{Offset: math.MaxInt, Limit: 50}, []string{}, 7},
		{"limit 1", cmq.ListOptions{Limit: 1}, []string{"Alpha"}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs, total, err := b.ListQueues(t.Context(), tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, namesOf(qs))
			assert.Equal(t, tt.total, total)
		})
	}
}

func TestListQueuesLimits(t *testing.T) {
	b := newBroker(t)
	for i := range 60 {
		newQueue(t, b, fmt.Sprintf("q%02d", i), cmq.QueueAttributes{})
	}
	tests := []struct {
		name      string
		opts      cmq.ListOptions
		wantN     int
		wantFirst string
		wantErr   error
	}{
		{"default limit 20", cmq.ListOptions{}, 20, "q00", nil},
		{"limit 50", cmq.ListOptions{Limit: 50}, 50, "q00", nil},
		{"limit 51", cmq.ListOptions{Limit: 51}, 0, "", cmq.ErrOutOfRange},
		{"limit -1", cmq.ListOptions{Limit: -1}, 0, "", cmq.ErrOutOfRange},
		{"offset -1", cmq.ListOptions{Offset: -1}, 0, "", cmq.ErrOutOfRange},
		{"default limit from offset", cmq.ListOptions{Offset: 45}, 15, "q45", nil},
		{"last page", cmq.ListOptions{Offset: 50, Limit: 50}, 10, "q50", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs, total, err := b.ListQueues(t.Context(), tt.opts)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assertCode(t, err, 4000, 10350)
				assert.Nil(t, qs)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 60, total)
			require.Len(t, qs, tt.wantN)
			assert.Equal(t, tt.wantFirst, qs[0].Name)
			for i := 1; i < len(qs); i++ {
				assert.Less(t, qs[i-1].Name, qs[i].Name)
			}
		})
	}
}

func TestListQueuesLimitFromLimits(t *testing.T) {
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
		l.ListLimit = cmq.Range[int]{Min: 1, Max: 4, Default: 2}
	})))
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		newQueue(t, b, n, cmq.QueueAttributes{})
	}
	qs, total, err := b.ListQueues(t.Context(), cmq.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, qs, 2)
	assert.Equal(t, 5, total)
	_, _, err = b.ListQueues(t.Context(), cmq.ListOptions{Limit: 5})
	assert.ErrorIs(t, err, cmq.ErrOutOfRange)
}

// --- Close. ---

func TestCloseWakesEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q1 := newQueue(t, b, "one", cmq.QueueAttributes{PollingWait: cmq.Ptr(20 * time.Second)})
		q2 := newQueue(t, b, "two", cmq.QueueAttributes{})
		// A delayed message arms the queue's wake-up timer.
		_, err := q2.Send(t.Context(), "later", time.Hour)
		require.NoError(t, err)

		type result struct {
			name string
			err  error
		}
		results := make(chan result, 6)
		var wg sync.WaitGroup
		start := func(name string, f func() error) {
			wg.Go(func() { results <- result{name, f()} })
		}
		start("q1 receive", func() error { _, err := q1.Receive(t.Context(), 30*time.Second); return err })
		start("q1 queue wait", func() error { _, err := q1.Receive(t.Context(), cmq.QueueWait); return err })
		start("q1 batch", func() error { _, err := q1.BatchReceive(t.Context(), 5, 30*time.Second); return err })
		start("q2 receive", func() error { _, err := q2.Receive(t.Context(), 30*time.Second); return err })
		start("q2 batch", func() error { _, err := q2.BatchReceive(t.Context(), 16, 30*time.Second); return err })
		start("q2 receive 2", func() error { _, err := q2.Receive(t.Context(), 10*time.Second); return err })

		time.Sleep(time.Second)
		synctest.Wait()
		require.Empty(t, results, "every receive is still waiting")
		closedAt := time.Now()
		require.NoError(t, b.Close())
		wg.Wait()
		close(results)
		n := 0
		for r := range results {
			assert.ErrorIs(t, r.err, cmq.ErrClosed, r.name)
			assertCode(t, r.err, 6000, 10051)
			n++
		}
		assert.Equal(t, 6, n)
		assertTime(t, closedAt, time.Now(), "no fake time passes")
	})
}

func TestCloseIdempotentAndFinal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "jobs", cmq.QueueAttributes{})
		newQueue(t, b, "dlq", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "x", 0)
		require.NoError(t, err)

		require.NoError(t, b.Close())
		require.NoError(t, b.Close(), "second Close")

		_, err = b.CreateQueue(t.Context(), "new", cmq.QueueAttributes{})
		assert.ErrorIs(t, err, cmq.ErrClosed, "CreateQueue")
		_, err = b.Queue("jobs")
		assert.ErrorIs(t, err, cmq.ErrClosed, "Queue")
		assert.ErrorIs(t, b.DeleteQueue(t.Context(), "jobs"), cmq.ErrClosed, "DeleteQueue")
		_, _, err = b.ListQueues(t.Context(), cmq.ListOptions{})
		assert.ErrorIs(t, err, cmq.ErrClosed, "ListQueues")
		_, _, err = b.ListDeadLetterSourceQueues(t.Context(), "dlq", cmq.ListOptions{})
		assert.ErrorIs(t, err, cmq.ErrClosed, "ListDeadLetterSourceQueues")
		_, _, err = b.ListDeadLetterSourceQueues(t.Context(), "1bad", cmq.ListOptions{})
		assert.ErrorIs(t, err, cmq.ErrClosed, "ListDeadLetterSourceQueues with a bad name: closed first")

		start := time.Now()
		for method, err := range queueCalls(t.Context(), q) {
			assert.ErrorIs(t, err, cmq.ErrClosed, method)
		}
		assertTime(t, start, time.Now(), "no call waits on a closed broker")
		require.NoError(t, b.Close(), "third Close")
	})
}

func TestCloseDuringWaitWithCancelledContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "jobs", cmq.QueueAttributes{})
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, err := q.Receive(ctx, 30*time.Second)
			errc <- err
		}()
		synctest.Wait()
		require.NoError(t, b.Close())
		cancel()
		err := <-errc
		assert.ErrorIs(t, err, cmq.ErrClosed, "Close came first")
		assert.False(t, errors.Is(err, context.Canceled))
	})
}

// A nil option is ignored rather than called.
func TestNewBrokerNilOption(t *testing.T) {
	b, err := cmq.NewBroker(nil, cmq.WithLogger(nil), nil)
	require.NoError(t, err)
	require.NoError(t, b.Close())
}
