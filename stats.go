package cmq

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// queueCounters are a queue's cumulative counters. They are plain
// integers under the queue's lock, which every path that changes them
// already holds, so keeping them costs an addition each.
type queueCounters struct {
	sent, received, deleted  uint64 // messages
	throttled, refused       uint64 // calls
	deadLettered, deadLetter uint64 // messages moved out of the queue; moved in
}

// note counts the outcome of a call that held the queue's lock and
// failed with err: throttled, or refused. The caller holds q.mu.
func (c *queueCounters) note(err error) {
	switch {
	case err == nil, errors.Is(err, ErrNoMessage), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	case errors.Is(err, ErrThrottled):
		c.throttled++
	default:
		c.refused++
	}
}

// QueueStats is a snapshot of a queue's counts and counters, taken at one
// instant under the queue's lock. The counters are cumulative since the
// queue was created in this process (a durable broker's replay does not
// restore them) and never go down.
type QueueStats struct {
	Name string
	// Active, Inactive, Delayed and Rewound are the exact counts of
	// [QueueInfo]: ActiveMsgNum, InactiveMsgNum, DelayMsgNum and
	// RewindMsgNum.
	Active, Inactive, Delayed, Rewound int
	// Sent, Received and Deleted count messages: every message sent, every
	// delivery (a message received twice counts twice), every delete.
	Sent, Received, Deleted uint64
	// Throttled counts calls refused with [ErrThrottled]; Refused counts
	// the other calls that reached the queue and failed (a full queue, a
	// message too large, an invalid receipt handle, ...). Arguments that
	// are wrong on their face (a bad batch size or delay) are refused
	// before they reach the queue and are not counted; neither are
	// [ErrNoMessage] and context errors.
	Throttled, Refused uint64
	// DeadLettered counts messages moved out to the dead-letter queue (or
	// dropped because it was full or gone); DeadLetterIn counts messages
	// that arrived as this queue's sources' dead letters.
	DeadLettered, DeadLetterIn uint64
	// OldestMessageAge is how long the oldest message not deleted has been
	// in the queue; 0 when there is none.
	OldestMessageAge time.Duration
	// WaitingReceivers is the number of receives waiting in a long poll.
	WaitingReceivers int
	// Bytes is what the queue's retained messages count against the
	// broker's memory: bodies plus a fixed overhead each.
	Bytes int64
	// DeadLetterQueue is the name of the queue's dead-letter queue, or "".
	DeadLetterQueue string
}

// Stats returns a snapshot of the queue's counts and counters. It takes
// the queue's lock once and allocates nothing beyond the result.
// Errors: [ErrQueueNotExist], [ErrClosed].
func (q *Queue) Stats() (_ QueueStats, err error) {
	now, err := q.lock()
	if err != nil {
		return QueueStats{}, err
	}
	defer q.unlockInto(&err)
	return q.statsLocked(now), nil
}

// statsLocked is Stats for a caller that holds q.mu and has advanced q
// to now.
func (q *Queue) statsLocked(now int64) QueueStats {
	c := &q.counters
	s := QueueStats{
		Name:             q.name,
		Active:           q.active,
		Inactive:         q.inactive,
		Delayed:          q.delayed,
		Rewound:          q.rewound,
		Sent:             c.sent,
		Received:         c.received,
		Deleted:          c.deleted,
		Throttled:        c.throttled,
		Refused:          c.refused,
		DeadLettered:     c.deadLettered,
		DeadLetterIn:     c.deadLetter,
		WaitingReceivers: q.polling,
		Bytes:            q.stored,
	}
	if m := q.oldestLive(); m != nil {
		s.OldestMessageAge = time.Duration(max(0, now-m.enqueued))
	}
	if q.dlq != nil {
		s.DeadLetterQueue = q.dlq.name
	}
	return s
}

// BrokerStats is a snapshot of a broker: each queue's [QueueStats] and
// their sums. Each queue's snapshot is taken at its own instant: the
// broker visits its queues one by one, never holding two locks at once,
// so the sums are not one instant's.
type BrokerStats struct {
	// Queues are the queues' snapshots, sorted by name ignoring case.
	Queues []QueueStats
	// Total sums the counts and counters of Queues; its Name and
	// DeadLetterQueue are empty and its OldestMessageAge is the largest.
	Total QueueStats
	// Bytes is what every queue's retained messages count against the
	// broker's memory.
	Bytes int64
	// Closed reports whether the broker was closed; then Queues is empty.
	Closed bool
}

// Stats returns a snapshot of every queue, taken one queue at a time: it
// holds the broker's read lock only to list the queues, then each queue's
// lock in turn. A queue deleted meanwhile is left out.
func (b *Broker) Stats() BrokerStats {
	b.mu.RLock()
	queues := make([]*Queue, 0, len(b.queues))
	for _, q := range b.queues {
		queues = append(queues, q)
	}
	b.mu.RUnlock()
	st := BrokerStats{Closed: b.closed.Load(), Bytes: b.stored.Load()}
	slices.SortFunc(queues, func(x, y *Queue) int {
		return strings.Compare(strings.ToLower(x.name), strings.ToLower(y.name))
	})
	st.Queues = make([]QueueStats, 0, len(queues))
	t := &st.Total
	for _, q := range queues {
		s, err := q.Stats()
		if err != nil {
			continue
		}
		st.Queues = append(st.Queues, s)
		t.Active += s.Active
		t.Inactive += s.Inactive
		t.Delayed += s.Delayed
		t.Rewound += s.Rewound
		t.Sent += s.Sent
		t.Received += s.Received
		t.Deleted += s.Deleted
		t.Throttled += s.Throttled
		t.Refused += s.Refused
		t.DeadLettered += s.DeadLettered
		t.DeadLetterIn += s.DeadLetterIn
		t.WaitingReceivers += s.WaitingReceivers
		t.Bytes += s.Bytes
		t.OldestMessageAge = max(t.OldestMessageAge, s.OldestMessageAge)
	}
	return st
}

// Health returns nil while the broker serves: [ErrClosed] after Close,
// and, for a durable broker whose journal failed, the error every call
// now returns (it wraps [ErrJournal]). Readiness probes call it.
func (b *Broker) Health() error {
	if b.closed.Load() {
		return ErrClosed
	}
	return b.journalErr()
}
