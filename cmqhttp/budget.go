package cmqhttp

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// errBusy answers a request or an answer that found the memory budget
// spent for longer than [Config].MemoryWait.
var errBusy = errSlowDown.WithMessage("server busy: the memory for requests in flight is in use, please slow down")

// budget is the bytes that large requests and answers in flight may hold
// together ([Config].MaxMemory). A nil budget is unbounded.
type budget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
	used atomic.Int64
}

// newBudget returns a budget of size bytes (0: 256 MiB; negative: nil,
// unbounded) whose acquisitions wait up to wait (0: 1 s).
func newBudget(size int64, wait time.Duration) *budget {
	switch {
	case size < 0:
		return nil
	case size == 0:
		size = 256 << 20
	}
	if wait <= 0 {
		wait = time.Second
	}
	return &budget{sem: semaphore.NewWeighted(size), size: size, wait: wait}
}

// acquire takes n bytes, waiting up to the budget's wait while ctx lasts;
// errBusy if they do not come (or n is more than the whole budget).
func (b *budget) acquire(ctx context.Context, n int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	if n > b.size {
		return errBusy
	}
	if !b.sem.TryAcquire(n) {
		ctx, cancel := context.WithTimeout(ctx, b.wait)
		defer cancel()
		if b.sem.Acquire(ctx, n) != nil {
			return errBusy
		}
	}
	b.used.Add(n)
	return nil
}

// release gives back n bytes taken by acquire.
func (b *budget) release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.used.Add(-n)
	b.sem.Release(n)
}

// inUse returns the bytes held now.
func (b *budget) inUse() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}
