package cmq

import "context"

// enter is the entry check of every Broker method that takes a context,
// made before anything else: after Close it returns ErrClosed whatever
// the arguments; otherwise a ctx already done returns ctx.Err(), unwrapped.
// Only then are arguments validated. Once a call has begun its work (taken
// a queue's lock) it completes without consulting ctx again, except in a
// long poll's wait.
func (b *Broker) enter(ctx context.Context) error {
	if b.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// enter is the entry check of every Queue method that takes a context; see
// [Broker.enter]. A deleted queue is found later, under its lock.
func (q *Queue) enter(ctx context.Context) error { return q.b.enter(ctx) }
