// Package cmq implements the queue model of Tencent Cloud Message Queue
// (CMQ) in-process: named queues with CMQ's attributes, limits, message life
// cycle and numeric error codes, for Go services that want a reliable
// in-process queue, for tests that need CMQ behaviour without the cloud, and
// for frontends such as a CMQ-compatible HTTP server.
//
// # Tour
//
// A [Broker] owns queues. [Broker.CreateQueue] makes one with
// [QueueAttributes] (nil fields take CMQ's defaults from [Limits]);
// [Broker.Queue], [Broker.ListQueues] and [Broker.DeleteQueue] find, page
// and remove them.
//
// A [Queue] holds messages. [Queue.Send] and [Queue.BatchSend] enqueue,
// optionally with a delay. [Queue.Receive] and [Queue.BatchReceive] hand out
// visible messages, each with a receipt handle; a received message turns
// inactive for the queue's VisibilityTimeout and comes back unless
// [Queue.Delete] or [Queue.BatchDelete] is called with the handle of its
// latest receive before then. A receive with a wait long-polls: it returns
// as soon as a message becomes visible, and its context cancels it with
// nothing consumed. [Queue.Attributes] returns the settings and exact
// counts; [Queue.SetAttributes] changes only the attributes it is given.
//
// Beyond the basics: [Queue.Rewind] replays deleted messages kept for the
// queue's RewindPeriod; a [DeadLetterPolicy] moves messages received too
// often, or not deleted in time, to a dead-letter queue; and two extensions
// that CMQ's HTTP API lacks, [Queue.ChangeVisibility] and [Queue.Purge].
//
// Every failure is an [*Error] carrying CMQ's code and module code, and
// matches one of the Err… sentinels with errors.Is; only a call whose
// context is done (on entry, or during a long poll) returns the context's
// error itself:
//
//	_, err := q.Receive(ctx, 0)
//	if errors.Is(err, cmq.ErrNoMessage) { … } // code 7000, module 10200
//
// # One API, three places
//
// The same queue model is reached in three ways:
//
//   - In-process, through [Broker] and [*Queue] handles: the fastest path
//     (a *Queue skips the name lookup), with every Go-only extension, for
//     code that will always embed the broker.
//   - Through [Service], CMQ's actions addressed by queue name, for code
//     that must also run against cmqd or Tencent's TDMQ-CMQ. [Broker.Service]
//     is the in-process implementation; the remote client in package
//     cmqclient implements it over CMQ's HTTP API, so such
//     code moves between them by changing one constructor.
//   - Over the wire, through cmqd (package cmqhttp), for clients in any
//     language that speak CMQ's HTTP API.
//
// What differs over the wire: times and durations travel in whole seconds
// (EnqueueTime, NextVisibleTime, delays, waits, timeouts, attributes), so
// code that must work remotely should use whole seconds and tolerate times
// rounded to them; [Message].DeadLetter is not carried (CMQ's API has no
// field for it), so a remote receive leaves it nil; and the extensions in
// [ServiceExtensions] exist only in-process (a remote client does not
// implement them, which a type assertion reveals).
//
// # Contexts
//
// Every method of Broker and Queue that may block or do I/O takes a
// context first: with a write-ahead log or a remote endpoint behind them
// they wait for I/O. Only [Broker.Queue] (a map lookup), [Queue.Name],
// [Queue.ID], [Broker.Limits], [Broker.Service] and [Broker.Close] take
// none. Every such call makes the same entry checks, in this order:
//
//   - after [Broker.Close] it returns [ErrClosed], whatever its arguments;
//   - otherwise, if ctx is already done, it does nothing and returns
//     ctx.Err() itself (not wrapped, not an [*Error]);
//   - then its arguments are validated.
//
// Once the work has begun (the queue's lock is taken) the call completes
// and ctx is not consulted again, except by a long poll's wait, which ctx
// ends with nothing consumed. A durable broker will likewise wait for its
// sync without cancellation, because by then the change is already
// visible to other callers.
//
// # Durability
//
// [NewBroker] keeps everything in memory: it dies with the process. [Open]
// keeps a broker in a directory instead: every change is appended to a
// write-ahead log (package internal/wal: CRC32C-checked records in segment
// files) while the lock that orders it is held, and the call returns once
// the record is durable under the [SyncPolicy] given with [WithSync]:
//
//   - [SyncAlways] (the default): the call returns after an fsync that
//     covers it; concurrent calls share one fsync (group commit, with no
//     goroutine or timer while idle). Nothing acknowledged is lost, even
//     to a power loss.
//   - [SyncEvery](d): a timer, armed only while changes wait, fsyncs
//     within d; a power loss loses at most the last d.
//   - [SyncNone]: the kernel writes back when it likes.
//
// Under every policy a call that returned has handed its record to the
// kernel, so it survives the process being killed (kill -9). Reopening
// rebuilds the exact state: queues with their ids, attributes, times and
// dead-letter bindings; every message with its visibility, delay, dequeue
// count, first dequeue time and retention clock; deleted messages kept for
// rewind. A lease running at the close keeps its receipt handle until its
// next visible time. Message ids never repeat across restarts, and the
// clock starts no earlier than the last logged instant. Token buckets
// start full. Expiry by retention or time-to-live follows from the logged
// times and needs no record.
//
// A record cut short at the very end of the log (a crash mid-write) is cut
// and logged; any other damage makes [Open] fail with an [ErrJournal] that
// names the file and offset. If a write or fsync fails, the broker refuses
// every later call with ErrJournal and never retries the fsync (a retried
// fsync can report success for data that was lost). The log is compacted
// in the background, by a goroutine that exists only while it runs, when
// it holds more than twice the live data plus a segment (64 MiB): every
// queue is snapshotted into new segments, in steps of at most 1,024
// messages under its lock (released between steps), and the old segments
// are removed.
//
// # Time
//
// The Go API takes time.Duration; CMQ's whole seconds belong to the wire.
// Each operation reads the clock under the queue's lock (once, or once per
// bounded step when a backlog of expiries must be caught up), from a clock
// that is wall time at [NewBroker] plus monotonic time since; a queue's
// operations see instants that never go back, in the order they take its
// lock. Nothing runs in the background: visibility, delays, retention
// and token buckets are derived from that clock when a queue is used, and a
// timer exists only while a receive waits. Under testing/synctest every
// time-dependent behaviour runs on the bubble's fake clock, so tests need
// no real sleep; build the Broker inside the bubble.
//
// # Concurrency
//
// All methods of Broker and Queue are safe for concurrent use. Each queue
// has one mutex guarding its messages, counts, token buckets and waiters;
// the broker's lock guards only the name map and dead-letter bindings. The
// lock order is broker, then source queue, then dead-letter queue. No user
// code runs under a lock. Each waiting receive has its own condition
// variable on the queue's mutex, so a send wakes exactly one waiter per
// message it makes visible, and a waiter's timeout or cancellation wakes
// only that waiter. [Broker.Close] wakes every waiter and leaves no
// goroutine or timer behind.
//
// Bulk work (retention drops and time-to-live moves to a dead-letter
// queue) runs in steps of at most 1,024 messages under the queue's lock,
// which is released between steps, so a queue catching up on millions of
// expiries does not hold up other queues, lookups or [Broker.Close].
//
// # Inside a queue
//
// A queue orders its messages by (next visible time, send sequence), the
// order in which receives take them. Keys that arrive in that order anyway
// (messages sent without delay or moved in from a source queue, and
// messages just received with the queue's visibility timeout) are appended
// to two sorted runs; the rest (delays, changed visibilities, rewinds) go to
// a github.com/google/btree B-tree, made only when a key first needs it. A
// receive takes the least key of the three. Every operation is O(log n) in
// the queue's depth, and the common send, receive, delete cycle does no
// tree work at all.
//
// A receipt handle is 32 hexadecimal digits: the message's sequence number
// in its queue and a 64-bit random nonce drawn for that receive (from
// math/rand/v2's ChaCha8 generator, seeded by the operating system). Only
// the handle of the message's latest receive works, and only before its
// next visible time: a handle from another queue, another message or an
// older receive, or with any character changed, is refused.
//
// QPS: each queue has a token bucket for each of send, receive and delete
// ([Limits].QPS; a batch of n costs n, a receive costs the number of
// messages asked for, charged when the call starts). A refusal is
// immediate and changes nothing. A call refused for its arguments or for
// the queue's state (a body too large, a full heap, a stale receipt
// handle, a batch delete whose handles all fail) takes no token.
//
// # Fidelity
//
// Modelled as CMQ documents them, with the project's decisions where CMQ's
// sources disagree: queue names and case-insensitive uniqueness; every
// attribute range and default; message size, batch size (16) and batch
// bytes (1 MiB); delays (0 to 3600 s); visibility timeouts and receipt
// handles valid only for the latest receive and only before the next
// visible time; long polling (0 to 30 s); retention counted from enqueue
// time in every state; the heap limit (MaxMsgHeapNum, which also counts
// deleted messages kept for rewind); per-queue QPS buckets where a batch of
// n costs n and a refusal is immediate; exact active, inactive, delayed and
// rewind counts and minMsgTime; rewind; dead-letter policies 0 and 1; and
// the error codes, module codes and texts.
//
// Where an in-process queue differs: delivery order is exact (earliest next
// visible time first, ties in send order), where CMQ promises no order;
// counts are exact where CMQ's are approximate; durations may be finer than
// a second; a deleted queue's name may be reused at once (no 6040); the
// 20,000 delayed-message limit (6070) is not modelled; a broker made by
// [NewBroker] keeps messages in memory only (see Durability for [Open]).
//
// Rules this package settles where CMQ is silent: policy 0 moves a message
// at the receive that would exceed MaxReceiveCount, and that receive gets
// the next visible message instead; a dead-letter move keeps
// the message id and body, and the moved message starts afresh in the
// dead-letter queue (enqueue time = move time, dequeue count 0), with its
// source recorded in [Message].DeadLetter (a message moved on from a
// second dead-letter queue keeps its first record); policy 1 moves a message
// that is not deleted within MaxTimeToLive of its send, whatever its state,
// at that instant (a long poll on the dead-letter queue wakes then, even if
// no one uses the source); a message that would go to a full dead-letter
// queue is dropped and logged; [Queue.Rewind] also returns
// received-but-not-deleted messages to active, delivers rewound messages
// afresh (their receive count starts again) and does not renew a
// time-to-live. After [Broker.Close] every call returns [ErrClosed],
// whatever its arguments.
//
// # Topics
//
// CMQ's publish/subscribe model lives on the same Broker: [Broker.CreateTopic],
// [Topic.Subscribe] (protocol "queue" or "http"), [Topic.Publish] and
// [Topic.BatchPublish]. A topic filters by tags ([FilterTags]: a
// subscription without filter tags gets everything, one with filter tags
// gets a message only if the sets intersect, so an untagged message reaches
// only untagged subscriptions) or by routing key ([FilterRoutingKey]:
// RabbitMQ topic-exchange matching, "*" one word, "#" zero or more). The
// filter type is fixed at creation. Every limit is in [Limits]. A publish
// with no subscription fails with [ErrNoSubscription], one that matches
// nothing with [ErrNoMatch]; both publish nothing.
//
// A queue subscription receives the raw body through the queue's normal
// send path (its size, heap and QPS rules) before Publish returns. When
// that send fails (a full, throttled or deleted queue) the publish still
// succeeds and the other subscriptions are unaffected: the delivery is
// pending and retried by the subscription's strategy like an HTTP push; a
// body larger than the queue's MaxMsgSize is dropped and logged at once.
// HTTP pushes are made by one pool of at most [Limits].PushWorkers
// goroutines per broker, started when a delivery falls due and ended when
// none is; one timer waits for the next retry. POST with CMQ's headers
// (x-cmq-request-id, x-cmq-message-id, x-cmq-message-tag, User-Agent
// [PushUserAgent]) and body (JSON or SIMPLIFIED); any 2xx is success; no
// answer within [Limits].PushTimeout (15 s) is a failure. BACKOFF_RETRY
// retries 3 times 10 to 20 s apart; EXPONENTIAL_DECAY_RETRY after 1, 2, 4
// … 512 s, then every 512 s, up to a day after the publish; then the
// delivery is dropped and logged. MsgCount of a subscription, and of its
// topic, counts pending deliveries. Unsubscribe drops a subscription's
// pending deliveries; DeleteTopic is refused while subscriptions remain.
//
// A durable broker ([Open]) keeps topics, subscriptions and pending
// deliveries; a delivery made just before a crash, whose end was not yet
// logged, is made again after the restart (at least once). Topic message
// ids start with "T" and never repeat. The JSON body's TopicOwner is 0 and
// GetTopicAttributes' createUin 0: a broker has no account.
package cmq
