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
	// Topics are the topics' snapshots, sorted by name ignoring case,
	// each taken at its own instant like the queues'.
	Topics []TopicStats
	// Closed reports whether the broker was closed; then Queues and
	// Topics are empty.
	Closed bool
}

// Stats returns a snapshot of every queue and topic, taken one at a time:
// it holds the broker's read lock only to list them, then each one's lock
// in turn. A queue or topic deleted meanwhile is left out.
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
	st.Topics = b.topicStats()
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

// deliveryCounters are a subscription's (or, summed, a topic's)
// cumulative delivery counters, plain integers under the topic's lock.
type deliveryCounters struct {
	delivered uint64 // deliveries made: a queue send or a 2xx push
	failed    uint64 // attempts that failed
	retried   uint64 // failed attempts rescheduled for a retry
	dropped   uint64 // deliveries given up: retries over, or a body the queue can never take
}

// noteDelivery counts outcomes of s's deliveries on s and on its topic.
// It takes the topic's lock; the caller holds no lock of the topic's.
func (s *Subscription) noteDelivery(delivered, failed, retried, dropped int) {
	t := s.t
	t.mu.Lock()
	for _, c := range []*deliveryCounters{&s.counters, &t.counters} {
		c.delivered += uint64(delivered)
		c.failed += uint64(failed)
		c.retried += uint64(retried)
		c.dropped += uint64(dropped)
	}
	t.mu.Unlock()
}

// SubscriptionStats is a snapshot of one subscription, part of
// [TopicStats]. Its counters count since the subscription was created
// in this process (a durable broker's replay does not restore them).
type SubscriptionStats struct {
	Name     string
	Protocol Protocol
	Endpoint string
	// FilterTags and BindingKeys are the subscription's filters; which
	// one applies depends on the topic's FilterType.
	FilterTags, BindingKeys []string
	// MsgCount counts the deliveries not yet made (as in
	// [SubscriptionInfo]).
	MsgCount int
	// Delivered counts deliveries made: messages sent to the endpoint
	// queue, or pushed and answered with a 2xx status.
	Delivered uint64
	// Failed counts attempts that failed (a queue send refused, a push
	// that failed or was answered with another status); Retried counts
	// those rescheduled for a retry by the subscription's strategy;
	// Dropped counts deliveries given up, after their last retry or at
	// once for a body larger than the endpoint queue's MaxMsgSize.
	Failed, Retried, Dropped uint64
}

// TopicStats is a snapshot of a topic and its subscriptions, taken at one
// instant under the topic's lock. Its counters are cumulative since the
// topic was created in this process and never go down; they include those
// of subscriptions since removed.
type TopicStats struct {
	Name       string
	FilterType FilterType
	// MsgCount counts the deliveries not yet made over all subscriptions
	// (as in [TopicInfo]).
	MsgCount int
	// Published counts messages published (a batch of n counts n).
	Published uint64
	// Delivered, Failed, Retried and Dropped sum those of
	// [SubscriptionStats] over every subscription the topic has had.
	Delivered, Failed, Retried, Dropped uint64
	// Subscriptions are the subscriptions' snapshots, sorted by name
	// ignoring case.
	Subscriptions []SubscriptionStats
}

// Stats returns a snapshot of the topic and its subscriptions. It takes
// the topic's lock once.
// Errors: [ErrTopicNotExist], [ErrClosed].
func (t *Topic) Stats() (TopicStats, error) {
	if err := t.lockOpen(); err != nil {
		return TopicStats{}, err
	}
	defer t.mu.Unlock()
	c := &t.counters
	s := TopicStats{
		Name:          t.name,
		FilterType:    t.filter,
		Published:     t.published,
		Delivered:     c.delivered,
		Failed:        c.failed,
		Retried:       c.retried,
		Dropped:       c.dropped,
		Subscriptions: make([]SubscriptionStats, 0, len(t.subs)),
	}
	for _, sub := range t.subs {
		n := int(sub.pending.Load())
		s.MsgCount += n
		sc := &sub.counters
		s.Subscriptions = append(s.Subscriptions, SubscriptionStats{
			Name:        sub.name,
			Protocol:    sub.attrs.Protocol,
			Endpoint:    sub.attrs.Endpoint,
			FilterTags:  slices.Clone(sub.attrs.FilterTags),
			BindingKeys: slices.Clone(sub.attrs.BindingKeys),
			MsgCount:    n,
			Delivered:   sc.delivered,
			Failed:      sc.failed,
			Retried:     sc.retried,
			Dropped:     sc.dropped,
		})
	}
	slices.SortFunc(s.Subscriptions, func(x, y SubscriptionStats) int {
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
	return s, nil
}

// topicStats returns every topic's snapshot, sorted by name ignoring
// case, visiting the topics one by one like [Broker.Stats] visits queues.
func (b *Broker) topicStats() []TopicStats {
	b.mu.RLock()
	topics := make([]*Topic, 0, len(b.topics))
	for _, t := range b.topics {
		topics = append(topics, t)
	}
	b.mu.RUnlock()
	slices.SortFunc(topics, func(x, y *Topic) int {
		return strings.Compare(strings.ToLower(x.name), strings.ToLower(y.name))
	})
	out := make([]TopicStats, 0, len(topics))
	for _, t := range topics {
		if s, err := t.Stats(); err == nil {
			out = append(out, s)
		}
	}
	return out
}
