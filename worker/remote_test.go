package worker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqtest"
	"github.com/opencmq/cmq/worker"
)

// Through the remote client, against a real server on a loopback port: no
// ServiceExtensions, so a failed message comes back after its visibility
// timeout, and handlers get a deadline. Real time (sockets cannot run in
// a synctest bubble); the test waits for events, bounded.
func TestRunOverTheWire(t *testing.T) {
	srv := cmqtest.NewServer(t)
	_, isExt := any(srv.Client).(cmq.ServiceExtensions)
	require.False(t, isExt, "the remote client has no ChangeMessageVisibility")
	ctx := t.Context()
	_, err := srv.Client.CreateQueue(ctx, "jobs", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
	require.NoError(t, err)
	bodies := bodies(20)
	_, err = srv.Client.BatchSendMessage(ctx, "jobs", bodies[:16], 0)
	require.NoError(t, err)
	_, err = srv.Client.BatchSendMessage(ctx, "jobs", bodies[16:], 0)
	require.NoError(t, err)

	var mu sync.Mutex
	seen := map[string]int{}
	var deadlines []time.Duration
	all, closed := make(chan struct{}), false
	h := func(ctx context.Context, m cmq.Message) error {
		d, ok := ctx.Deadline()
		mu.Lock()
		defer mu.Unlock()
		if ok {
			deadlines = append(deadlines, time.Until(d))
		}
		seen[m.Body]++
		if m.Body == "job-03" && seen[m.Body] == 1 {
			return errors.New("try again")
		}
		if len(seen) == len(bodies) && seen["job-03"] == 2 && !closed {
			closed = true
			close(all)
		}
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	var errs []error
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(rctx, srv.Client, "jobs", h, worker.Options{
			Concurrency: 4, PollWait: time.Second, RetryDelay: time.Millisecond, // ignored over the wire
			OnError: func(m *cmq.Message, err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
		})
	}()
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatal("not every job was handled")
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bodies {
		want := 1
		if b == "job-03" {
			want = 2
		}
		assert.Equal(t, want, seen[b], b)
	}
	require.Len(t, errs, 1)
	assert.EqualError(t, errs[0], "try again")
	require.Len(t, deadlines, len(bodies)+1)
	for _, d := range deadlines {
		assert.LessOrEqual(t, d, 800*time.Millisecond, "visibility timeout minus a fifth")
	}
	q, err := srv.Broker.Queue("jobs")
	require.NoError(t, err)
	s, err := q.Stats()
	require.NoError(t, err)
	assert.Equal(t, 0, s.Active+s.Inactive, "every job deleted")
	assert.EqualValues(t, len(bodies), s.Deleted)
}
