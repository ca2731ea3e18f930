package cmq

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The timers that exist while receives wait are stopped when the queue is
// shut: the visibility timer of a queue, and the source timer of a
// dead-letter queue.
func TestTimersStopWhenShut(t *testing.T) {
	for _, shut := range []string{"Close", "DeleteQueue"} {
		t.Run(shut, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, err := NewBroker()
				require.NoError(t, err)
				defer b.Close()
				dlq, err := b.CreateQueue(t.Context(), "dlq", QueueAttributes{})
				require.NoError(t, err)
				src, err := b.CreateQueue(t.Context(), "src", QueueAttributes{DeadLetterPolicy: &DeadLetterPolicy{
					DeadLetterQueue: "dlq", Kind: DeadLetterOnTimeToLive, MaxTimeToLive: 5 * time.Minute,
				}})
				require.NoError(t, err)
				_, err = src.Send(t.Context(), "m", 0)
				require.NoError(t, err)
				_, err = dlq.Send(t.Context(), "later", time.Hour)
				require.NoError(t, err)
				done := make(chan error, 1)
				go func() {
					_, err := dlq.Receive(t.Context(), 20*time.Second)
					done <- err
				}()
				synctest.Wait()
				dlq.mu.Lock()
				require.NotZero(t, dlq.timerAt, "visibility timer armed")
				require.Equal(t, int64(5*time.Minute)+src.log.first().enqueued, dlq.srcDue.Load(), "source timer armed")
				dlq.mu.Unlock()

				if shut == "Close" {
					require.NoError(t, b.Close())
				} else {
					require.NoError(t, src.UnbindDeadLetterQueue(t.Context()))
					require.NoError(t, b.DeleteQueue(t.Context(), "dlq"))
				}
				require.Error(t, <-done)
				dlq.mu.Lock()
				defer dlq.mu.Unlock()
				assert.Zero(t, dlq.timerAt)
				assert.Zero(t, dlq.srcDue.Load())
				assert.False(t, dlq.timer.Stop(), "the visibility timer was still running")
				assert.False(t, dlq.srcTimer.Stop(), "the source timer was still running")
			})
		})
	}
}

// deadLetterPair makes a broker whose dead-letter queue "dlq" serves "src"
// with a time-to-live of 10 s, and long polls of up to an hour.
func deadLetterPair(t *testing.T) (b *Broker, src, dlq *Queue) {
	t.Helper()
	lim := DefaultLimits()
	lim.MaxTimeToLive.Min = time.Second
	lim.PollingWait.Max = time.Hour
	b, err := NewBroker(WithLimits(lim))
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	dlq, err = b.CreateQueue(t.Context(), "dlq", QueueAttributes{})
	require.NoError(t, err)
	src, err = b.CreateQueue(t.Context(), "src", QueueAttributes{DeadLetterPolicy: &DeadLetterPolicy{
		DeadLetterQueue: "dlq", Kind: DeadLetterOnTimeToLive, MaxTimeToLive: 10 * time.Second,
	}})
	require.NoError(t, err)
	return b, src, dlq
}

type pollResult struct {
	body string
	err  error
	at   time.Time
}

// poll is the part of a receive on q after its pull from the sources
// (which returned due), run in a goroutine.
func poll(t *testing.T, q *Queue, due int64, wait time.Duration) <-chan pollResult {
	c := make(chan pollResult, 1)
	go func() {
		now, err := q.lockHeld()
		require.NoError(t, err)
		var out []Message
		var tk takenSet
		if out = q.take(now, 1, nil, &tk); len(out) == 0 {
			out, err = q.longPoll(t.Context(), now, due, 1, wait, nil, &tk)
		}
		q.unlock()
		r := pollResult{err: err, at: time.Now()}
		if len(out) > 0 {
			r.body = out[0].Body
		}
		c <- r
	}()
	return c
}

// A send to a source between a receive's pull and its long poll is not
// missed: the source's hint reaches the waiter.
func TestSourceMoveBetweenPullAndPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, src, dlq := deadLetterPair(t)
		t0 := time.Now()
		due := dlq.pullSources(true)            // the receive's pull: nothing to move
		_, err := src.Send(t.Context(), "m", 0) // nobody waits on dlq yet
		require.NoError(t, err)
		r := <-poll(t, dlq, due, time.Hour)
		require.NoError(t, r.err)
		assert.Equal(t, "m", r.body)
		assert.Equal(t, t0.Add(10*time.Second), r.at)
	})
}

// A send to a source while the source timer's callback runs, between its
// pull and its re-arming, is not missed.
func TestSourceMoveDuringTimerCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, src, dlq := deadLetterPair(t)
		t0 := time.Now()
		_, err := src.Send(t.Context(), "m1", 0)
		require.NoError(t, err)
		w1 := poll(t, dlq, dlq.pullSources(true), time.Hour)
		synctest.Wait()
		w2 := poll(t, dlq, dlq.pullSources(true), time.Hour)
		synctest.Wait()
		dlq.mu.Lock()
		require.True(t, dlq.srcTimer.Stop(), "the test plays the timer")
		dlq.mu.Unlock()
		time.Sleep(10 * time.Second)
		// sourceTimerFired, with a send after its pull.
		dlq.srcHint.Store(maxTime)
		due := dlq.pullSources(true) // m1 moves and wakes the first waiter
		_, err = src.Send(t.Context(), "m2", 0)
		require.NoError(t, err)
		dlq.rearmSources(due)
		r1, r2 := <-w1, <-w2
		assert.Equal(t, "m1", r1.body)
		assert.Equal(t, t0.Add(10*time.Second), r1.at)
		assert.Equal(t, "m2", r2.body)
		assert.Equal(t, t0.Add(20*time.Second), r2.at)
	})
}

// The source timer goes on while a woken receive is still polling, even
// if no receive is listed as waiting at that moment (its message was taken
// by another receive first).
func TestSourceTimerWhileWokenReceivePolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, src, dlq := deadLetterPair(t)
		t0 := time.Now()
		_, err := src.Send(t.Context(), "m1", 0) // moves at t0+10s
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		_, err = src.Send(t.Context(), "m2", 0) // moves at t0+15s
		require.NoError(t, err)
		w := poll(t, dlq, dlq.pullSources(true), time.Hour)
		synctest.Wait()
		dlq.mu.Lock()
		require.True(t, dlq.srcTimer.Stop(), "the test plays the timer")
		dlq.mu.Unlock()
		time.Sleep(5 * time.Second)
		dlq.srcHint.Store(maxTime)
		due := dlq.pullSources(true) // m1 moves and wakes the waiter
		dlq.mu.Lock()
		require.Zero(t, dlq.waiters.n, "the waiter is woken, not listed")
		var tk takenSet
		stolen := dlq.take(dlq.horizon, 1, nil, &tk) // another receive gets m1 first
		require.Len(t, stolen, 1)
		dlq.unlock()
		dlq.rearmSources(due)
		r := <-w
		assert.Equal(t, "m2", r.body)
		assert.Equal(t, t0.Add(15*time.Second), r.at)
	})
}
