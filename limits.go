package cmq

import "time"

// Range is an inclusive range of allowed values with the value used when
// none is given. The zero Range allows only the zero value.
type Range[T int | time.Duration] struct {
	Min, Max, Default T
}

// contains reports whether Min <= v <= Max.
func (r Range[T]) contains(v T) bool { return r.Min <= v && v <= r.Max }

func (r Range[T]) valid() bool { return r.Min <= r.Default && r.Default <= r.Max }

// Limits holds every numeric limit the broker enforces. [DefaultLimits]
// returns CMQ's documented limits, so code that works against a Broker with
// the defaults also works against CMQ. An embedding service or a test may
// widen or narrow them with [WithLimits]; validation reads from this value
// and nowhere else.
//
// The zero Limits is not usable: start from DefaultLimits and change fields.
type Limits struct {
	// Queues is the most queues a broker holds (CMQ: 1000 per account).
	Queues int
	// QueueNameLength is the longest queue name, in characters (64).
	QueueNameLength int
	// BatchSize is the most messages in one batch send, receive or delete
	// (16).
	BatchSize int
	// BatchBytes is the most bytes the bodies of one batch send may add up
	// to (1 MiB).
	BatchBytes int
	// QPS is the number of messages per second each queue admits for each
	// of send, receive and delete; a batch of n costs n. 0 means no limit.
	// CMQ: 5000.
	QPS int
	// DeadLetterSources is the most queues one dead-letter queue serves (6).
	DeadLetterSources int

	// Delay bounds the delay of a send (0 to 3600 s).
	Delay Range[time.Duration]
	// MsgHeapNum bounds the queue attribute MaxMsgHeapNum
	// (1,000,000 to 1,000,000,000; default 100,000,000).
	MsgHeapNum Range[int]
	// PollingWait bounds the queue attribute PollingWait and the wait of a
	// single receive (0 to 30 s; default 0).
	PollingWait Range[time.Duration]
	// VisibilityTimeout bounds the queue attribute VisibilityTimeout and
	// [Queue.ChangeVisibility] (1 s to 43,200 s; default 30 s).
	VisibilityTimeout Range[time.Duration]
	// MsgSize bounds the queue attribute MaxMsgSize, in bytes
	// (1024 to 1,048,576; default 65,536).
	MsgSize Range[int]
	// MsgRetention bounds the queue attribute MsgRetention
	// (60 s to 1,296,000 s; default 345,600 s, 4 days).
	MsgRetention Range[time.Duration]
	// MaxReceiveCount bounds [DeadLetterPolicy].MaxReceiveCount (1 to 1000).
	// Its Default is unused.
	MaxReceiveCount Range[int]
	// MaxTimeToLive bounds [DeadLetterPolicy].MaxTimeToLive (300 s to
	// 43,200 s; it must also be below the queue's MsgRetention). Its Default
	// is unused.
	MaxTimeToLive Range[time.Duration]
	// ListLimit bounds the page size of a list call (1 to 50; default 20).
	ListLimit Range[int]

	// MemoryBytes is the broker's memory budget: the most bytes all its
	// queues together may retain, each message counted as its body plus a
	// fixed overhead of 128 bytes (its record, index key and log slot).
	// A send or batch send that would take the total above it is refused
	// with [ErrMemoryFull] and changes nothing, whatever the queue's
	// MaxMsgHeapNum allows. Deletes, retention and purges free budget at
	// once. A dead-letter move neither adds nor frees bytes, so the budget
	// never refuses (or drops) one; a rewind revives messages that were
	// still counted. 0, the default, means no budget: CMQ has none, and an
	// embedding program knows its machine better than this package does
	// (cmqd sets one from the machine's memory). A durable broker replays
	// its journal whatever the budget; sends are refused until the total
	// is below it again.
	MemoryBytes int64

	// Topics is the most topics a broker holds (CMQ: 1000 per account).
	Topics int
	// Subscriptions is the most subscriptions one topic holds (100).
	Subscriptions int
	// TopicMsgSize bounds the topic attribute MaxMsgSize, in bytes
	// (1024 to 65,536; default 65,536).
	TopicMsgSize Range[int]
	// PublishBatchBytes is the most bytes the bodies of one batch publish
	// may add up to (64 KiB).
	PublishBatchBytes int
	// Tags is the most message tags of a publish, and the most filter tags
	// of a subscription (5).
	Tags int
	// TagLength is the longest message or filter tag, in characters (16).
	TagLength int
	// BindingKeys is the most binding keys of a subscription (5).
	BindingKeys int
	// RoutingKeyLength is the longest routing or binding key, in bytes (64).
	RoutingKeyLength int
	// RoutingKeyDots is the most dots in a routing or binding key (15).
	RoutingKeyDots int
	// EndpointLength is the longest HTTP endpoint of a subscription, in
	// bytes (500).
	EndpointLength int
	// SubscriptionListLimit bounds the page size of
	// [Topic.ListSubscriptions] (1 to 100; default 20).
	SubscriptionListLimit Range[int]
	// SubscriptionListOffset is the largest offset of
	// [Topic.ListSubscriptions] (1000).
	SubscriptionListOffset int
	// PushWorkers is the most goroutines that deliver pushes and retried
	// queue deliveries at once, for the whole broker (16). None runs while
	// nothing is due.
	PushWorkers int
	// PushTimeout bounds one HTTP push: no answer within it is a failure
	// (15 s).
	PushTimeout time.Duration
}

// DefaultLimits returns CMQ's documented limits, the values given in the
// comments of [Limits]' fields; where CMQ's own sources disagree, this
// package picks one value and states it there.
func DefaultLimits() Limits {
	return Limits{
		Queues:            1000,
		QueueNameLength:   64,
		BatchSize:         16,
		BatchBytes:        1 << 20,
		QPS:               5000,
		DeadLetterSources: 6,
		Delay:             Range[time.Duration]{0, 3600 * time.Second, 0},
		MsgHeapNum:        Range[int]{1_000_000, 1_000_000_000, 100_000_000},
		PollingWait:       Range[time.Duration]{0, 30 * time.Second, 0},
		VisibilityTimeout: Range[time.Duration]{1 * time.Second, 43200 * time.Second, 30 * time.Second},
		MsgSize:           Range[int]{1024, 1 << 20, 65536},
		MsgRetention:      Range[time.Duration]{60 * time.Second, 1296000 * time.Second, 345600 * time.Second},
		MaxReceiveCount:   Range[int]{1, 1000, 1},
		MaxTimeToLive:     Range[time.Duration]{300 * time.Second, 43200 * time.Second, 300 * time.Second},
		ListLimit:         Range[int]{1, 50, 20},

		Topics:                 1000,
		Subscriptions:          100,
		TopicMsgSize:           Range[int]{1024, 65536, 65536},
		PublishBatchBytes:      64 << 10,
		Tags:                   5,
		TagLength:              16,
		BindingKeys:            5,
		RoutingKeyLength:       64,
		RoutingKeyDots:         15,
		EndpointLength:         500,
		SubscriptionListLimit:  Range[int]{1, 100, 20},
		SubscriptionListOffset: 1000,
		PushWorkers:            16,
		PushTimeout:            15 * time.Second,
	}
}

// Validate reports whether l is usable: every count positive (QPS and
// MemoryBytes may be 0), every range ordered with its default inside, no range that lets a
// wait, delay or timeout go negative, and none longer than [MaxDuration].
// Its error is an [ErrInvalidParameter] naming the field.
func (l Limits) Validate() error {
	switch {
	case l.Queues < 1:
		return badLimit("Queues")
	case l.QueueNameLength < 1:
		return badLimit("QueueNameLength")
	case l.BatchSize < 1:
		return badLimit("BatchSize")
	case l.BatchBytes < 1:
		return badLimit("BatchBytes")
	case l.QPS < 0:
		return badLimit("QPS")
	case l.DeadLetterSources < 1:
		return badLimit("DeadLetterSources")
	case !l.Delay.valid() || l.Delay.Min < 0 || l.Delay.Max > MaxDuration:
		return badLimit("Delay")
	case !l.MsgHeapNum.valid() || l.MsgHeapNum.Min < 1:
		return badLimit("MsgHeapNum")
	case !l.PollingWait.valid() || l.PollingWait.Min < 0 || l.PollingWait.Max > MaxDuration:
		return badLimit("PollingWait")
	case !l.VisibilityTimeout.valid() || l.VisibilityTimeout.Min <= 0 || l.VisibilityTimeout.Max > MaxDuration:
		return badLimit("VisibilityTimeout")
	case !l.MsgSize.valid() || l.MsgSize.Min < 1:
		return badLimit("MsgSize")
	case !l.MsgRetention.valid() || l.MsgRetention.Min <= 0 || l.MsgRetention.Max > MaxDuration:
		return badLimit("MsgRetention")
	case !l.MaxReceiveCount.valid() || l.MaxReceiveCount.Min < 1:
		return badLimit("MaxReceiveCount")
	case !l.MaxTimeToLive.valid() || l.MaxTimeToLive.Min <= 0 || l.MaxTimeToLive.Max > MaxDuration:
		return badLimit("MaxTimeToLive")
	case !l.ListLimit.valid() || l.ListLimit.Min < 1:
		return badLimit("ListLimit")
	case l.MemoryBytes < 0:
		return badLimit("MemoryBytes")
	}
	return l.validateTopics()
}

// badLimit is Validate's error for field.
func badLimit(field string) error {
	return ErrInvalidParameter.withMessage("invalid Limits.%s", field)
}

// validateTopics is Validate for the topic limits.
func (l Limits) validateTopics() error {
	switch {
	case l.Topics < 1:
		return badLimit("Topics")
	case l.Subscriptions < 1:
		return badLimit("Subscriptions")
	case !l.TopicMsgSize.valid() || l.TopicMsgSize.Min < 1:
		return badLimit("TopicMsgSize")
	case l.PublishBatchBytes < 1:
		return badLimit("PublishBatchBytes")
	case l.Tags < 0:
		return badLimit("Tags")
	case l.TagLength < 1:
		return badLimit("TagLength")
	case l.BindingKeys < 1:
		return badLimit("BindingKeys")
	case l.RoutingKeyLength < 1:
		return badLimit("RoutingKeyLength")
	case l.RoutingKeyDots < 0:
		return badLimit("RoutingKeyDots")
	case l.EndpointLength < len("http://x"):
		return badLimit("EndpointLength")
	case !l.SubscriptionListLimit.valid() || l.SubscriptionListLimit.Min < 1:
		return badLimit("SubscriptionListLimit")
	case l.SubscriptionListOffset < 0:
		return badLimit("SubscriptionListOffset")
	case l.PushWorkers < 1:
		return badLimit("PushWorkers")
	case l.PushTimeout <= 0 || l.PushTimeout > MaxDuration:
		return badLimit("PushTimeout")
	}
	return nil
}

// MaxDuration is the longest duration [Limits] may allow anywhere: 100
// years, so that any instant a queue computes (now plus a delay, a
// timeout or a retention) fits in Unix nanoseconds.
const MaxDuration = 100 * 365 * 24 * time.Hour

// batchTooLarge returns ErrBatchTooLarge, its text naming l.BatchBytes
// when that is not CMQ's 1 MiB.
func (l *Limits) batchTooLarge() error {
	if l.BatchBytes == 1<<20 {
		return ErrBatchTooLarge
	}
	return ErrBatchTooLarge.withMessage("total message size exceed %d bytes", l.BatchBytes)
}
