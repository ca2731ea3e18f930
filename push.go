package cmq

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opencmq/cmq/internal/wal"
)

// PushUserAgent is the User-Agent of every HTTP push, CMQ's own.
const PushUserAgent = "Qcloud Notification Service Agent"

// WithPushTransport makes HTTP pushes go through rt instead of a transport
// of the broker's own (for tests, proxies or TLS settings). The broker
// does not close rt's idle connections.
func WithPushTransport(rt http.RoundTripper) Option {
	return func(c *brokerConfig) { c.transport = rt }
}

// delivery is one message for one subscription not yet delivered: an
// HTTP push, or a queue send that failed and waits for a retry.
type delivery struct {
	seq       uint64 // broker-unique: names it in the journal
	sub       *Subscription
	msgID     string
	body      string
	tags      []string
	published int64 // publish instant, Unix ns
	attempts  int   // attempts made
	at        int64 // when the next attempt is due
	idx       int   // in the heap
}

// deliveries is a min-heap by due time, then seq.
type deliveries []*delivery

func (h deliveries) Len() int { return len(h) }
func (h deliveries) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h deliveries) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *deliveries) Push(x any)   { d := x.(*delivery); d.idx = len(*h); *h = append(*h, d) }
func (h *deliveries) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

// pusher makes a broker's pending deliveries: a pool of at most
// [Limits].PushWorkers goroutines, started when a delivery falls due and
// ended when none is due, and one timer, armed only while deliveries wait
// for a later instant. Nothing runs while nothing is pending.
type pusher struct {
	b       *Broker
	client  *http.Client
	own     *http.Transport // nil when the transport was given
	ctx     context.Context // cancelled by close: ends requests in flight
	cancel  context.CancelFunc
	workers sync.WaitGroup // running workers
	timers  sync.WaitGroup // an armed timer or its running func

	mu      sync.Mutex
	due     deliveries
	running int
	timer   *time.Timer
	timerAt int64
	closed  bool
	nextSeq uint64
	pending map[uint64]*delivery // every delivery not ended, due or in flight
}

func newPusher(b *Broker, rt http.RoundTripper) *pusher {
	p := &pusher{b: b, pending: make(map[uint64]*delivery)}
	if rt == nil {
		p.own = &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: b.limits.PushWorkers,
			DisableCompression:  true,
		}
		rt = p.own
	}
	p.client = &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// add makes ds pending: numbers them, counts them on their
// subscriptions, logs them (a durable broker returns once they are
// durable), schedules them. A delivery already attempted is due after its
// first retry interval.
func (p *pusher) add(ds []*delivery, now int64) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	var pos wal.Pos
	for _, d := range ds {
		if d.attempts > 0 { // a failed queue send
			at, ok := d.sub.retryAt(d, now)
			if !ok {
				d.sub.noteDelivery(0, 0, 0, 1)
				continue
			}
			d.sub.noteDelivery(0, 0, 1, 0)
			d.at = at
		}
		d.seq = p.nextSeq
		p.nextSeq++
		d.sub.pending.Add(1)
		p.pending[d.seq] = d
		pos = p.b.logPending(d, pos)
		heap.Push(&p.due, d)
	}
	p.kick(now)
	p.mu.Unlock()
	return p.b.finish(pos)
}

// kick starts workers for what is due and arms the timer for what is not.
// The caller holds p.mu.
func (p *pusher) kick(now int64) {
	if len(p.due) == 0 {
		return
	}
	if p.due[0].at <= now {
		due := 0
		for _, d := range p.due {
			if d.at <= now {
				due++
			}
		}
		for p.running < min(p.b.limits.PushWorkers, due) {
			p.running++
			p.workers.Add(1)
			go p.work()
		}
		return
	}
	at := p.due[0].at
	if p.timer != nil && p.timerAt <= at {
		return
	}
	if p.timer != nil && p.timer.Stop() {
		p.timers.Done()
	}
	p.timers.Add(1)
	p.timerAt = at
	p.timer = time.AfterFunc(time.Duration(at-now), p.fired)
}

// start starts delivering what a durable broker replayed.
func (p *pusher) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.kick(p.b.now())
	}
}

// fired is the timer's function.
func (p *pusher) fired() {
	defer p.timers.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer, p.timerAt = nil, 0
	if !p.closed {
		p.kick(p.b.now())
	}
}

// work makes due deliveries until none is due.
func (p *pusher) work() {
	defer p.workers.Done()
	for {
		p.mu.Lock()
		now := p.b.now()
		if p.closed || len(p.due) == 0 || p.due[0].at > now {
			p.running--
			if !p.closed {
				p.kick(now)
			}
			idle := p.running == 0 && len(p.due) == 0
			p.mu.Unlock()
			if idle && p.own != nil {
				p.own.CloseIdleConnections() // no connection goroutines while idle
			}
			return
		}
		d := heap.Pop(&p.due).(*delivery)
		p.mu.Unlock()
		p.attempt(d)
	}
}

// attempt makes one attempt at d, then ends it or schedules its retry.
func (p *pusher) attempt(d *delivery) {
	s := d.sub
	a, ok := s.snapshot()
	if !ok { // unsubscribed or deleted
		p.end(d, nil)
		return
	}
	var err error
	if a.Protocol == ProtocolQueue {
		err = s.t.sendToQueue(p.ctx, a.Endpoint, []string{d.body})
	} else {
		err = p.post(d, a)
	}
	if p.ctx.Err() != nil {
		return // closing: the delivery stays pending in the journal
	}
	d.attempts++
	now := p.b.now()
	if err == nil {
		s.noteDelivery(1, 0, 0, 0)
		p.end(d, nil)
		return
	}
	at, ok := s.retryAt(d, now)
	if !ok || a.Protocol == ProtocolQueue && permanent(err) {
		s.noteDelivery(0, 1, 0, 1)
		p.end(d, err)
		return
	}
	s.noteDelivery(0, 1, 1, 0)
	d.at = at
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	pos := p.b.logPending(d, wal.Pos{})
	heap.Push(&p.due, d)
	p.mu.Unlock()
	p.b.finish(pos) // a failure fails the journal; the next call reports it
}

// end ends d: delivered (err nil), dropped after its last retry, or
// unsubscribed.
func (p *pusher) end(d *delivery, err error) {
	d.sub.pending.Add(-1)
	p.mu.Lock()
	delete(p.pending, d.seq)
	pos := p.b.logPendingDone(d)
	p.mu.Unlock()
	p.b.finish(pos)
	if err != nil {
		p.b.log.Warn("topic delivery dropped after its retries", "topic", d.sub.t.name,
			"subscription", d.sub.name, "msgId", d.msgID, "attempts", d.attempts, "err", err)
	}
}

// errPush is a failed push: a status other than 2xx.
var errPush = errors.New("push failed")

// post pushes d to an HTTP endpoint.
func (p *pusher) post(d *delivery, a SubscriptionAttributes) error {
	body := []byte(d.body)
	if a.NotifyContentFormat == FormatJSON {
		body, _ = json.Marshal(pushJSON{
			TopicOwner:       0,
			TopicName:        d.sub.t.name,
			SubscriptionName: d.sub.name,
			MsgID:            d.msgID,
			MsgBody:          d.body,
			PublishTime:      d.published / int64(time.Second),
		})
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.b.limits.PushTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	var id [16]byte
	rand.Read(id[:])
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("User-Agent", PushUserAgent)
	req.Header.Set("x-cmq-request-id", hex.EncodeToString(id[:]))
	req.Header.Set("x-cmq-message-id", d.msgID)
	req.Header.Set("x-cmq-message-tag", strings.Join(d.tags, ","))
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s", errPush, resp.Status)
	}
	return nil
}

// pushJSON is the body of a push in the JSON format. TopicOwner is CMQ's
// account id; a broker has none and sends 0.
type pushJSON struct {
	TopicOwner       int64  `json:"TopicOwner"`
	TopicName        string `json:"topicName"`
	SubscriptionName string `json:"subscriptionName"`
	MsgID            string `json:"msgId"`
	MsgBody          string `json:"msgBody"`
	PublishTime      int64  `json:"publishTime"`
}

// close stops the pool: requests in flight are cancelled, pending
// deliveries are left (in the journal of a durable broker). It returns
// once no worker or timer function runs.
func (p *pusher) close() {
	p.mu.Lock()
	p.closed = true
	p.cancel()
	if p.timer != nil && p.timer.Stop() {
		p.timers.Done()
	}
	p.timer = nil
	p.mu.Unlock()
	p.workers.Wait()
	p.timers.Wait()
	if p.own != nil {
		p.own.CloseIdleConnections()
	}
}

// snapshot returns s's attributes; ok is false once s or its topic is
// gone.
func (s *Subscription) snapshot() (SubscriptionAttributes, bool) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.attrs, !s.deleted && !s.t.deleted
}

// retryAt returns when d, attempted d.attempts times, is due again by s's
// strategy, or false when its retries are over.
//
// BACKOFF_RETRY: 3 retries, each 10 to 20 s after the last attempt.
// EXPONENTIAL_DECAY_RETRY: 1, 2, 4 … 512 s after the last attempt, then
// every 512 s, while the retry falls within [TopicRetention] of the
// publish.
func (s *Subscription) retryAt(d *delivery, now int64) (int64, bool) {
	s.t.mu.Lock()
	strategy := s.attrs.NotifyStrategy
	s.t.mu.Unlock()
	if strategy == BackoffRetry {
		if d.attempts > 3 {
			return 0, false
		}
		return now + int64(10*time.Second) + mrand.Int64N(int64(10*time.Second)+1), true
	}
	at := now + int64(time.Second)<<min(d.attempts-1, 9)
	if at-d.published > int64(TopicRetention) {
		return 0, false
	}
	return at, true
}
