package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/worker"
)

// Every test runs inside a synctest bubble: time is virtual, and
// synctest.Wait lets every goroutine of the worker block before checking.

// fixture is a broker with the queue "jobs" and a worker's inputs.
type fixture struct {
	b   *cmq.Broker
	q   *cmq.Queue
	svc cmq.Service

	mu     sync.Mutex
	errs   []error
	errMsg []string // body of the message each error concerns ("" for none)
}

func newFixture(t *testing.T, vt time.Duration, bodies ...string) *fixture {
	t.Helper()
	b, err := cmq.NewBroker()
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	q, err := b.CreateQueue(t.Context(), "jobs", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(vt)})
	require.NoError(t, err)
	f := &fixture{b: b, q: q, svc: b.Service()}
	f.send(t, bodies...)
	return f
}

func (f *fixture) send(t *testing.T, bodies ...string) {
	t.Helper()
	for _, body := range bodies {
		_, err := f.q.Send(t.Context(), body, 0)
		require.NoError(t, err)
	}
}

func (f *fixture) onError(m *cmq.Message, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
	body := ""
	if m != nil {
		body = m.Body
	}
	f.errMsg = append(f.errMsg, body)
}

func (f *fixture) errors() ([]error, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...), append([]string(nil), f.errMsg...)
}

// counts returns the queue's active, inactive and delayed counts.
func (f *fixture) counts(t *testing.T) [3]int {
	t.Helper()
	info, err := f.q.Attributes(t.Context())
	require.NoError(t, err)
	return [3]int{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum}
}

// start runs the worker until the returned stop is called; stop returns
// Run's error and how long Run took to return after the cancel.
func (f *fixture) start(t *testing.T, svc cmq.Service, h worker.Handler, o worker.Options) (stop func() (error, time.Duration)) {
	t.Helper()
	if o.OnError == nil {
		o.OnError = f.onError
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, svc, "jobs", h, o) }()
	return func() (error, time.Duration) {
		cancel()
		start := time.Now()
		err := <-done
		return err, time.Since(start)
	}
}

// recorder is a handler that counts each body's deliveries.
type recorder struct {
	mu    sync.Mutex
	seen  map[string]int
	max   int // most handlers seen running at once
	now   int
	delay time.Duration
}

func (r *recorder) handle(ctx context.Context, m cmq.Message) error {
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[string]int{}
	}
	r.seen[m.Body]++
	r.now++
	r.max = max(r.max, r.now)
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.now--; r.mu.Unlock() }()
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	return nil
}

func bodies(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("job-%02d", i)
	}
	return out
}

func TestRunHandlesEveryMessageOnceAndDeletes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		concurrency int
		messages    int
	}{
		{"one handler", 0, 5},
		{"four handlers", 4, 40},
		{"more handlers than messages", 32, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, 30*time.Second, bodies(tc.messages)...)
				r := &recorder{delay: 100 * time.Millisecond}
				stop := f.start(t, f.svc, r.handle, worker.Options{Concurrency: tc.concurrency})
				time.Sleep(10 * time.Second)
				synctest.Wait()
				assert.Equal(t, [3]int{}, f.counts(t), "every message deleted")
				err, _ := stop()
				require.NoError(t, err)
				assert.Len(t, r.seen, tc.messages)
				for body, n := range r.seen {
					assert.Equal(t, 1, n, body)
				}
				assert.Equal(t, min(max(tc.concurrency, 1), tc.messages), r.max, "handlers at once")
				errs, _ := f.errors()
				assert.Empty(t, errs)
			})
		})
	}
}

// countingService counts the delete calls the worker makes.
type countingService struct {
	cmq.Service
	deletes, batchDeletes, batchHandles atomic.Int64
}

func (s *countingService) DeleteMessage(ctx context.Context, queue, h string) error {
	s.deletes.Add(1)
	return s.Service.DeleteMessage(ctx, queue, h)
}

func (s *countingService) BatchDeleteMessage(ctx context.Context, queue string, hs []string) ([]error, error) {
	s.batchDeletes.Add(1)
	s.batchHandles.Add(int64(len(hs)))
	return s.Service.BatchDeleteMessage(ctx, queue, hs)
}

func TestRunDeletesInBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 30*time.Second, bodies(64)...)
		svc := &countingService{Service: f.svc}
		release := make(chan struct{})
		var started atomic.Int64
		h := func(ctx context.Context, m cmq.Message) error {
			started.Add(1)
			<-release
			return nil
		}
		stop := f.start(t, svc, h, worker.Options{Concurrency: 16})
		synctest.Wait()
		require.EqualValues(t, 16, started.Load())
		close(release) // 16 finish at once, then every later batch
		synctest.Wait()
		assert.Equal(t, [3]int{}, f.counts(t))
		err, _ := stop()
		require.NoError(t, err)
		calls := svc.deletes.Load() + svc.batchDeletes.Load()
		assert.EqualValues(t, 64, svc.deletes.Load()+svc.batchHandles.Load(), "every message deleted once")
		assert.Less(t, calls, int64(64), "deletes were batched")
	})
}

func TestRunFailedMessageComesBack(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryDelay time.Duration
		wire       bool // hide the extensions: no ChangeMessageVisibility
		wantAfter  time.Duration
	}{
		{"after the visibility timeout", 0, false, 30 * time.Second},
		{"after the retry delay", 2 * time.Second, false, 2 * time.Second},
		{"over the wire the retry delay is ignored", 2 * time.Second, true, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, 30*time.Second, "flaky")
				var svc cmq.Service = f.svc
				if tc.wire {
					svc = struct{ cmq.Service }{f.svc}
				}
				var mu sync.Mutex
				var at []time.Duration
				start := time.Now()
				h := func(ctx context.Context, m cmq.Message) error {
					mu.Lock()
					defer mu.Unlock()
					at = append(at, time.Since(start))
					if len(at) == 1 {
						return errors.New("boom")
					}
					return nil
				}
				stop := f.start(t, svc, h, worker.Options{RetryDelay: tc.retryDelay, PollWait: 5 * time.Second})
				time.Sleep(time.Minute)
				synctest.Wait()
				err, _ := stop()
				require.NoError(t, err)
				require.Len(t, at, 2)
				assert.Equal(t, tc.wantAfter, at[1]-at[0], "redelivered after")
				assert.Equal(t, [3]int{}, f.counts(t))
				errs, msgs := f.errors()
				require.Len(t, errs, 1)
				assert.EqualError(t, errs[0], "boom")
				assert.Equal(t, []string{"flaky"}, msgs)
			})
		})
	}
}

func TestRunRecoversPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 30*time.Second, "ok-1", "panic", "ok-2")
		r := &recorder{}
		h := func(ctx context.Context, m cmq.Message) error {
			if m.Body == "panic" && m.DequeueCount == 1 {
				panic("handler bug")
			}
			return r.handle(ctx, m)
		}
		stop := f.start(t, f.svc, h, worker.Options{Concurrency: 2, RetryDelay: time.Second})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		err, _ := stop()
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"ok-1": 1, "panic": 1, "ok-2": 1}, r.seen, "the loop survived; the message came back")
		errs, msgs := f.errors()
		require.Len(t, errs, 1)
		var p *worker.PanicError
		require.ErrorAs(t, errs[0], &p)
		assert.Equal(t, "handler bug", p.Value)
		assert.Contains(t, string(p.Stack), "worker_test")
		assert.Equal(t, []string{"panic"}, msgs)
		assert.Equal(t, [3]int{}, f.counts(t))
	})
}

func TestRunExtendsLeaseOfSlowHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 2*time.Second, "slow")
		r := &recorder{delay: 11 * time.Second} // five visibility timeouts
		stop := f.start(t, f.svc, r.handle, worker.Options{Concurrency: 4})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		assert.Equal(t, [3]int{0, 1, 0}, f.counts(t), "still leased")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		err, _ := stop()
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"slow": 1}, r.seen, "never delivered twice")
		assert.Equal(t, [3]int{}, f.counts(t))
		errs, _ := f.errors()
		assert.Empty(t, errs)
	})
}

func TestRunOverTheWireHandlerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 10*time.Second, "slow")
		svc := struct{ cmq.Service }{f.svc} // no ServiceExtensions
		var mu sync.Mutex
		var left []time.Duration
		h := func(ctx context.Context, m cmq.Message) error {
			d, ok := ctx.Deadline()
			require.True(t, ok, "a deadline over the wire")
			mu.Lock()
			left = append(left, time.Until(d))
			mu.Unlock()
			<-ctx.Done() // hangs until its deadline
			return ctx.Err()
		}
		stop := f.start(t, svc, h, worker.Options{LeaseMargin: time.Second})
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		require.Len(t, left, 1)
		assert.Equal(t, 9*time.Second, left[0], "visibility timeout minus margin")
		mu.Unlock()
		time.Sleep(10 * time.Second) // deadline passed, then the timeout: delivered again
		synctest.Wait()
		err, _ := stop()
		require.NoError(t, err)
		mu.Lock()
		assert.Len(t, left, 2)
		mu.Unlock()
		errs, _ := f.errors()
		require.NotEmpty(t, errs)
		assert.ErrorIs(t, errs[0], context.DeadlineExceeded)
	})
}

func TestRunStopLetsHandlersFinish(t *testing.T) {
	for _, tc := range []struct {
		name       string
		work       time.Duration // handler time, from the stop
		grace      time.Duration
		wantReturn time.Duration // Run returns after the stop
		wantCounts [3]int        // active, inactive, delayed after Run
	}{
		{"finishes within the grace period: deleted", 3 * time.Second, 5 * time.Second, 3 * time.Second, [3]int{}},
		{"hangs past the grace period: visible again at once", time.Hour, 5 * time.Second, 5 * time.Second, [3]int{1, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, 30*time.Second, "job")
				h := func(ctx context.Context, m cmq.Message) error {
					select {
					case <-time.After(tc.work):
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				stop := f.start(t, f.svc, h, worker.Options{GracePeriod: tc.grace})
				synctest.Wait()
				assert.Equal(t, [3]int{0, 1, 0}, f.counts(t), "handler running")
				err, took := stop()
				require.NoError(t, err)
				assert.Equal(t, tc.wantReturn, took)
				assert.Equal(t, tc.wantCounts, f.counts(t))
				f.send(t, "after the stop")
				synctest.Wait()
				assert.Equal(t, tc.wantCounts[0]+1, f.counts(t)[0], "nothing receives after Run returned")
			})
		})
	}
}

func TestRunReturnsWhenQueueCannotBeConsumed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 30*time.Second)
		h := func(context.Context, cmq.Message) error { return nil }
		err := worker.Run(t.Context(), f.svc, "missing", h, worker.Options{})
		assert.ErrorIs(t, err, cmq.ErrQueueNotExist)

		done := make(chan error, 1)
		go func() { done <- worker.Run(t.Context(), f.svc, "jobs", h, worker.Options{}) }()
		synctest.Wait()
		require.NoError(t, f.b.DeleteQueue(t.Context(), "jobs"))
		assert.ErrorIs(t, <-done, cmq.ErrQueueNotExist)

		assert.Error(t, worker.Run(t.Context(), f.svc, "jobs", nil, worker.Options{}), "nil handler")
		assert.Error(t, worker.Run(t.Context(), f.svc, "jobs", h, worker.Options{Concurrency: -1}), "negative option")
	})
}
