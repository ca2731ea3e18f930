package cmq_test

import (
	"errors"
	"fmt"
	"github.com/opencmq/cmq/internal/bubble"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func resourceBroker(t *testing.T) *cmq.Broker {
	l := cmq.DefaultLimits()
	l.MsgHeapNum.Min = 1
	l.QPS = 0
	b, err := cmq.NewBroker(cmq.WithLimits(l))
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// TestResourcesHeapFullRefuses fills a queue to its MaxMsgHeapNum and keeps
// sending: every send is refused, the count stays at the cap, and the heap
// does not grow.
func TestResourcesHeapFullRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const capacity = 1000
		b := resourceBroker(t)
		q, err := b.CreateQueue(t.Context(), "full", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(capacity)})
		require.NoError(t, err)
		body := strings.Repeat("x", 100)
		batch := make([]string, 16)
		for i := range batch {
			batch[i] = body
		}
		for range capacity / 10 {
			_, err := q.BatchSend(t.Context(), batch[:10], 0)
			require.NoError(t, err)
		}
		before := heapAlloc()
		refused := 0
		for i := range 20_000 {
			_, err := q.Send(t.Context(), fmt.Sprintf("%s%d", body, i), 0)
			if errors.Is(err, cmq.ErrHeapFull) {
				refused++
			}
			_, err = q.BatchSend(t.Context(), batch, time.Duration(i%5)*time.Second)
			if errors.Is(err, cmq.ErrHeapFull) {
				refused++
			}
		}
		after := heapAlloc()
		assert.Equal(t, 40_000, refused)
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, capacity, info.ActiveMsgNum)
		assert.Equal(t, 0, info.DelayMsgNum)
		growth := int64(after) - int64(before)
		t.Logf("heap before %d, after 40,000 refused sends %d (growth %d bytes)", before, after, growth)
		assert.Less(t, growth, int64(256<<10), "a full queue refusing sends grew the heap")
	})
}

// TestResourcesMemoryFollowsRetained runs many messages through a queue
// (send, receive, delete) while one old message stays in flight, never
// deleted, and checks that the queue's memory follows the number of
// messages it retains, not the number that passed through it.
func TestResourcesMemoryFollowsRetained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const passes = 200_000
		b := resourceBroker(t)
		q, err := b.CreateQueue(t.Context(), "busy", cmq.QueueAttributes{
			VisibilityTimeout: cmq.Ptr(12 * time.Hour),
			MaxMsgHeapNum:     cmq.Ptr(1000),
		})
		require.NoError(t, err)
		ctx := t.Context()
		_, err = q.Send(ctx, "stuck", 0)
		require.NoError(t, err)
		stuck, err := q.Receive(ctx, 0)
		require.NoError(t, err)

		batch := make([]string, 16)
		for i := range batch {
			batch[i] = "m"
		}
		handles := make([]string, 16)
		cycle := func() {
			_, err := q.BatchSend(ctx, batch, 0)
			require.NoError(t, err)
			ms, err := q.BatchReceive(ctx, 16, 0)
			require.NoError(t, err)
			require.Len(t, ms, 16)
			for i, m := range ms {
				handles[i] = m.ReceiptHandle
			}
			_, err = q.BatchDelete(ctx, handles)
			require.NoError(t, err)
		}
		for range 1000 / 16 { // warm up: reach the steady state's size
			cycle()
		}
		before := heapAlloc()
		for range passes / 16 {
			cycle()
		}
		after := heapAlloc()
		growth := int64(after) - int64(before)
		t.Logf("heap before %d, after %d messages passed %d (growth %d bytes)", before, passes, after, growth)
		assert.Less(t, growth, int64(512<<10), "memory grew with messages that passed through, not with messages retained")

		info, err := q.Attributes(ctx)
		require.NoError(t, err)
		assert.Equal(t, []int{0, 1, 0}, []int{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum})
		assert.NoError(t, q.Delete(ctx, stuck.ReceiptHandle), "the old message's handle still works")
	})
}

// TestResourcesNoGoroutineAfterClose starts long polls on several queues,
// arms visibility and delay timers, then closes the broker: every waiter
// returns ErrClosed, and no goroutine is left, even after every timer the
// broker ever set would have fired. synctest.Test itself fails if a
// goroutine of the bubble is still blocked when the test returns.
func TestResourcesNoGoroutineAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		baseline := bubble.Goroutines()
		b := resourceBroker(t)
		var wg sync.WaitGroup
		var closed atomic.Int32
		for i := range 4 {
			q, err := b.CreateQueue(t.Context(), fmt.Sprintf("q%d", i), cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(5 * time.Second)})
			require.NoError(t, err)
			_, err = q.Send(t.Context(), "delayed", time.Duration(i+1)*time.Minute) // arms the queue's timer once a receive waits
			require.NoError(t, err)
			for range 25 {
				wg.Go(func() {
					_, err := q.Receive(t.Context(), 30*time.Second)
					if assert.ErrorIs(t, err, cmq.ErrClosed) {
						closed.Add(1)
					}
				})
				wg.Go(func() {
					_, err := q.BatchReceive(t.Context(), 4, cmq.QueueWait)
					assert.ErrorIs(t, err, cmq.ErrNoMessage) // PollingWait 0: returns at once
				})
			}
		}
		synctest.Wait()
		assert.Equal(t, baseline+100, bubble.Goroutines(), "100 long polls parked")
		start := time.Now()
		require.NoError(t, b.Close())
		wg.Wait()
		assert.Equal(t, time.Duration(0), time.Since(start), "Close released the waiters at once")
		assert.Equal(t, int32(100), closed.Load())
		synctest.Wait()
		assert.Equal(t, baseline, bubble.Goroutines(), "goroutines left after Close")
		time.Sleep(time.Hour) // every timer set would have fired by now
		synctest.Wait()
		assert.Equal(t, baseline, bubble.Goroutines(), "goroutines left after the timers' times")
	})
}

// TestResourcesNoGoroutineAfterDeleteQueue is the same for DeleteQueue:
// its waiters return ErrQueueNotExist and nothing is left.
func TestResourcesNoGoroutineAfterDeleteQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		baseline := bubble.Goroutines()
		b := resourceBroker(t)
		q, err := b.CreateQueue(t.Context(), "gone", cmq.QueueAttributes{})
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "delayed", time.Minute)
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				_, err := q.Receive(t.Context(), 30*time.Second)
				assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
			})
		}
		synctest.Wait()
		start := time.Now()
		require.NoError(t, b.DeleteQueue(t.Context(), "gone"))
		wg.Wait()
		assert.Equal(t, time.Duration(0), time.Since(start), "DeleteQueue released the waiters at once")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, baseline, bubble.Goroutines())
	})
}

// TestResourcesWakeOnePerMessage parks 10,000 long polls on one queue and
// checks that each message made visible (sent, sent in a batch, a delay
// ending, a visibility timeout ending, ChangeVisibility to 0) releases
// exactly one of them, and that Close releases the rest.
func TestResourcesWakeOnePerMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const receivers = 10_000
		b := resourceBroker(t)
		q, err := b.CreateQueue(t.Context(), "crowd", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(10 * time.Second)})
		require.NoError(t, err)
		var (
			mu     sync.Mutex
			got    []cmq.Message
			closed atomic.Int32
			wg     sync.WaitGroup
		)
		for range receivers {
			wg.Go(func() {
				m, err := q.Receive(t.Context(), 30*time.Second)
				if err == nil {
					mu.Lock()
					got = append(got, m)
					mu.Unlock()
					return
				}
				if assert.ErrorIs(t, err, cmq.ErrClosed) {
					closed.Add(1)
				}
			})
		}
		synctest.Wait()
		returned := func() int {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			return len(got)
		}
		require.Equal(t, 0, returned())

		for i := range 3 { // single sends
			_, err := q.Send(t.Context(), fmt.Sprintf("single %d", i), 0)
			require.NoError(t, err)
		}
		assert.Equal(t, 3, returned(), "after 3 sends")

		_, err = q.BatchSend(t.Context(), []string{"b0", "b1", "b2", "b3", "b4"}, 0) // a batch
		require.NoError(t, err)
		assert.Equal(t, 8, returned(), "after a batch of 5")

		_, err = q.BatchSend(t.Context(), []string{"d0", "d1"}, 2*time.Second) // delays ending
		require.NoError(t, err)
		assert.Equal(t, 8, returned(), "delayed messages are not visible yet")
		time.Sleep(2 * time.Second)
		assert.Equal(t, 10, returned(), "after 2 delays ended")

		mu.Lock()
		first := got[0]
		mu.Unlock()
		_, err = q.ChangeVisibility(t.Context(), first.ReceiptHandle, 0) // visible again at once
		require.NoError(t, err)
		assert.Equal(t, 11, returned(), "after ChangeVisibility to 0")

		time.Sleep(10 * time.Second) // every lease ends (7 at 10 s, 3 at 12 s): 10 more
		assert.Equal(t, 21, returned(), "after the visibility timeouts ended")

		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []int{0, 10, 0}, []int{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum})

		start := time.Now()
		require.NoError(t, b.Close())
		wg.Wait()
		assert.Equal(t, time.Duration(0), time.Since(start), "Close released the waiters at once")
		assert.Equal(t, int32(receivers-21), closed.Load(), "released by Close")
		seen := map[string]int{}
		for _, m := range got {
			seen[m.ID]++
		}
		assert.Len(t, seen, 10, "distinct messages received")
	})
}
