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
				dlq, err := b.CreateQueue("dlq", QueueAttributes{})
				require.NoError(t, err)
				src, err := b.CreateQueue("src", QueueAttributes{DeadLetterPolicy: &DeadLetterPolicy{
					DeadLetterQueue: "dlq", Kind: DeadLetterOnTimeToLive, MaxTimeToLive: 5 * time.Minute,
				}})
				require.NoError(t, err)
				_, err = src.Send("m", 0)
				require.NoError(t, err)
				_, err = dlq.Send("later", time.Hour)
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
					require.NoError(t, src.UnbindDeadLetterQueue())
					require.NoError(t, b.DeleteQueue("dlq"))
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
