// Package worker runs a consumer on a CMQ queue: a pool of handlers fed by
// batch long polls, messages deleted (in batches) when their handler
// succeeds, leases extended for slow handlers, failures left to come back,
// panics recovered, and a graceful stop.
//
// It works on any [cmq.Service]: the in-process broker's
// ([cmq.Broker.Service]) or a remote client's. What differs is the lease:
//
//   - When the Service implements [cmq.ServiceExtensions] (in-process), a
//     running handler's message has its visibility timeout renewed before
//     it ends, for as long as the handler runs, so a slow handler keeps its
//     message. A failed message can be made visible again after
//     [Options].RetryDelay rather than the whole visibility timeout, and a
//     message whose handler was cut off at shutdown is made visible at once.
//   - Over the wire CMQ's API has no ChangeMessageVisibility. The handler's
//     context then has a deadline: the visibility timeout, counted from
//     just before the receive, minus [Options].LeaseMargin. A handler that
//     runs past it may see its message delivered again to another consumer
//     (at-least-once delivery), and its delete fails. Handlers should be
//     idempotent in any case: CMQ delivers at least once.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/opencmq/cmq"
)

// Handler processes one message. Returning nil deletes the message; an
// error leaves it to be received again. ctx is cancelled when the grace
// period of a stop ends and, over the wire, at the message's lease
// deadline (see the package documentation).
type Handler func(ctx context.Context, m cmq.Message) error

// Options configure [Run]. The zero Options run one handler at a time,
// long-polling for the queue's PollingWait, with the queue's visibility
// timeout, leaving failed messages for their visibility timeout, logging
// errors to slog.Default() and giving running handlers 30 s to finish on
// stop.
type Options struct {
	// Concurrency is how many handlers run at once. 0 means 1.
	Concurrency int
	// BatchSize is the most messages one receive asks for; a receive never
	// asks for more than the free handler slots. 0 means 16 (CMQ's batch
	// limit).
	BatchSize int
	// PollWait is the long poll of each receive. 0 means the queue's
	// PollingWait, or 30 s (CMQ's longest) if that is 0: a worker never
	// spins on an empty queue.
	PollWait time.Duration
	// VisibilityTimeout is the queue's visibility timeout. 0 means the
	// one Run reads from the queue's attributes when it starts.
	VisibilityTimeout time.Duration
	// LeaseMargin is how long before the visibility timeout ends a lease is
	// renewed (in-process) or the handler's context ends (over the wire).
	// 0 means a fifth of the visibility timeout.
	LeaseMargin time.Duration
	// RetryDelay, when positive, makes a failed message visible again
	// after this long instead of at the end of its visibility timeout.
	// It needs [cmq.ServiceExtensions]; over the wire it is ignored.
	RetryDelay time.Duration
	// GracePeriod is how long running handlers may run on after ctx is
	// done; then their contexts are cancelled. 0 means 30 s.
	GracePeriod time.Duration
	// OnError is called for every handler error (a recovered panic is a
	// [*PanicError]) and every failed receive or delete. m is the message
	// concerned, or nil. Nil means log with Logger. It must be safe for
	// concurrent use.
	OnError func(m *cmq.Message, err error)
	// Logger logs errors when OnError is nil. Nil means slog.Default().
	Logger *slog.Logger
}

// PanicError is the error reported for a handler that panicked.
type PanicError struct {
	Value any    // what the handler panicked with
	Stack []byte // the handler's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("worker: handler panicked: %v", e.Value) }

// backoff is how long Run waits after a receive fails for a reason other
// than an empty queue.
const backoff = time.Second

// defaultPollWait is the long poll on a queue whose PollingWait is 0.
const defaultPollWait = 30 * time.Second

// Run consumes queue on svc with handler until ctx is done, then stops
// receiving, lets running handlers finish within [Options].GracePeriod,
// deletes the messages they finished, and returns nil.
//
// It returns early with an error only when the queue cannot be consumed:
// [cmq.ErrQueueNotExist], [cmq.ErrClosed], or an error reading the
// queue's attributes at start (which also checks that it exists). Other receive errors (throttling, the
// network) are reported to OnError and retried after a second.
func Run(ctx context.Context, svc cmq.Service, queue string, handler Handler, o Options) error {
	if handler == nil {
		return errors.New("worker: nil handler")
	}
	if o.Concurrency < 0 || o.BatchSize < 0 || o.PollWait < 0 || o.VisibilityTimeout < 0 ||
		o.LeaseMargin < 0 || o.RetryDelay < 0 || o.GracePeriod < 0 {
		return errors.New("worker: negative option")
	}
	if err := ctx.Err(); err != nil {
		return nil
	}
	w := &worker{svc: svc, queue: queue, handler: handler, o: o}
	w.x, _ = svc.(cmq.ServiceExtensions)
	w.setDefaults()
	info, err := svc.GetQueueAttributes(ctx, queue)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if w.o.VisibilityTimeout == 0 {
		w.o.VisibilityTimeout = info.VisibilityTimeout
	}
	if w.o.PollWait == 0 {
		w.o.PollWait = info.PollingWait
		if w.o.PollWait <= 0 {
			w.o.PollWait = defaultPollWait
		}
	}
	if w.o.LeaseMargin == 0 || w.o.LeaseMargin >= w.o.VisibilityTimeout {
		w.o.LeaseMargin = w.o.VisibilityTimeout / 5
	}

	// Handlers run on hctx: it outlives ctx by the grace period.
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(w.o.GracePeriod, cancelHandlers)
		context.AfterFunc(hctx, func() { t.Stop() })
	})
	defer stopGrace()

	w.deletes = make(chan *cmq.Message, w.o.Concurrency)
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		w.deleteLoop(context.WithoutCancel(ctx))
	}()

	err = w.receiveLoop(ctx, hctx)
	w.running.Wait()
	close(w.deletes)
	<-deleted
	return err
}

// worker is one Run.
type worker struct {
	svc     cmq.Service
	x       cmq.ServiceExtensions // nil over the wire
	queue   string
	handler Handler
	o       Options
	slots   *semaphore.Weighted
	running sync.WaitGroup
	deletes chan *cmq.Message // messages whose handler succeeded
}

func (w *worker) setDefaults() {
	o := &w.o
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.BatchSize == 0 {
		o.BatchSize = 16
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OnError == nil {
		log := o.Logger
		o.OnError = func(m *cmq.Message, err error) {
			attrs := []any{"err", err}
			if m != nil {
				attrs = append(attrs, "msgId", m.ID)
			}
			var p *PanicError
			if errors.As(err, &p) {
				attrs = append(attrs, "stack", string(p.Stack))
			}
			log.Error("worker", attrs...)
		}
	}
	w.slots = semaphore.NewWeighted(int64(o.Concurrency))
}

// receiveLoop receives while ctx lasts and starts a handler per message.
func (w *worker) receiveLoop(ctx, hctx context.Context) error {
	for ctx.Err() == nil {
		// Wait for one free slot, then take every free slot up to a batch.
		if err := w.slots.Acquire(ctx, 1); err != nil {
			return nil
		}
		n := 1
		for n < w.o.BatchSize && w.slots.TryAcquire(1) {
			n++
		}
		start := time.Now()
		ms, err := w.svc.BatchReceiveMessage(ctx, w.queue, n, w.o.PollWait)
		w.slots.Release(int64(n - len(ms)))
		switch {
		case ctx.Err() != nil:
			// Messages received as ctx ended are handled: they are ours.
		case errors.Is(err, cmq.ErrNoMessage):
			continue
		case errors.Is(err, cmq.ErrQueueNotExist), errors.Is(err, cmq.ErrClosed):
			return err
		case err != nil:
			w.o.OnError(nil, fmt.Errorf("worker: receive: %w", err))
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		deadline := start.Add(w.o.VisibilityTimeout - w.o.LeaseMargin)
		for i := range ms {
			w.running.Add(1)
			go w.handle(hctx, &ms[i], deadline)
		}
	}
	return nil
}

// handle runs the handler on m, holding m's lease, and settles m.
func (w *worker) handle(ctx context.Context, m *cmq.Message, deadline time.Time) {
	defer w.running.Done()
	defer w.slots.Release(1)
	var l *lease
	if w.x != nil {
		l = w.hold(ctx, m)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	err := w.call(ctx, m)
	if l != nil {
		l.release()
	}
	switch {
	case err == nil:
		w.deletes <- m
		return
	case ctx.Err() != nil && w.x != nil:
		// Cut off at shutdown: let another consumer have it at once.
		w.changeVisibility(m, 0)
	case w.o.RetryDelay > 0 && w.x != nil:
		w.changeVisibility(m, w.o.RetryDelay)
	}
	w.o.OnError(m, err)
}

// call runs the handler, turning a panic into a *PanicError.
func (w *worker) call(ctx context.Context, m *cmq.Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return w.handler(ctx, *m)
}

func (w *worker) changeVisibility(m *cmq.Message, d time.Duration) {
	ctx := context.Background()
	if _, err := w.x.ChangeMessageVisibility(ctx, w.queue, m.ReceiptHandle, d); err != nil {
		w.o.OnError(m, fmt.Errorf("worker: change visibility: %w", err))
	}
}

// lease renews a message's visibility timeout while its handler runs.
type lease struct {
	mu    sync.Mutex
	done  bool
	timer *time.Timer
}

// hold starts renewing m's lease LeaseMargin before each timeout ends.
func (w *worker) hold(ctx context.Context, m *cmq.Message) *lease {
	l := &lease{}
	every := w.o.VisibilityTimeout - w.o.LeaseMargin
	var renew func()
	renew = func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.done {
			return
		}
		_, err := w.x.ChangeMessageVisibility(context.WithoutCancel(ctx), w.queue, m.ReceiptHandle, w.o.VisibilityTimeout)
		if err != nil {
			w.o.OnError(m, fmt.Errorf("worker: extend lease: %w", err))
			return // the handle is lost: the message comes back
		}
		l.timer.Reset(every)
	}
	l.mu.Lock()
	l.timer = time.AfterFunc(every, renew)
	l.mu.Unlock()
	return l
}

// release stops renewing; a renewal running finishes first.
func (l *lease) release() {
	l.mu.Lock()
	l.done = true
	l.timer.Stop()
	l.mu.Unlock()
}

// deleteLoop deletes finished messages until w.deletes is closed, as many
// per call as are waiting, up to BatchSize.
func (w *worker) deleteLoop(ctx context.Context) {
	batch := make([]*cmq.Message, 0, w.o.BatchSize)
	for m := range w.deletes {
		batch = append(batch[:0], m)
	more:
		for len(batch) < w.o.BatchSize {
			select {
			case m, ok := <-w.deletes:
				if !ok {
					break more
				}
				batch = append(batch, m)
			default:
				break more
			}
		}
		w.delete(ctx, batch)
	}
}

func (w *worker) delete(ctx context.Context, batch []*cmq.Message) {
	if len(batch) == 1 {
		if err := w.svc.DeleteMessage(ctx, w.queue, batch[0].ReceiptHandle); err != nil {
			w.o.OnError(batch[0], fmt.Errorf("worker: delete: %w", err))
		}
		return
	}
	handles := make([]string, len(batch))
	for i, m := range batch {
		handles[i] = m.ReceiptHandle
	}
	errs, err := w.svc.BatchDeleteMessage(ctx, w.queue, handles)
	if err == nil {
		return
	}
	if errs == nil { // the whole call failed
		for _, m := range batch {
			w.o.OnError(m, fmt.Errorf("worker: delete: %w", err))
		}
		return
	}
	for i, e := range errs {
		if e != nil {
			w.o.OnError(batch[i], fmt.Errorf("worker: delete: %w", e))
		}
	}
}
