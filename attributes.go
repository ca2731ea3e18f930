package cmq

import (
	"cmp"
	"context"
	"time"
)

// QueueAttributes are the settable attributes of a queue, used by
// [Broker.CreateQueue] and [Queue.SetAttributes]. A nil field is "not
// given": CreateQueue uses the default from [Limits], SetAttributes leaves
// the attribute as it is. The zero QueueAttributes therefore creates a queue
// with every default, and sets nothing.
//
// Durations are time.Duration here; CMQ's wire API counts whole seconds.
type QueueAttributes struct {
	// MaxMsgHeapNum caps the messages the queue retains (CMQ maxMsgHeapNum).
	// Sends beyond it fail with [ErrHeapFull]. It is a cap, not an
	// allocation.
	MaxMsgHeapNum *int
	// PollingWait is how long a receive that gives no wait of its own waits
	// for a message (pollingWaitSeconds).
	PollingWait *time.Duration
	// VisibilityTimeout is how long a received message stays invisible
	// (visibilityTimeout).
	VisibilityTimeout *time.Duration
	// MaxMsgSize is the largest body, in bytes (maxMsgSize).
	MaxMsgSize *int
	// MsgRetention is how long a message lives after it is sent, whatever
	// its state (msgRetentionSeconds).
	MsgRetention *time.Duration
	// RewindPeriod is how far back [Queue.Rewind] may go; 0 turns rewind off
	// and drops the deleted messages kept for it (rewindSeconds). It may not
	// exceed MsgRetention.
	RewindPeriod *time.Duration
	// DeadLetterPolicy binds the queue to a dead-letter queue. Unbind with
	// [Queue.UnbindDeadLetterQueue].
	DeadLetterPolicy *DeadLetterPolicy
}

// Ptr returns a pointer to v, for the fields of [QueueAttributes]:
//
//	cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Minute)}
//
// With Go 1.26 and later, new(time.Minute) does the same.
func Ptr[T any](v T) *T { return &v }

// QueueInfo is what [Queue.Attributes] returns: the queue's settings and
// its counts at the moment of the call. It is a plain value, a snapshot.
type QueueInfo struct {
	ID                string
	Name              string
	MaxMsgHeapNum     int
	PollingWait       time.Duration
	VisibilityTimeout time.Duration
	MaxMsgSize        int
	MsgRetention      time.Duration
	RewindPeriod      time.Duration
	// DeadLetterPolicy is a copy of the policy, or nil.
	DeadLetterPolicy *DeadLetterPolicy
	CreateTime       time.Time
	// LastModifyTime changes on every successful SetAttributes.
	LastModifyTime time.Time
	// ActiveMsgNum counts messages that can be received now.
	ActiveMsgNum int
	// InactiveMsgNum counts received messages whose visibility timeout has
	// not ended.
	InactiveMsgNum int
	// DelayMsgNum counts sent messages whose delay has not ended.
	DelayMsgNum int
	// RewindMsgNum counts deleted messages kept for [Queue.Rewind].
	RewindMsgNum int
	// MinMsgTime is the enqueue time of the oldest message not deleted; the
	// zero Time when there is none.
	MinMsgTime time.Time
}

// Attributes returns the queue's attributes and exact counts.
// Errors: [ErrQueueNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) Attributes(ctx context.Context) (_ QueueInfo, err error) {
	if err := q.enter(ctx); err != nil {
		return QueueInfo{}, err
	}
	if _, err = q.lock(); err != nil {
		return QueueInfo{}, err
	}
	defer q.unlockInto(&err)
	info := QueueInfo{
		ID:                q.id,
		Name:              q.name,
		MaxMsgHeapNum:     q.set.maxMsgHeapNum,
		PollingWait:       q.set.pollingWait,
		VisibilityTimeout: q.set.visibilityTimeout,
		MaxMsgSize:        q.set.maxMsgSize,
		MsgRetention:      q.set.msgRetention,
		RewindPeriod:      q.set.rewindPeriod,
		CreateTime:        unixTime(q.created),
		LastModifyTime:    unixTime(q.modified),
		ActiveMsgNum:      q.active,
		InactiveMsgNum:    q.inactive,
		DelayMsgNum:       q.delayed,
		RewindMsgNum:      q.rewound,
	}
	if p := q.set.deadLetter; p != nil {
		c := *p
		info.DeadLetterPolicy = &c
	}
	if m := q.oldestLive(); m != nil {
		info.MinMsgTime = unixTime(m.enqueued)
	}
	return info, nil
}

// oldestLive returns the oldest message not deleted, or nil. The caller
// holds q.mu.
func (q *Queue) oldestLive() *message {
	s := max(q.liveSeq, q.log.base)
	for ; s < q.log.end(); s++ {
		if m := q.log.get(s); m != nil && m.where != inNone {
			q.liveSeq = s
			return m
		}
	}
	q.liveSeq = s
	return nil
}

// SetAttributes changes the attributes that are given (non-nil) and leaves
// the others as they are. It validates everything before changing anything.
// Setting RewindPeriod to 0 drops the deleted messages kept for rewind.
//
// Errors: as for [Broker.CreateQueue], plus [ErrQueueNotExist].
func (q *Queue) SetAttributes(ctx context.Context, a QueueAttributes) (err error) {
	if err := q.enter(ctx); err != nil {
		return err
	}
	b := q.b
	now, err := q.lock()
	if err != nil {
		return err
	}
	defer q.unlockInto(&err)
	set, err := q.set.apply(a, &b.limits)
	if err != nil {
		return err
	}
	if a.DeadLetterPolicy != nil {
		// Bindings change under the broker's lock, taken after q.mu:
		// nobody waits for a queue's lock while holding the broker's.
		b.mu.Lock()
		dlq, err := b.checkDeadLetter(q, set.deadLetter)
		if err != nil {
			b.mu.Unlock()
			return err
		}
		q.bindLocked(dlq)
		q.ttlSeq = q.log.base // a new time-to-live applies to every message
	}
	q.set = set
	q.modified = now
	q.logState(now) // with a binding, in its order among the broker's changes
	if a.DeadLetterPolicy != nil {
		b.mu.Unlock()
	}
	if set.rewindPeriod == 0 && q.rewound > 0 {
		// The record above drops them on replay. catchUp drops them below,
		// in steps, and every call catches up before anything else: no
		// call sees them after this one.
		q.keptSeq, q.keptEnd = q.log.base, q.log.end()
	}
	// A shorter retention or time-to-live, and the drop of kept
	// messages, apply at once, in bounded steps; the change is made whatever happens to q meanwhile.
	if now, err := q.catchUp(); err == nil {
		q.noteTimeToLive(now)
	}
	return nil
}

// settings are a queue's resolved attributes: every field has its value.
type settings struct {
	maxMsgHeapNum     int
	pollingWait       time.Duration
	visibilityTimeout time.Duration
	maxMsgSize        int
	msgRetention      time.Duration
	rewindPeriod      time.Duration
	deadLetter        *DeadLetterPolicy // nil: no dead-letter queue
}

// defaultSettings returns the settings of a queue created with no
// attributes.
func (l *Limits) defaultSettings() settings {
	return settings{
		maxMsgHeapNum:     l.MsgHeapNum.Default,
		pollingWait:       l.PollingWait.Default,
		visibilityTimeout: l.VisibilityTimeout.Default,
		maxMsgSize:        l.MsgSize.Default,
		msgRetention:      l.MsgRetention.Default,
	}
}

// apply returns s with the given attributes applied and validated against
// l. It is the one place where attributes are checked; dead-letter rules
// that need other queues are checked by the broker afterwards. s is not
// changed, so a rejected call changes nothing.
func (s settings) apply(a QueueAttributes, l *Limits) (settings, error) {
	err := cmp.Or(
		setField(&s.maxMsgHeapNum, a.MaxMsgHeapNum, l.MsgHeapNum, "maxMsgHeapNum"),
		setField(&s.pollingWait, a.PollingWait, l.PollingWait, "pollingWaitSeconds"),
		setField(&s.visibilityTimeout, a.VisibilityTimeout, l.VisibilityTimeout, "visibilityTimeout"),
		setField(&s.maxMsgSize, a.MaxMsgSize, l.MsgSize, "maxMsgSize"),
		setField(&s.msgRetention, a.MsgRetention, l.MsgRetention, "msgRetentionSeconds"),
	)
	if err != nil {
		return s, err
	}
	if a.RewindPeriod != nil {
		if *a.RewindPeriod < 0 {
			return s, outOfRange("rewindSeconds")
		}
		s.rewindPeriod = *a.RewindPeriod
	}
	if s.rewindPeriod > s.msgRetention {
		return s, ErrRewindPeriod
	}
	if a.DeadLetterPolicy != nil {
		p := *a.DeadLetterPolicy
		s.deadLetter = &p
	}
	if p := s.deadLetter; p != nil {
		switch {
		case p.DeadLetterQueue == "":
			return s, ErrDeadLetterMissingQueue
		case p.Kind != DeadLetterOnMaxReceive && p.Kind != DeadLetterOnTimeToLive:
			return s, ErrDeadLetterPolicyKind
		case p.Kind == DeadLetterOnMaxReceive && !l.MaxReceiveCount.contains(p.MaxReceiveCount):
			return s, ErrDeadLetterPolicy.withMessage("%s: maxReceiveCount out of range", ErrDeadLetterPolicy.Message)
		case p.Kind == DeadLetterOnTimeToLive && (!l.MaxTimeToLive.contains(p.MaxTimeToLive) || p.MaxTimeToLive >= s.msgRetention):
			return s, ErrDeadLetterPolicy.withMessage("%s: maxTimeToLive out of range", ErrDeadLetterPolicy.Message)
		}
	}
	return s, nil
}

// setField sets *dst to *src if src is given (not nil) and within r, and
// returns [ErrOutOfRange] naming the CMQ parameter if it is not.
func setField[T int | time.Duration](dst, src *T, r Range[T], param string) error {
	if src == nil {
		return nil
	}
	if !r.contains(*src) {
		return outOfRange(param)
	}
	*dst = *src
	return nil
}
