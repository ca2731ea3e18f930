package cmq

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencmq/cmq/internal/wal"
)

// Broker owns named queues. Create one with [NewBroker]; the zero Broker is
// not usable. A Broker starts no goroutine and holds no timer while no
// receive is waiting, so an idle broker costs only memory. All methods are
// safe for concurrent use.
//
// Lock order: a source queue's lock, then its dead-letter queue's lock,
// then the broker's lock. The broker's lock guards the name map and the
// dead-letter bindings only; no message work happens under it, and nobody
// waits for a queue's lock while holding it (CreateQueue locks only the
// queue it is creating, which nobody else knows yet). Bulk work on a queue
// (retention drops and time-to-live moves of millions of messages) runs in
// bounded steps, releasing the queue's lock between them.
type Broker struct {
	limits  Limits
	log     *slog.Logger
	start   time.Time // the clock: start plus monotonic time since
	startNS int64

	mu      sync.RWMutex
	queues  map[string]*Queue // by lower-case name
	closed  atomic.Bool       // set once, under mu; read without it by calls that check it first
	nextNum uint64            // numbers queues; prefixes message ids

	stored atomic.Int64 // bytes the queues retain: bodies plus messageOverhead each
	j      *journal     // nil: in memory only

	topics map[string]*Topic // by lower-case name, under mu (see topic.go)
	push   *pusher           // delivers to subscriptions (see push.go)

	rewindStepHook func() // tests: runs between two steps of a rewind, q.mu released
}

// NewBroker returns an empty Broker that enforces [DefaultLimits] unless an
// option says otherwise; nil options are ignored. It fails only if
// [WithLimits] was given limits that fail [Limits.Validate].
func NewBroker(opts ...Option) (*Broker, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newBroker(c, 0), nil
}

// newBroker returns an empty broker configured by c whose clock starts at
// the later of wall time and notBefore (Unix nanoseconds).
func newBroker(c brokerConfig, notBefore int64) *Broker {
	start := time.Now()
	b := &Broker{
		limits:  c.limits,
		log:     c.logger,
		start:   start,
		startNS: max(start.UnixNano(), notBefore),
		queues:  make(map[string]*Queue),
		topics:  make(map[string]*Topic),
	}
	b.push = newPusher(b, c.transport)
	return b
}

// Limits returns the limits the broker enforces.
func (b *Broker) Limits() Limits { return b.limits }

// now returns the broker's clock in Unix nanoseconds. It is wall time at
// NewBroker plus monotonic time since, so it never goes back.
func (b *Broker) now() int64 { return b.startNS + int64(time.Since(b.start)) }

// validName reports whether name is 1 to QueueNameLength characters, an
// ASCII letter first, then ASCII letters, digits or '-'.
func (b *Broker) validName(name string) bool {
	if len(name) == 0 || len(name) > b.limits.QueueNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '-')) {
			return false
		}
	}
	return true
}

// CreateQueue creates the queue name with the given attributes; nil
// attributes take their defaults from [Limits]. Names are 1 to 64
// characters, a letter first, then letters, digits or '-', and unique
// case-insensitively. A name freed by [Broker.DeleteQueue] may be used again
// at once.
//
// Errors: [ErrQueueNameFormat], [ErrQueueExists], [ErrQueueLimit],
// [ErrOutOfRange] and [ErrRewindPeriod] for attributes, the dead-letter
// errors for a policy, [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (b *Broker) CreateQueue(ctx context.Context, name string, attrs QueueAttributes) (*Queue, error) {
	if err := b.enter(ctx); err != nil {
		return nil, err
	}
	q, pos, err := b.createQueue(name, attrs)
	if err != nil {
		return nil, err
	}
	if err := b.finish(pos); err != nil {
		return nil, err
	}
	b.log.Info("queue created", "queue", name, "id", q.id)
	return q, nil
}

func (b *Broker) createQueue(name string, attrs QueueAttributes) (_ *Queue, pos wal.Pos, err error) {
	if !b.validName(name) {
		return nil, pos, ErrQueueNameFormat
	}
	set, err := b.limits.defaultSettings().apply(attrs, &b.limits)
	if err != nil {
		return nil, pos, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, pos, ErrClosed
	}
	if err := b.journalErr(); err != nil {
		return nil, pos, err
	}
	key := strings.ToLower(name)
	if b.queues[key] != nil {
		return nil, pos, ErrQueueExists
	}
	if len(b.queues) >= b.limits.Queues {
		return nil, pos, ErrQueueLimit
	}
	q := newQueue(b, name, b.nextNum, set)
	var dlq *Queue
	if set.deadLetter != nil {
		if dlq, err = b.checkDeadLetter(q, set.deadLetter); err != nil {
			return nil, pos, err
		}
	}
	b.nextNum++
	b.bind(q, dlq)
	b.queues[key] = q
	pos = b.logQueue(q)
	return q, pos, nil
}

// Queue returns the queue name (compared case-insensitively).
// Errors: [ErrQueueNameFormat], [ErrQueueNotExist], [ErrClosed].
func (b *Broker) Queue(name string) (*Queue, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	if !b.validName(name) {
		return nil, ErrQueueNameFormat
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed.Load() {
		return nil, ErrClosed
	}
	q := b.queues[strings.ToLower(name)]
	if q == nil {
		return nil, ErrQueueNotExist
	}
	return q, nil
}

// DeleteQueue deletes the queue name and every message in it. Receives
// waiting on it return [ErrQueueNotExist], and so does every later call on
// its *Queue. If it had a dead-letter queue, the binding ends.
//
// Errors: [ErrQueueNameFormat], [ErrQueueNotExist],
// [ErrDeadLetterQueueInUse] when other queues use it as their dead-letter
// queue, [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (b *Broker) DeleteQueue(ctx context.Context, name string) error {
	if err := b.enter(ctx); err != nil {
		return err
	}
	pos, err := b.deleteQueue(name)
	if err != nil {
		return err
	}
	if err := b.finish(pos); err != nil {
		return err
	}
	b.log.Info("queue deleted", "queue", name)
	return nil
}

func (b *Broker) deleteQueue(name string) (pos wal.Pos, err error) {
	key := strings.ToLower(name)
	for {
		q, err := b.Queue(name)
		if err != nil {
			return pos, err
		}
		// The queue's lock first, then the broker's: nobody waits for a
		// queue's lock while holding the broker's. The messages are
		// dropped whole (the index and log let go at once), so the
		// broker's lock is held for a constant time.
		q.mu.Lock()
		b.mu.Lock()
		if b.queues[key] != q { // deleted, and maybe created again, meanwhile
			b.mu.Unlock()
			q.mu.Unlock()
			continue
		}
		pos, err = b.deleteLocked(key, q)
		b.mu.Unlock()
		if e := q.unlock(); err == nil && e != nil {
			err = e
		}
		return pos, err
	}
}

// deleteLocked deletes q, named key. The caller holds q.mu and b.mu.
func (b *Broker) deleteLocked(key string, q *Queue) (pos wal.Pos, err error) {
	if b.closed.Load() {
		return pos, ErrClosed
	}
	if err := b.journalErr(); err != nil {
		return pos, err
	}
	if len(q.sources) > 0 {
		return pos, ErrDeadLetterQueueInUse
	}
	q.bindLocked(nil)
	delete(b.queues, key)
	q.shut(stateDeleted)
	return b.logDeleteQueue(q), nil
}

// ListOptions select a page of a list call. The zero ListOptions is the
// first page of every queue, [Limits].ListLimit.Default long.
type ListOptions struct {
	// Search keeps only names that contain it, ignoring case. Empty keeps
	// all.
	Search string
	// Offset skips that many matching queues. It may not be negative.
	Offset int
	// Limit is the page size; 0 means [Limits].ListLimit.Default.
	Limit int
}

// QueueSummary names a queue in a list: its id ([Queue.ID]) and name.
type QueueSummary struct {
	ID   string
	Name string
}

// ListQueues returns one page of queues, sorted by name ignoring case, and
// the number of queues that match o.Search in all.
// Errors: [ErrOutOfRange] for a negative offset or a limit outside
// [Limits].ListLimit, [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (b *Broker) ListQueues(ctx context.Context, o ListOptions) ([]QueueSummary, int, error) {
	if err := b.enter(ctx); err != nil {
		return nil, 0, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed.Load() {
		return nil, 0, ErrClosed
	}
	return b.page(b.queues, o)
}

// ListDeadLetterSourceQueues lists, like [Broker.ListQueues], the queues
// whose dead-letter queue is dlq.
// Errors: [ErrQueueNameFormat], [ErrQueueNotExist] for dlq, [ErrOutOfRange],
// [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (b *Broker) ListDeadLetterSourceQueues(ctx context.Context, dlq string, o ListOptions) ([]QueueSummary, int, error) {
	if err := b.enter(ctx); err != nil {
		return nil, 0, err
	}
	if !b.validName(dlq) {
		return nil, 0, ErrQueueNameFormat
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed.Load() {
		return nil, 0, ErrClosed
	}
	d := b.queues[strings.ToLower(dlq)]
	if d == nil {
		return nil, 0, ErrQueueNotExist
	}
	m := make(map[string]*Queue, len(d.sources))
	for _, s := range d.sources {
		m[strings.ToLower(s.name)] = s
	}
	return b.page(m, o)
}

// page applies o to queues. The caller holds b.mu.
func (b *Broker) page(queues map[string]*Queue, o ListOptions) ([]QueueSummary, int, error) {
	limit := o.Limit
	if limit == 0 {
		limit = b.limits.ListLimit.Default
	}
	if o.Offset < 0 {
		return nil, 0, outOfRange("offset")
	}
	if !b.limits.ListLimit.contains(limit) {
		return nil, 0, outOfRange("limit")
	}
	search := strings.ToLower(o.Search)
	keys := make([]string, 0, len(queues))
	for k := range queues {
		if strings.Contains(k, search) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	total := len(keys)
	lo := min(o.Offset, total)
	keys = keys[lo : lo+min(limit, total-lo)]
	out := make([]QueueSummary, len(keys))
	for i, k := range keys {
		out[i] = QueueSummary{ID: queues[k].id, Name: queues[k].name}
	}
	return out, total, nil
}

// Close closes the broker: every waiting receive returns [ErrClosed] at
// once, and so does every later call on the broker or its queues. Messages
// are dropped. Close starts nothing and leaves no goroutine or timer behind.
// It is idempotent and always returns nil.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil
	}
	b.closed.Store(true)
	qs := make([]*Queue, 0, len(b.queues))
	for _, q := range b.queues {
		qs = append(qs, q)
	}
	b.mu.Unlock()
	// From here every call fails with ErrClosed, and bulk work on a queue
	// stops at the end of its current step (see catchUp): each queue's
	// lock comes free within a step. No queue can be added or deleted.
	for _, q := range qs {
		q.mu.Lock()
		q.shut(stateClosed)
		q.mu.Unlock()
	}
	n := len(qs)
	b.push.close()
	var err error
	if j := b.j; j != nil {
		j.wg.Wait() // a compaction running sees closed and stops
		err = j.log.Close()
	}
	b.log.Info("broker closed", "queues", n)
	return err
}
