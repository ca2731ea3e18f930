package cmq_test

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

var soakFor = flag.Duration("soak", 0, "run TestHistory in rounds for this long (real time), e.g. -soak=2m")

// TestHistory runs producers and consumers on several queues at once and
// records every send, delivery, visibility change and delete, then checks
// the history: every message delivered at least once and deleted exactly
// once, no two leases of one message overlapping, nothing delivered after
// its delete, every delete and visibility change succeeding exactly when
// its lease was current, and every count back at zero.
//
// Consumers misbehave on purpose: some "crash" (drop a message without
// deleting it), some delete after the lease ended, some extend the lease
// first. Everything runs in a synctest bubble, so visibility timeouts pass
// in fake time and crashed messages come back at once.
//
// A topic round does the same with producers that publish to a topic
// whose queue subscriptions (one without filter tags, the others with a
// filter tag each) send to the queues: every published message must land
// exactly once in each queue whose subscription matches its tags and in
// no other, and then be delivered and deleted as above.
//
// In plain go test it runs three rounds; with -soak=D it runs larger rounds
// with new seeds until D of real time has passed.
func TestHistory(t *testing.T) {
	start := time.Now()
	var total historyStats
	for round := 0; ; round++ {
		cfg := historyConfig{
			seed:        uint64(round),
			queues:      3,
			producers:   2, // per queue
			consumers:   4, // per queue
			perProducer: 300,
		}
		if *soakFor > 0 {
			cfg.queues, cfg.producers, cfg.consumers = 4, 3, 8
			cfg.perProducer = 400 + round%5*100
		}
		var s historyStats
		synctest.Test(t, func(t *testing.T) { s = runHistory(t, cfg) })
		if t.Failed() {
			t.Fatalf("round %d (seed %d) failed", round, cfg.seed)
		}
		total.add(s)
		// The same against a durable broker closed and reopened at
		// random instants while producers and consumers run.
		cfg.durable = true
		synctest.Test(t, func(t *testing.T) { s = runHistory(t, cfg) })
		if t.Failed() {
			t.Fatalf("round %d (seed %d), durable broker, failed", round, cfg.seed)
		}
		total.add(s)
		// Publish and fan-out through a topic (in-memory broker).
		cfg.durable, cfg.topic = false, true
		synctest.Test(t, func(t *testing.T) { s = runHistory(t, cfg) })
		if t.Failed() {
			t.Fatalf("round %d (seed %d), topic, failed", round, cfg.seed)
		}
		total.add(s)
		total.rounds++
		if round >= 2 && time.Since(start) >= *soakFor {
			break
		}
	}
	t.Logf("history: %d rounds in %v: %s", total.rounds, time.Since(start).Round(time.Millisecond), total)
}

type historyConfig struct {
	seed                                      uint64
	queues, producers, consumers, perProducer int
	durable                                   bool // cmq.Open, reopened now and then
	topic                                     bool // producers publish to a topic over the queues
}

type historyStats struct {
	rounds, sends, deliveries, deletes, lateDeletes, crashes, extends, reopens, publishes int
}

func (s *historyStats) add(o historyStats) {
	s.sends += o.sends
	s.deliveries += o.deliveries
	s.deletes += o.deletes
	s.lateDeletes += o.lateDeletes
	s.crashes += o.crashes
	s.extends += o.extends
	s.reopens += o.reopens
	s.publishes += o.publishes
}

func (s historyStats) String() string {
	return fmt.Sprintf("%d sends, %d messages published to a topic, %d deliveries, %d deletes, %d late deletes refused, %d crashes, %d lease extensions, %d reopens of a durable broker",
		s.sends, s.publishes, s.deliveries, s.deletes, s.lateDeletes, s.crashes, s.extends, s.reopens)
}

// Events of the history. Times are the broker's (the bubble's fake clock).
type (
	histSend struct {
		queue   string
		body    string
		at      time.Time
		visible time.Time // at + delay
	}
	// histLease is one delivery: from its receive to its next visible time,
	// as last set by a successful ChangeVisibility.
	histLease struct {
		queue    string
		dequeues int
		body     string
		start    time.Time
		end      time.Time
	}
	// histPublish is one published message: its publish instant and the
	// queues whose subscriptions match its tags.
	histPublish struct {
		at     time.Time
		queues []string
	}
	histDelete struct {
		dequeues int // of the lease whose handle was used
		at       time.Time
		ok       bool
	}
	histChange struct {
		dequeues int
		at       time.Time
		ok       bool
		current  bool // the lease had not ended when the change was made
	}
)

// history is the shared record, one mutex for all.
type history struct {
	mu      sync.Mutex
	sends   map[string]histSend
	leases  map[string][]*histLease
	deletes map[string][]histDelete
	changes map[string][]histChange
	pubs    map[string]histPublish // by body, in a topic round
	stats   historyStats
}

func runHistory(t *testing.T, cfg historyConfig) historyStats {
	const vt = 2 * time.Second
	l := cmq.DefaultLimits()
	l.QPS = 0
	dir := t.TempDir()
	open := func() *cmq.Broker {
		if cfg.durable {
			b, err := cmq.Open(t.Context(), dir, cmq.WithLimits(l), cmq.WithSync(cmq.SyncNone))
			require.NoError(t, err)
			return b
		}
		b, err := cmq.NewBroker(cmq.WithLimits(l))
		require.NoError(t, err)
		return b
	}
	b := open()
	defer func() { b.Close() }()
	h := &history{
		sends:   map[string]histSend{},
		leases:  map[string][]*histLease{},
		deletes: map[string][]histDelete{},
		changes: map[string][]histChange{},
		pubs:    map[string]histPublish{},
	}
	total := cfg.queues * cfg.producers * cfg.perProducer
	var deleted atomic.Int64
	// In a topic round the number of deliveries is known only once every
	// publish is made: producers add to expected before each publish.
	var expected, producing atomic.Int64
	// A lost message would keep the consumers polling forever: they give
	// up after an hour of fake time and the checks below report it.
	giveUp := time.Now().Add(time.Hour)
	done := func() bool { return deleted.Load() >= int64(total) || time.Now().After(giveUp) }
	if cfg.topic {
		producing.Store(int64(cfg.queues * cfg.producers))
		done = func() bool {
			return producing.Load() == 0 && deleted.Load() >= expected.Load() || time.Now().After(giveUp)
		}
	}
	var wg sync.WaitGroup
	queues := make([]*cmq.Queue, cfg.queues)
	var current atomic.Pointer[[]*cmq.Queue] // the queues of the broker open now
	for qi := range queues {
		q, err := b.CreateQueue(t.Context(), fmt.Sprintf("history-%d", qi), cmq.QueueAttributes{
			VisibilityTimeout: cmq.Ptr(vt),
			PollingWait:       cmq.Ptr(time.Second),
		})
		require.NoError(t, err)
		queues[qi] = q
	}
	current.Store(&queues)
	var tp *cmq.Topic
	if cfg.topic {
		var err error
		tp, err = b.CreateTopic(t.Context(), "history", cmq.TopicAttributes{})
		require.NoError(t, err)
		for qi, q := range queues {
			_, err := tp.Subscribe(t.Context(), q.Name(), cmq.SubscriptionAttributes{
				Protocol: cmq.ProtocolQueue, Endpoint: q.Name(), FilterTags: histFilters[qi%len(histFilters)],
			})
			require.NoError(t, err)
		}
	}
	for qi := range queues {
		q := func() *cmq.Queue { return (*current.Load())[qi] }
		for p := range cfg.producers {
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(qi*1000+p)))
			if cfg.topic {
				wg.Go(func() {
					defer producing.Add(-1)
					histPublishTopic(t, h, tp, queues, rng, qi*cfg.producers+p, cfg.perProducer, &expected)
				})
				continue
			}
			wg.Go(func() { histProduce(t, h, q, rng, p, cfg.perProducer) })
		}
		for c := range cfg.consumers {
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(qi*1000+500+c)))
			wg.Go(func() { histConsume(t, h, q, rng, vt, &deleted, done) })
		}
	}
	if cfg.durable {
		// Close and reopen at random instants: a call the close catches
		// returns ErrClosed having done nothing, and is retried on the
		// reopened broker; leases and handles carry over.
		rng := rand.New(rand.NewPCG(cfg.seed, 99))
		for !done() {
			time.Sleep(time.Duration(500+rng.IntN(3000)) * time.Millisecond)
			require.NoError(t, b.Close())
			b = open()
			next := make([]*cmq.Queue, len(queues))
			for qi := range next {
				q, err := b.Queue(queues[qi].Name())
				require.NoError(t, err)
				next[qi] = q
			}
			current.Store(&next)
			h.mu.Lock()
			h.stats.reopens++
			h.mu.Unlock()
		}
		queues = *current.Load()
	}
	wg.Wait()

	if cfg.topic {
		total = int(expected.Load())
		checkFanOut(t, h)
	}
	require.Len(t, h.sends, total)
	checkHistory(t, h)
	for _, q := range queues {
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []int{0, 0, 0, 0},
			[]int{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum, info.RewindMsgNum}, "%s: counts at the end", q.Name())
		assert.True(t, info.MinMsgTime.IsZero(), "%s: MinMsgTime %v at the end", q.Name(), info.MinMsgTime)
	}
	return h.stats
}

// produce sends n messages, singly or in batches, some delayed.
func histProduce(t *testing.T, h *history, queue func() *cmq.Queue, rng *rand.Rand, p, n int) {
	q := queue()
	for sent := 0; sent < n; {
		k := min(n-sent, 1+rng.IntN(5))
		var delay time.Duration
		if rng.IntN(4) == 0 {
			delay = time.Duration(1+rng.IntN(3)) * time.Second
		}
		bodies := make([]string, k)
		for i := range bodies {
			bodies[i] = fmt.Sprintf("%s/p%d/m%d", q.Name(), p, sent+i)
		}
		var ids []string
		err := retryClosed(func() (err error) {
			q = queue()
			if k == 1 {
				var id string
				id, err = q.Send(t.Context(), bodies[0], delay)
				ids = []string{id}
			} else {
				ids, err = q.BatchSend(t.Context(), bodies, delay)
			}
			return err
		})
		if !assert.NoError(t, err) {
			return
		}
		now := time.Now()
		h.mu.Lock()
		for i, id := range ids {
			_, dup := h.sends[id]
			assert.False(t, dup, "id %s returned twice", id)
			h.sends[id] = histSend{queue: q.Name(), body: bodies[i], at: now, visible: now.Add(delay)}
			h.stats.sends++
		}
		h.mu.Unlock()
		sent += k
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		}
	}
}

// consume receives until every message of the run is deleted, and handles
// each message in one of four ways: delete soon, crash (never delete),
// delete after the lease ended, or extend the lease and then delete.
func histConsume(t *testing.T, h *history, queue func() *cmq.Queue, rng *rand.Rand, vt time.Duration, deleted *atomic.Int64, done func() bool) {
	ctx := t.Context()
	q := queue()
	for !done() {
		var msgs []cmq.Message
		single, n, wait := rng.IntN(2) == 0, 1+rng.IntN(4), time.Duration(rng.IntN(3))*time.Second
		err := retryClosed(func() (err error) {
			q = queue()
			if single {
				var m cmq.Message
				m, err = q.Receive(ctx, cmq.QueueWait)
				msgs = []cmq.Message{m}
			} else {
				msgs, err = q.BatchReceive(ctx, n, wait)
			}
			return err
		})
		if errors.Is(err, cmq.ErrNoMessage) {
			continue
		}
		if !assert.NoError(t, err) {
			return
		}
		now := time.Now()
		h.mu.Lock()
		for _, m := range msgs {
			assert.True(t, m.NextVisibleTime.Equal(now.Add(vt)), "next visible time %v at %v", m.NextVisibleTime, now)
			// The producer may not have recorded the send yet: the id and
			// body are checked against the sends at the end.
			h.leases[m.ID] = append(h.leases[m.ID], &histLease{
				queue: q.Name(), dequeues: m.DequeueCount, body: m.Body, start: now, end: m.NextVisibleTime,
			})
			h.stats.deliveries++
		}
		h.mu.Unlock()
		for _, m := range msgs {
			switch r := rng.IntN(20); {
			case r < 2: // crash: the message comes back after vt
				h.mu.Lock()
				h.stats.crashes++
				h.mu.Unlock()
				continue
			case r < 4: // late: the lease ends before the delete
				time.Sleep(vt + time.Duration(rng.IntN(500))*time.Millisecond)
			case r < 6: // extend the lease, work past the first timeout, delete
				var at time.Time
				err := retryClosed(func() (err error) {
					at, err = queue().ChangeVisibility(ctx, m.ReceiptHandle, 2*vt)
					return err
				})
				h.recordChange(m, err == nil, at)
				time.Sleep(vt + time.Duration(rng.IntN(500))*time.Millisecond)
			default:
				if rng.IntN(4) == 0 {
					time.Sleep(time.Duration(rng.IntN(int(vt/time.Millisecond))) * time.Millisecond)
				}
			}
			err := retryClosed(func() error { return queue().Delete(ctx, m.ReceiptHandle) })
			if err != nil && !assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle) {
				return
			}
			if err == nil {
				deleted.Add(1)
			}
			h.mu.Lock()
			h.deletes[m.ID] = append(h.deletes[m.ID], histDelete{dequeues: m.DequeueCount, at: time.Now(), ok: err == nil})
			if err == nil {
				h.stats.deletes++
			} else {
				h.stats.lateDeletes++
			}
			h.mu.Unlock()
		}
	}
}

// histFilters are the filter tags of the topic round's subscriptions, by
// queue index: the first takes every message.
var histFilters = [][]string{nil, {"a"}, {"b"}, {"a", "c"}}

// histTags are the tags a topic round's producers publish with.
var histTags = [][]string{nil, {"a"}, {"b"}, {"a", "b"}, {"c"}}

// histPublishTopic publishes n messages to the topic, singly or in
// batches, each batch with tags drawn from histTags, and records which
// queues each must reach.
func histPublishTopic(t *testing.T, h *history, tp *cmq.Topic, queues []*cmq.Queue, rng *rand.Rand, p, n int, expected *atomic.Int64) {
	for sent := 0; sent < n; {
		k := min(n-sent, 1+rng.IntN(5))
		tags := histTags[rng.IntN(len(histTags))]
		var to []string
		for qi, q := range queues {
			f := histFilters[qi%len(histFilters)]
			if len(f) == 0 || slices.ContainsFunc(f, func(x string) bool { return slices.Contains(tags, x) }) {
				to = append(to, q.Name())
			}
		}
		bodies := make([]string, k)
		for i := range bodies {
			bodies[i] = fmt.Sprintf("topic/p%d/m%d", p, sent+i)
		}
		expected.Add(int64(k * len(to)))
		var err error
		if k == 1 {
			_, err = tp.Publish(t.Context(), bodies[0], tags, "")
		} else {
			_, err = tp.BatchPublish(t.Context(), bodies, tags, "")
		}
		if !assert.NoError(t, err) {
			return
		}
		now := time.Now()
		h.mu.Lock()
		for _, body := range bodies {
			h.pubs[body] = histPublish{at: now, queues: to}
			h.stats.publishes++
		}
		h.mu.Unlock()
		sent += k
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		}
	}
}

// checkFanOut checks a topic round: every published body reached each
// queue its tags select exactly once (one message id per queue) and no
// other queue. It then records each delivered message as a send, at its
// publish instant, for checkHistory.
func checkFanOut(t *testing.T, h *history) {
	got := map[string]map[string][]string{} // body → queue → ids
	for id, leases := range h.leases {
		l := leases[0]
		p, ok := h.pubs[l.body]
		if !assert.True(t, ok, "delivered %s (%q) was never published", id, l.body) {
			continue
		}
		if got[l.body] == nil {
			got[l.body] = map[string][]string{}
		}
		got[l.body][l.queue] = append(got[l.body][l.queue], id)
		h.sends[id] = histSend{queue: l.queue, body: l.body, at: p.at, visible: p.at}
	}
	for body, p := range h.pubs {
		var queues []string
		for q, ids := range got[body] {
			queues = append(queues, q)
			assert.Len(t, ids, 1, "%q landed in %s as %d messages", body, q, len(ids))
		}
		slices.Sort(queues)
		assert.Equal(t, p.queues, queues, "%q: the queues it landed in", body)
	}
}

// recordChange records a ChangeVisibility of m's lease at the current
// instant; a successful one moves the lease's end to at.
func (h *history) recordChange(m cmq.Message, ok bool, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	c := histChange{dequeues: m.DequeueCount, at: now, ok: ok}
	for _, l := range h.leases[m.ID] {
		if l.dequeues != m.DequeueCount {
			continue
		}
		c.current = now.Before(l.end)
		if ok {
			l.end = at
		}
	}
	h.changes[m.ID] = append(h.changes[m.ID], c)
	if ok {
		h.stats.extends++
	}
}

// checkHistory checks the recorded history of every message.
func checkHistory(t *testing.T, h *history) {
	for id := range h.leases {
		_, ok := h.sends[id]
		assert.True(t, ok, "delivered id %s was never sent", id)
	}
	ids := make([]string, 0, len(h.sends))
	for id := range h.sends {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := h.sends[id]
		leases := h.leases[id]
		if !assert.NotEmpty(t, leases, "%s was never delivered", id) {
			continue
		}
		// Deliveries are numbered 1..k by dequeue count, each once, in
		// time order, and each lease begins no earlier than the previous
		// one ended: no two consumers ever held the message at once.
		slices.SortFunc(leases, func(a, b *histLease) int { return a.dequeues - b.dequeues })
		for i, l := range leases {
			assert.Equal(t, s.queue, l.queue, "%s delivered from another queue", id)
			assert.Equal(t, s.body, l.body, "%s: body", id)
			assert.Equal(t, i+1, l.dequeues, "%s: dequeue counts %v", id, histDequeueCounts(leases))
			if i == 0 {
				assert.False(t, l.start.Before(s.visible), "%s delivered at %v before its delay ended at %v", id, l.start, s.visible)
				continue
			}
			prev := leases[i-1]
			assert.False(t, l.start.Before(prev.end), "%s: delivery %d at %v while delivery %d held it until %v",
				id, l.dequeues, l.start, prev.dequeues, prev.end)
		}
		last := leases[len(leases)-1]

		// Exactly one delete succeeded, with the last delivery's handle,
		// within its lease; every refused delete came after its lease.
		oks := 0
		for _, d := range h.deletes[id] {
			l := leases[d.dequeues-1]
			if d.ok {
				oks++
				assert.Equal(t, last.dequeues, d.dequeues, "%s: deleted with the handle of delivery %d, then delivered again (%d deliveries)", id, d.dequeues, len(leases))
				assert.True(t, d.at.Before(l.end), "%s: delete at %v succeeded after its lease ended at %v", id, d.at, l.end)
			} else {
				assert.False(t, d.at.Before(l.end), "%s: delete at %v refused within its lease (until %v)", id, d.at, l.end)
			}
		}
		assert.Equal(t, 1, oks, "%s: successful deletes", id)

		// A lease extension works exactly while the lease is current.
		for _, c := range h.changes[id] {
			assert.Equal(t, c.current, c.ok, "%s: ChangeVisibility at %v of delivery %d", id, c.at, c.dequeues)
		}
	}
}

func histDequeueCounts(ls []*histLease) []int {
	out := make([]int, len(ls))
	for i, l := range ls {
		out[i] = l.dequeues
	}
	return out
}

// retryClosed calls f until it returns something other than ErrClosed: a
// call that a reopening broker's Close caught did nothing, and is made
// again on the reopened broker.
func retryClosed(f func() error) error {
	for {
		err := f()
		if !errors.Is(err, cmq.ErrClosed) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}
