package cmq_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// FuzzModel decodes its modelInput into a sequence of operations on one broker
// with two queue slots, runs each on the real Broker and on a reference
// model written here from the rules in doc.go, and checks every result:
// errors, ids, bodies, dequeue counts and times, which receipt handles work,
// how long a long poll waits, and (unless the step's opcode has its high
// bit set, so that the checks do not hide bugs that need an untouched
// queue) every count and setting in Attributes and the ListQueues page.
//
// The model is deliberately naive: a queue is a slice of messages in send
// order, scanned linearly; nothing is cached. Time runs on the synctest
// bubble's fake clock and moves only through time.Sleep and long polls.
//
// The seeds below run in plain go test; for a real run:
//
//	go test -run='^$' -fuzz=FuzzModel -fuzztime=5m .
func FuzzModel(f *testing.F) {
	for _, seed := range modelSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			runModel(t, data, "", false)
		})
	})
}

// FuzzModelDurable runs the model against a durable broker (cmq.Open) that
// is closed and reopened at pseudo-random steps (drawn from the input, so
// the seeds mean what they mean for FuzzModel): after every reopen the
// whole state must be as the model says, and receipt handles from before
// the reopen must still work where the model says they do.
func FuzzModelDurable(f *testing.F) {
	for _, seed := range modelSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			runModel(t, data, t.TempDir(), false)
		})
	})
}

// Opcodes. A step is one opcode byte (op % opCount; the high bit skips the
// check after the step) followed by its argument bytes.
const (
	opCreate = iota
	opSetAttrs
	opSend
	opBatchSend
	opReceive
	opBatchReceive
	opDelete
	opBatchDelete
	opChangeVis
	opRewind
	opPurge
	opSleep
	opDeleteQueue
	opUnbind
	opCount
	noCheck = 0x80
)

// Choices that argument bytes select from (byte % len). Out-of-range values
// are included on purpose.
var (
	heapChoices      = []int{1, 2, 5, 100_000_000, 0}
	pollChoices      = []time.Duration{0, 2 * time.Second, 31 * time.Second}
	vtChoices        = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 30 * time.Second, 0, 43201 * time.Second}
	sizeChoices      = []int{8, 65536, 7}
	retentionChoices = []time.Duration{60 * time.Second, 120 * time.Second, 345600 * time.Second, 59 * time.Second}
	rewindChoices    = []time.Duration{0, 30 * time.Second, 60 * time.Second, 120 * time.Second, -time.Second}
	delayChoices     = []time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 3600 * time.Second, 3601 * time.Second, -1}
	waitChoices      = []time.Duration{0, 0, cmq.QueueWait, time.Second, 3 * time.Second, 30 * time.Second, 31 * time.Second}
	cvChoices        = []time.Duration{0, time.Second, 2 * time.Second, 10 * time.Second, 43200 * time.Second, 43201 * time.Second, -1}
	sleepChoices     = []time.Duration{1, 500 * time.Millisecond, time.Second, time.Second, 2 * time.Second, 5 * time.Second, 30 * time.Second, 61 * time.Second, 345600 * time.Second}
	rewindBack       = []time.Duration{0, time.Second, 5 * time.Second, 30 * time.Second, 60 * time.Second, 61 * time.Second, -time.Second}
	dlqChoices       = []string{"q1", "q0", "q1", "Q1", "nope", "", "1x"}
	dlqKindChoices   = []cmq.DeadLetterKind{0, 0, 0, 2}
	maxRecvChoices   = []int{1, 2, 3, 0}
)

// modelLimits are the limits of the broker under test: CMQ's, with a heap
// and a message size small enough to reach, a small batch byte limit, and
// no QPS limit (token buckets are tested elsewhere).
func modelLimits() cmq.Limits {
	l := cmq.DefaultLimits()
	l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1_000_000_000, Default: 100_000_000}
	l.MsgSize = cmq.Range[int]{Min: 8, Max: 1 << 20, Default: 65536}
	l.BatchBytes = 48
	l.QPS = 0
	return l
}

// modelInput hands out argument bytes; past the end it returns zeros.
type modelInput struct {
	b []byte
	i int
}

func (in *modelInput) byte() byte {
	if in.i >= len(in.b) {
		return 0
	}
	c := in.b[in.i]
	in.i++
	return c
}

func (in *modelInput) pick(n int) int { return int(in.byte()) % n }

func modelChoose[T any](in *modelInput, choices []T) T { return choices[in.pick(len(choices))] }

// modelMsg is a message as the model sees it.
type modelMsg struct {
	id        string
	body      string
	seq       int
	enqueued  time.Time
	visibleAt time.Time
	firstDeq  time.Time
	dequeues  int
	handle    string // of the latest receive; "" when none can work
	deleted   bool   // deleted and kept for rewind
	dead      *cmq.DeadLetterSource
}

// modelSettings are a queue's attributes in the model.
type modelSettings struct {
	heap      int
	poll      time.Duration
	vt        time.Duration
	size      int
	retention time.Duration
	rewind    time.Duration
	dlq       string // dead-letter queue name as given; "" for none
	maxRecv   int
}

// modelQueue is one queue slot: the queue under test and its model.
type modelQueue struct {
	name     string
	q        *cmq.Queue // nil until first created; kept after DeleteQueue
	exists   bool
	set      modelSettings
	created  time.Time
	modified time.Time
	msgs     []*modelMsg // retained messages in send order
	nextSeq  int
}

// model is the whole broker.
type model struct {
	t      *testing.T
	b      *cmq.Broker
	limits cmq.Limits
	qs     [2]*modelQueue
	step   int
	ids    map[string]bool // every id a send returned
	seen   map[string]bool // every receipt handle a receive returned
	pool   []string        // the same handles, in order, for the fuzzer to pick from
	bodyN  int
	topic  *modelTopic // nil unless the run covers topics (FuzzModelTopics)
}

// runModel runs the steps of data against an in-memory broker, or, with a
// directory, a durable one that is reopened now and then. With topics, the
// first byte of data chooses the filter type of a topic whose
// subscriptions send to the two queues, and opcodes opCount and up are
// topic operations (see model_topics_test.go).
func runModel(t *testing.T, data []byte, dir string, topics bool) {
	limits := modelLimits()
	if topics {
		limits = modelTopicLimits()
	}
	open := func() *cmq.Broker {
		if dir == "" {
			b, err := cmq.NewBroker(cmq.WithLimits(limits))
			require.NoError(t, err)
			return b
		}
		b, err := cmq.Open(context.Background(), dir, cmq.WithLimits(limits), cmq.WithSync(cmq.SyncNone))
		require.NoError(t, err)
		return b
	}
	m := &model{t: t, b: open(), limits: limits, ids: map[string]bool{}, seen: map[string]bool{}}
	defer func() { m.b.Close() }()
	m.qs[0] = &modelQueue{name: "q0"}
	m.qs[1] = &modelQueue{name: "q1"}
	in := &modelInput{b: data}
	ops := opCount
	if topics {
		m.newTopic(in)
		ops = opCount + topicOpCount
	}
	reopen := rand.New(rand.NewPCG(uint64(len(data)), 7))
	for m.step = 0; in.i < len(in.b) && m.step < 400; m.step++ {
		op := in.byte()
		if code := int(op&^noCheck) % ops; code < opCount {
			m.do(code, in)
		} else {
			m.doTopic(code, in)
		}
		if op&noCheck == 0 || m.topic != nil && m.topic.stopped {
			m.check()
		}
		if m.topic != nil && m.topic.stopped {
			return
		}
		if dir != "" && reopen.IntN(6) == 0 {
			require.NoError(t, m.b.Close(), m.msg("Close"))
			m.b = open()
			for _, mq := range m.qs {
				mq.q = nil // a handle of the closed broker; a deleted queue has none now
				if mq.exists {
					q, err := m.b.Queue(mq.name)
					require.NoError(t, err, m.msg("%s after reopening", mq.name))
					mq.q = q
				}
			}
			m.check()
		}
	}
	m.check()
}

// msg formats a failure message naming the step.
func (m *model) msg(format string, args ...any) string {
	return fmt.Sprintf("step %d: ", m.step) + fmt.Sprintf(format, args...)
}

// wantErr checks err against the model's expectation (nil: success).
func (m *model) wantErr(want, got error, what string) {
	m.t.Helper()
	if want == nil {
		require.NoError(m.t, got, m.msg("%s", what))
		return
	}
	require.Error(m.t, got, m.msg("%s: want %v", what, want))
	require.True(m.t, errors.Is(got, want), m.msg("%s: got %v, want %v", what, got, want))
}

// advance applies retention at now: a message lives MsgRetention from its
// enqueue time, whatever its state.
func (mq *modelQueue) advance(now time.Time) {
	mq.msgs = slices.DeleteFunc(mq.msgs, func(x *modelMsg) bool {
		return now.Sub(x.enqueued) >= mq.set.retention
	})
}

// live reports whether x is in the queue (not deleted).
func (x *modelMsg) visible(now time.Time) bool { return !x.deleted && !x.visibleAt.After(now) }

// find returns the message that handle h can act on at now, or nil.
func (mq *modelQueue) find(h string, now time.Time) *modelMsg {
	for _, x := range mq.msgs {
		if !x.deleted && x.handle != "" && x.handle == h && now.Before(x.visibleAt) {
			return x
		}
	}
	return nil
}

// counts returns active, inactive, delayed, rewind counts and minMsgTime.
func (mq *modelQueue) counts(now time.Time) (active, inactive, delayed, rewound int, minTime time.Time) {
	for _, x := range mq.msgs {
		switch {
		case x.deleted:
			rewound++
		case !x.visibleAt.After(now):
			active++
		case x.dequeues == 0:
			delayed++
		default:
			inactive++
		}
		if !x.deleted && minTime.IsZero() {
			minTime = x.enqueued
		}
	}
	return
}

// apply validates attributes as the model understands the documented
// ranges, in the order the implementation checks them.
func (m *model) apply(s modelSettings, a cmq.QueueAttributes) (modelSettings, error) {
	l := m.limits
	if a.MaxMsgHeapNum != nil {
		if v := *a.MaxMsgHeapNum; v < l.MsgHeapNum.Min || v > l.MsgHeapNum.Max {
			return s, cmq.ErrOutOfRange
		}
		s.heap = *a.MaxMsgHeapNum
	}
	if a.PollingWait != nil {
		if v := *a.PollingWait; v < 0 || v > 30*time.Second {
			return s, cmq.ErrOutOfRange
		}
		s.poll = *a.PollingWait
	}
	if a.VisibilityTimeout != nil {
		if v := *a.VisibilityTimeout; v < time.Second || v > 43200*time.Second {
			return s, cmq.ErrOutOfRange
		}
		s.vt = *a.VisibilityTimeout
	}
	if a.MaxMsgSize != nil {
		if v := *a.MaxMsgSize; v < l.MsgSize.Min || v > l.MsgSize.Max {
			return s, cmq.ErrOutOfRange
		}
		s.size = *a.MaxMsgSize
	}
	if a.MsgRetention != nil {
		if v := *a.MsgRetention; v < 60*time.Second || v > 1296000*time.Second {
			return s, cmq.ErrOutOfRange
		}
		s.retention = *a.MsgRetention
	}
	if a.RewindPeriod != nil {
		if *a.RewindPeriod < 0 {
			return s, cmq.ErrOutOfRange
		}
		s.rewind = *a.RewindPeriod
	}
	if s.rewind > s.retention {
		return s, cmq.ErrRewindPeriod
	}
	if p := a.DeadLetterPolicy; p != nil {
		switch {
		case p.DeadLetterQueue == "":
			return s, cmq.ErrDeadLetterMissingQueue
		case p.Kind != cmq.DeadLetterOnMaxReceive && p.Kind != cmq.DeadLetterOnTimeToLive:
			return s, cmq.ErrDeadLetterPolicyKind
		case p.Kind == cmq.DeadLetterOnMaxReceive && (p.MaxReceiveCount < 1 || p.MaxReceiveCount > 1000):
			return s, cmq.ErrDeadLetterPolicy
		}
		s.dlq, s.maxRecv = p.DeadLetterQueue, p.MaxReceiveCount
	}
	return s, nil
}

// byName returns the existing queue called name, ignoring case, or nil.
func (m *model) byName(name string) *modelQueue {
	for _, x := range m.qs {
		if x.exists && strings.EqualFold(x.name, name) {
			return x
		}
	}
	return nil
}

// sources returns the existing queues whose dead-letter queue is mq.
func (m *model) sources(mq *modelQueue) []*modelQueue {
	var out []*modelQueue
	for _, x := range m.qs {
		if x.exists && x.set.dlq != "" && strings.EqualFold(x.set.dlq, mq.name) {
			out = append(out, x)
		}
	}
	return out
}

// bindErr is the error of making the queue named dlq the dead-letter
// queue of mq: it must exist, not be mq, have no dead-letter queue of its
// own, and mq must not be one.
func (m *model) bindErr(mq *modelQueue, dlq string) error {
	d := m.byName(dlq)
	switch {
	case strings.EqualFold(dlq, mq.name):
		return cmq.ErrDeadLetterNested
	case d == nil:
		return cmq.ErrDeadLetterQueueNotExist
	case d.set.dlq != "" || len(m.sources(mq)) > 0:
		return cmq.ErrDeadLetterNested
	}
	return nil
}

// attrs decodes a set of attributes: a mask byte, then one byte per
// attribute given.
func modelAttrs(in *modelInput) cmq.QueueAttributes {
	var a cmq.QueueAttributes
	mask := in.byte()
	if mask&1 != 0 {
		a.MaxMsgHeapNum = cmq.Ptr(modelChoose(in, heapChoices))
	}
	if mask&2 != 0 {
		a.PollingWait = cmq.Ptr(modelChoose(in, pollChoices))
	}
	if mask&4 != 0 {
		a.VisibilityTimeout = cmq.Ptr(modelChoose(in, vtChoices))
	}
	if mask&8 != 0 {
		a.MaxMsgSize = cmq.Ptr(modelChoose(in, sizeChoices))
	}
	if mask&16 != 0 {
		a.MsgRetention = cmq.Ptr(modelChoose(in, retentionChoices))
	}
	if mask&32 != 0 {
		a.RewindPeriod = cmq.Ptr(modelChoose(in, rewindChoices))
	}
	if mask&64 != 0 {
		a.DeadLetterPolicy = &cmq.DeadLetterPolicy{
			DeadLetterQueue: modelChoose(in, dlqChoices),
			Kind:            modelChoose(in, dlqKindChoices),
			MaxReceiveCount: modelChoose(in, maxRecvChoices),
		}
	}
	return a
}

// body decodes a message body: mostly short, sometimes empty or longer than
// a small MaxMsgSize.
func (m *model) body(in *modelInput) string {
	c := in.byte()
	m.bodyN++
	letter := string(rune('a' + m.bodyN%26))
	switch {
	case c%16 == 0:
		return ""
	case c%16 == 1:
		return strings.Repeat(letter, 9+int(c>>4)%4)
	}
	return strings.Repeat(letter, 1+int(c>>4)%4)
}

// handle decodes a receipt handle: a recent or older one from the pool
// (any queue), a one-character change of one, or junk.
func (m *model) handle(in *modelInput) string {
	c := in.byte()
	if len(m.pool) == 0 || c%8 == 7 {
		switch in.pick(3) {
		case 0:
			return ""
		case 1:
			return strings.Repeat("0", 31) + "1"
		}
		return fmt.Sprintf("%032x", in.byte())
	}
	var h string
	switch c % 8 {
	case 0, 1, 2, 3:
		h = m.pool[len(m.pool)-1-in.pick(min(len(m.pool), 4))]
	case 4, 5:
		h = m.pool[in.pick(len(m.pool))]
	default:
		h = m.pool[in.pick(len(m.pool))]
		i := in.pick(len(h))
		repl := "0123456789abcdefA-"[in.pick(18)]
		if h[i] == repl {
			repl = 'g'
		}
		h = h[:i] + string(repl) + h[i+1:]
	}
	return h
}

func (m *model) do(op int, in *modelInput) {
	t := m.t
	mq := m.qs[in.pick(2)]
	now := time.Now()
	for _, x := range m.qs {
		if x.exists {
			x.advance(now)
		}
	}
	switch op {
	case opCreate:
		name := mq.name
		if in.pick(4) == 3 {
			name = strings.ToUpper(name)
		}
		a := modelAttrs(in)
		def := modelSettings{heap: 100_000_000, vt: 30 * time.Second, size: 65536, retention: 345600 * time.Second}
		set, want := m.apply(def, a)
		if want == nil && mq.exists {
			want = cmq.ErrQueueExists
		}
		if want == nil && a.DeadLetterPolicy != nil {
			fresh := &modelQueue{name: mq.name}
			want = m.bindErr(fresh, a.DeadLetterPolicy.DeadLetterQueue)
		}
		q, err := m.b.CreateQueue(context.Background(), name, a)
		m.wantErr(want, err, "CreateQueue")
		if want != nil {
			require.Nil(t, q)
			return
		}
		require.Equal(t, name, q.Name())
		*mq = modelQueue{name: mq.name, q: q, exists: true, set: set, created: now, modified: now}

	case opSetAttrs:
		if mq.q == nil {
			return
		}
		a := modelAttrs(in)
		var set modelSettings
		var want error = cmq.ErrQueueNotExist
		if mq.exists {
			set, want = m.apply(mq.set, a)
			if want == nil && a.DeadLetterPolicy != nil {
				want = m.bindErr(mq, a.DeadLetterPolicy.DeadLetterQueue)
			}
		}
		m.wantErr(want, mq.q.SetAttributes(context.Background(), a), "SetAttributes")
		if want != nil {
			return
		}
		mq.set, mq.modified = set, now
		if set.rewind == 0 {
			mq.msgs = slices.DeleteFunc(mq.msgs, func(x *modelMsg) bool { return x.deleted })
		}
		mq.advance(now)

	case opSend, opBatchSend:
		if mq.q == nil {
			return
		}
		n := 1
		if op == opBatchSend {
			n = in.pick(18)
		}
		bodies := make([]string, n)
		for i := range bodies {
			bodies[i] = m.body(in)
		}
		delay := modelChoose(in, delayChoices)
		want := m.sendErr(mq, bodies, delay, op == opBatchSend)
		var ids []string
		var err error
		if op == opSend {
			var id string
			id, err = mq.q.Send(context.Background(), bodies[0], delay)
			if err == nil {
				ids = []string{id}
			} else {
				require.Empty(t, id)
			}
		} else {
			ids, err = mq.q.BatchSend(context.Background(), bodies, delay)
		}
		m.wantErr(want, err, "Send")
		if want != nil {
			require.Nil(t, ids)
			return
		}
		require.Len(t, ids, n)
		for i, id := range ids {
			require.NotEmpty(t, id)
			require.False(t, m.ids[id], m.msg("id %q returned twice", id))
			m.ids[id] = true
			mq.msgs = append(mq.msgs, &modelMsg{
				id: id, body: bodies[i], seq: mq.nextSeq,
				enqueued: now, visibleAt: now.Add(delay),
			})
			mq.nextSeq++
		}

	case opReceive, opBatchReceive:
		if mq.q == nil {
			return
		}
		n := 1
		if op == opBatchReceive {
			n = in.pick(18)
		}
		wait := modelChoose(in, waitChoices)
		wantMsgs, wantAt, want := m.receive(mq, n, wait, op == opBatchReceive)
		var got []cmq.Message
		var err error
		if op == opReceive {
			var msg cmq.Message
			msg, err = mq.q.Receive(t.Context(), wait)
			if err == nil {
				got = []cmq.Message{msg}
			} else {
				require.Equal(t, cmq.Message{}, msg)
			}
		} else {
			got, err = mq.q.BatchReceive(t.Context(), n, wait)
		}
		m.wantErr(want, err, "Receive")
		require.True(t, time.Now().Equal(wantAt), m.msg("receive returned at %v, want %v", time.Now(), wantAt))
		require.Len(t, got, len(wantMsgs), m.msg("receive"))
		for i, x := range wantMsgs {
			g := got[i]
			if x.id == "" { // sent by a publish: the id is the queue's, learnt now
				require.False(t, m.ids[g.ID], m.msg("id %q returned twice", g.ID))
				m.ids[g.ID] = true
				x.id = g.ID
			}
			require.Equal(t, x.id, g.ID, m.msg("receive %d: id", i))
			require.Equal(t, x.body, g.Body, m.msg("receive %d: body", i))
			require.Equal(t, x.dequeues, g.DequeueCount, m.msg("receive %d: dequeue count", i))
			require.True(t, x.enqueued.Equal(g.EnqueueTime), m.msg("receive %d: enqueue time %v, want %v", i, g.EnqueueTime, x.enqueued))
			require.True(t, x.firstDeq.Equal(g.FirstDequeueTime), m.msg("receive %d: first dequeue %v, want %v", i, g.FirstDequeueTime, x.firstDeq))
			require.True(t, x.visibleAt.Equal(g.NextVisibleTime), m.msg("receive %d: next visible %v, want %v", i, g.NextVisibleTime, x.visibleAt))
			if x.dead == nil {
				require.Nil(t, g.DeadLetter, m.msg("receive %d: dead-letter source", i))
			} else {
				require.NotNil(t, g.DeadLetter, m.msg("receive %d: dead-letter source", i))
				require.Equal(t, x.dead.Queue, g.DeadLetter.Queue, m.msg("receive %d: dead-letter source queue", i))
				require.Equal(t, x.dead.DequeueCount, g.DeadLetter.DequeueCount, m.msg("receive %d: dead-letter dequeue count", i))
				require.True(t, x.dead.EnqueueTime.Equal(g.DeadLetter.EnqueueTime), m.msg("receive %d: dead-letter enqueue time", i))
			}
			require.Len(t, g.ReceiptHandle, 32)
			require.False(t, m.seen[g.ReceiptHandle], m.msg("receipt handle %q handed out twice", g.ReceiptHandle))
			m.seen[g.ReceiptHandle] = true
			m.pool = append(m.pool, g.ReceiptHandle)
			x.handle = g.ReceiptHandle
		}

	case opDelete:
		if mq.q == nil {
			return
		}
		h := m.handle(in)
		var want error = cmq.ErrQueueNotExist
		var x *modelMsg
		if mq.exists {
			want = cmq.ErrInvalidReceiptHandle
			if x = mq.find(h, now); x != nil {
				want = nil
			}
		}
		m.wantErr(want, mq.q.Delete(context.Background(), h), fmt.Sprintf("Delete(%q)", h))
		if want == nil {
			mq.remove(x)
		}

	case opBatchDelete:
		if mq.q == nil {
			return
		}
		n := in.pick(8)
		if n == 7 {
			n = 17
		}
		hs := make([]string, n)
		for i := range hs {
			hs[i] = m.handle(in)
		}
		results, err := mq.q.BatchDelete(context.Background(), hs)
		switch {
		case n == 0 || n > 16:
			m.wantErr(cmq.ErrBatchSize, err, "BatchDelete")
			require.Nil(t, results)
			return
		case !mq.exists:
			m.wantErr(cmq.ErrQueueNotExist, err, "BatchDelete")
			require.Nil(t, results)
			return
		}
		require.Len(t, results, n)
		failed := 0
		for i, h := range hs {
			x := mq.find(h, now)
			if x == nil {
				failed++
				m.wantErr(cmq.ErrInvalidReceiptHandle, results[i], fmt.Sprintf("BatchDelete[%d](%q)", i, h))
				continue
			}
			m.wantErr(nil, results[i], fmt.Sprintf("BatchDelete[%d](%q)", i, h))
			mq.remove(x)
		}
		var want error
		switch failed {
		case 0:
		case n:
			want = cmq.ErrBatchDeleteFailed
		default:
			want = cmq.ErrBatchDeletePartial
		}
		m.wantErr(want, err, "BatchDelete")

	case opChangeVis:
		if mq.q == nil {
			return
		}
		h := m.handle(in)
		d := modelChoose(in, cvChoices)
		var want error
		var x *modelMsg
		switch {
		case d < 0 || d > 43200*time.Second:
			want = cmq.ErrOutOfRange
		case !mq.exists:
			want = cmq.ErrQueueNotExist
		default:
			if x = mq.find(h, now); x == nil {
				want = cmq.ErrInvalidReceiptHandle
			}
		}
		at, err := mq.q.ChangeVisibility(context.Background(), h, d)
		m.wantErr(want, err, fmt.Sprintf("ChangeVisibility(%q, %v)", h, d))
		if want != nil {
			require.True(t, at.IsZero())
			return
		}
		x.visibleAt = now.Add(d)
		require.True(t, at.Equal(x.visibleAt), m.msg("ChangeVisibility returned %v, want %v", at, x.visibleAt))

	case opRewind:
		if mq.q == nil {
			return
		}
		c := in.byte()
		start := now.Add(-rewindBack[int(c)%len(rewindBack)])
		if c >= 128 && len(mq.msgs) > 0 {
			start = mq.msgs[int(c)%len(mq.msgs)].enqueued // exactly a send time
		}
		var want error
		switch {
		case !mq.exists:
			want = cmq.ErrQueueNotExist
		case mq.set.rewind == 0:
			want = cmq.ErrRewindDisabled
		case start.Before(now.Add(-mq.set.rewind).Truncate(time.Second)) || start.After(now): // the lower edge in whole seconds
			want = cmq.ErrRewindTime
		}
		m.wantErr(want, mq.q.Rewind(context.Background(), start), fmt.Sprintf("Rewind(now-%v)", now.Sub(start)))
		if want != nil {
			return
		}
		for _, x := range mq.msgs {
			if x.enqueued.Before(start) {
				continue
			}
			// Every message except a delayed one (never received, delay
			// not ended) is receivable again, in send order: visible since
			// its send, with no working handle. That brings back deleted
			// and in-flight messages and moves active ones to their
			// send-order place.
			if !x.deleted && x.dequeues == 0 && x.visibleAt.After(now) {
				continue
			}
			x.deleted, x.handle, x.visibleAt = false, "", x.enqueued
			x.dequeues, x.firstDeq = 0, time.Time{} // delivered afresh
		}

	case opPurge:
		if mq.q == nil {
			return
		}
		var want error = cmq.ErrQueueNotExist
		if mq.exists {
			want = nil
		}
		m.wantErr(want, mq.q.Purge(context.Background()), "Purge")
		if want == nil {
			mq.msgs = nil
		}

	case opSleep:
		time.Sleep(modelChoose(in, sleepChoices))

	case opDeleteQueue:
		var want error = cmq.ErrQueueNotExist
		switch {
		case mq.exists && len(m.sources(mq)) > 0:
			want = cmq.ErrDeadLetterQueueInUse
		case mq.exists:
			want = nil
		}
		m.wantErr(want, m.b.DeleteQueue(context.Background(), mq.name), "DeleteQueue")
		if want == nil {
			mq.exists, mq.msgs = false, nil
		}

	case opUnbind:
		if mq.q == nil {
			return
		}
		var want error
		switch {
		case !mq.exists:
			want = cmq.ErrQueueNotExist
		case mq.set.dlq == "":
			want = cmq.ErrDeadLetterQueueNotExist
		}
		m.wantErr(want, mq.q.UnbindDeadLetterQueue(context.Background()), "UnbindDeadLetterQueue")
		if want == nil {
			mq.set.dlq, mq.set.maxRecv, mq.modified = "", 0, now
		}
	}
}

// remove deletes x: kept for rewind while the queue has a RewindPeriod,
// otherwise gone.
func (mq *modelQueue) remove(x *modelMsg) {
	x.handle = ""
	if mq.set.rewind > 0 {
		x.deleted = true
		return
	}
	mq.msgs = slices.DeleteFunc(mq.msgs, func(y *modelMsg) bool { return y == x })
}

// sendErr is the error a send of bodies with delay should return.
func (m *model) sendErr(mq *modelQueue, bodies []string, delay time.Duration, batch bool) error {
	if batch && (len(bodies) == 0 || len(bodies) > 16) {
		return cmq.ErrBatchSize
	}
	if delay < 0 || delay > 3600*time.Second {
		return cmq.ErrOutOfRange
	}
	total := 0
	for _, b := range bodies {
		if b == "" {
			return cmq.ErrEmptyMessage
		}
		total += len(b)
	}
	if len(bodies) > 1 && total > m.limits.BatchBytes {
		return cmq.ErrBatchTooLarge
	}
	if !mq.exists {
		return cmq.ErrQueueNotExist
	}
	for _, b := range bodies {
		if len(b) > mq.set.size {
			return cmq.ErrMessageTooLarge
		}
	}
	if len(mq.msgs)+len(bodies) > mq.set.heap {
		return cmq.ErrHeapFull
	}
	return nil
}

// receive returns the messages a receive of up to n with wait should
// return (already updated as received), the instant it should return at,
// and its error. A receive that finds nothing visible waits: the model
// jumps to each instant at which some message becomes visible, until the
// wait ends.
func (m *model) receive(mq *modelQueue, n int, wait time.Duration, batch bool) ([]*modelMsg, time.Time, error) {
	now := time.Now()
	switch {
	case batch && (n < 1 || n > 16):
		return nil, now, cmq.ErrBatchSize
	case wait > 30*time.Second:
		return nil, now, cmq.ErrOutOfRange
	case !mq.exists:
		return nil, now, cmq.ErrQueueNotExist
	}
	if wait < 0 {
		wait = mq.set.poll
	}
	deadline := now.Add(wait)
	for {
		if got := m.take(mq, now, n); len(got) > 0 {
			return got, now, nil
		}
		next := deadline
		for _, x := range mq.msgs {
			if !x.deleted && x.visibleAt.After(now) && x.visibleAt.Before(next) {
				next = x.visibleAt
			}
		}
		if !next.After(now) {
			return nil, now, cmq.ErrNoMessage
		}
		now = next
		mq.advance(now)
	}
}

// take receives up to n visible messages at now: earliest next visible
// time first, ties in send order. A message at the front that was already
// received MaxReceiveCount times moves to the dead-letter queue instead.
func (m *model) take(mq *modelQueue, now time.Time, n int) []*modelMsg {
	var out []*modelMsg
	for len(out) < n {
		var x *modelMsg
		for _, y := range mq.msgs {
			if y.visible(now) && (x == nil || y.visibleAt.Before(x.visibleAt) || y.visibleAt.Equal(x.visibleAt) && y.seq < x.seq) {
				x = y
			}
		}
		if x == nil {
			break
		}
		if mq.set.dlq != "" && x.dequeues >= mq.set.maxRecv {
			m.deadLetter(mq, x, now)
			continue
		}
		x.dequeues++
		if x.firstDeq.IsZero() {
			x.firstDeq = now
		}
		x.visibleAt = now.Add(mq.set.vt)
		x.handle = "" // set from the result
		out = append(out, x)
	}
	return out
}

// deadLetter moves x from mq to mq's dead-letter queue, where it starts
// afresh with the same id and body, or drops it if that queue is full.
func (m *model) deadLetter(mq *modelQueue, x *modelMsg, now time.Time) {
	mq.msgs = slices.DeleteFunc(mq.msgs, func(y *modelMsg) bool { return y == x })
	d := m.byName(mq.set.dlq)
	d.advance(now)
	if len(d.msgs) >= d.set.heap {
		return
	}
	d.msgs = append(d.msgs, &modelMsg{
		id: x.id, body: x.body, seq: d.nextSeq, enqueued: now, visibleAt: now,
		dead: &cmq.DeadLetterSource{Queue: mq.q.Name(), EnqueueTime: x.enqueued, DequeueCount: x.dequeues},
	})
	d.nextSeq++
}

// check compares every queue's Attributes and the queue list with the
// model.
func (m *model) check() {
	t := m.t
	now := time.Now()
	var names []string
	for _, mq := range m.qs {
		if mq.q == nil {
			continue
		}
		info, err := mq.q.Attributes(context.Background())
		if !mq.exists {
			m.wantErr(cmq.ErrQueueNotExist, err, "Attributes of a deleted queue")
			continue
		}
		names = append(names, mq.q.Name())
		require.NoError(t, err, m.msg("Attributes"))
		mq.advance(now)
		active, inactive, delayed, rewound, minTime := mq.counts(now)
		got := []int{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum, info.RewindMsgNum}
		require.Equal(t, []int{active, inactive, delayed, rewound}, got, m.msg("%s: counts active, inactive, delayed, rewind", mq.name))
		require.True(t, minTime.Equal(info.MinMsgTime), m.msg("%s: MinMsgTime %v, want %v", mq.name, info.MinMsgTime, minTime))
		s := mq.set
		require.Equal(t,
			[]any{s.heap, s.poll, s.vt, s.size, s.retention, s.rewind},
			[]any{info.MaxMsgHeapNum, info.PollingWait, info.VisibilityTimeout, info.MaxMsgSize, info.MsgRetention, info.RewindPeriod},
			m.msg("%s: settings", mq.name))
		require.True(t, mq.created.Equal(info.CreateTime), m.msg("%s: CreateTime", mq.name))
		require.True(t, mq.modified.Equal(info.LastModifyTime), m.msg("%s: LastModifyTime", mq.name))
		require.Equal(t, mq.q.ID(), info.ID)
		require.Equal(t, mq.q.Name(), info.Name)
		if s.dlq == "" {
			require.Nil(t, info.DeadLetterPolicy, m.msg("%s: dead-letter policy", mq.name))
		} else {
			require.Equal(t, &cmq.DeadLetterPolicy{DeadLetterQueue: s.dlq, MaxReceiveCount: s.maxRecv}, info.DeadLetterPolicy, m.msg("%s: dead-letter policy", mq.name))
		}
		var wantSources []string
		for _, x := range m.sources(mq) {
			wantSources = append(wantSources, x.q.Name())
		}
		page, n, err := m.b.ListDeadLetterSourceQueues(context.Background(), mq.name, cmq.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, len(wantSources), n, m.msg("%s: dead-letter sources", mq.name))
		for i, qs := range page {
			require.Equal(t, wantSources[i], qs.Name, m.msg("%s: dead-letter sources", mq.name))
		}
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	page, total, err := m.b.ListQueues(context.Background(), cmq.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, len(names), total, m.msg("ListQueues total"))
	gotNames := make([]string, 0, len(page))
	for _, s := range page {
		gotNames = append(gotNames, s.Name)
	}
	if names == nil {
		names = []string{}
	}
	require.Equal(t, names, gotNames, m.msg("ListQueues"))
	if m.topic != nil {
		m.checkTopic()
	}
}

// modelSeeds are hand-written inputs that reach every operation; they run
// as ordinary tests.
func modelSeeds() [][]byte {
	c := func(qi, mask byte, vals ...byte) []byte { return append([]byte{opCreate, qi, 0, mask}, vals...) }
	seeds := [][]byte{
		// create, send, receive, delete with the fresh handle.
		modelJoin(c(0, 0), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opDelete, 0, 0, 0}),
		// the newest message deleted, the older one in flight; in
		// FuzzModelDurable, 28 bytes reopen the broker right after the
		// delete (the reopen draws depend on the input's length): the next
		// send goes on from the deleted message's seq and is received.
		modelJoin(c(0, 0), []byte{opSend, 0, 2, 0, opSend, 0, 2, 0, opBatchReceive, 0, 2, 0, opDelete, 0, 0, 0,
			opSend, 0, 2, 0, opReceive, 0, 0, opReceive}),
		// visibility timeout 1 s: receive, sleep 1 s, the old handle fails,
		// receive again (dequeue count 2), delete the stale then the new one.
		modelJoin(c(0, 4, 0), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opSleep, 0, 2, opDelete, 0, 0, 0,
			opReceive, 0, 0, opDelete, 0, 1, 1, opDelete, 0, 0, 0}),
		// delays: send delayed 2 s and 500 ms, long-poll 3 s, then receive the second.
		modelJoin(c(0, 0), []byte{opSend, 0, 2, 5, opSend, 0, 3, 3, opReceive, 0, 4, opReceive, 0, 4, opReceive, 0, 0}),
		// batch send 5 with delay 1 s, batch receive 16 with wait, batch delete 4.
		modelJoin(c(1, 0), []byte{opBatchSend, 1, 5, 2, 3, 4, 5, 6, 4, opBatchReceive, 1, 16, 3,
			opBatchDelete, 1, 4, 0, 0, 0, 1, 0, 2, 0, 3}),
		// bad batches: 0 and 17 bodies, an empty body, too many bytes.
		modelJoin(c(0, 0), []byte{opBatchSend, 0, 0, 0, opBatchSend, 0, 17, opBatchSend, 0, 2, 2, 0, 0,
			opBatchSend, 0, 16, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0}),
		// heap of 2 and size 8: a third send is refused, so is a long body.
		modelJoin(c(0, 9, 1, 0), []byte{opSend, 0, 2, 0, opSend, 0, 1, 0, opSend, 0, 2, 0, opSend, 0, 2, 0}),
		// forged handles: one-character changes and junk, delete and change visibility.
		modelJoin(c(0, 0), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opDelete, 0, 6, 5, 3, opDelete, 0, 7, 2, 9,
			opChangeVis, 0, 6, 0, 31, 2, opChangeVis, 0, 0, 3, opChangeVis, 0, 0, 0, opDelete, 0, 0, 0}),
		// change visibility: extend, out of range, then 0 makes it visible again.
		modelJoin(c(0, 0), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opChangeVis, 0, 0, 3, opSleep, 0, 5,
			opChangeVis, 0, 0, 5, opChangeVis, 0, 0, 0, opReceive, 0, 0}),
		// rewind 60 s: delete, rewind, receive again; rewind disabled on q1.
		modelJoin(c(0, 32, 2), c(1, 0), []byte{opSend, 0, 2, 0, opSend, 0, 2, 0, opBatchReceive, 0, 2, 0,
			opDelete, 0, 0, 0, opSleep, 0, 3, opRewind, 0, 2, opReceive, 0, 0, opRewind, 0, 5, opRewind, 1, 0}),
		// rewind keeps delayed messages delayed, returns in-flight ones.
		modelJoin(c(0, 32, 2), []byte{opSend, 0, 2, 0, opSend, 0, 2, 6, opReceive, 0, 0, opRewind, 0, 0x80}),
		// rewind puts active messages back in send order: a delayed message
		// whose delay ended goes before a later one.
		modelJoin(c(0, 32, 2), []byte{opSend, 0, 2, 6, opSend, 0, 2, 0, opSleep, 0, 5, opRewind, 0, 3, opReceive, 0, 0, opReceive, 0, 0}),
		// retention 60 s: messages in every state expire.
		modelJoin(c(0, 48, 0, 1), []byte{opSend, 0, 2, 0, opSend, 0, 2, 7, opSend, 0, 2, 0, opReceive, 0, 0,
			opDelete, 0, 0, 0, opSleep, 0, 7, opSleep, 0, 6}),
		// set attributes: good and bad values, rewind 0 drops kept messages.
		modelJoin(c(0, 32, 1), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opDelete, 0, 0, 0,
			opSetAttrs, 0, 32, 4, opSetAttrs, 0, 32, 0, opSetAttrs, 0, 4, 4, opSetAttrs, 0, 63, 0, 1, 0, 0, 1, 1}),
		// purge, delete queue, use the deleted queue, create it again as Q0.
		modelJoin(c(0, 0), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opPurge, 0, opDelete, 0, 0, 0,
			opDeleteQueue, 0, opSend, 0, 2, 0, opReceive, 0, 0, opPurge, 0, opDeleteQueue, 0}, c(0, 0), []byte{opCreate, 0, 0, 0}),
		// polling wait from the queue, woken by a visibility timeout ending.
		modelJoin(c(0, 6, 1, 1), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opReceive, 0, 2, opReceive, 0, 5}),
		// duplicate handles in one batch delete, and a foreign queue's handle.
		modelJoin(c(0, 0), c(1, 0), []byte{opSend, 0, 2, 0, opSend, 1, 2, 0, opReceive, 0, 0, opReceive, 1, 0,
			opBatchDelete, 0, 3, 0, 1, 0, 0, 0, 0, opDelete, 0, 0, 0}),
		// purge a queue holding deleted messages kept for rewind.
		modelJoin(c(0, 32, 2), []byte{opSend, 0, 2, 0, opSend, 0, 2, 0, opBatchReceive, 0, 2, 0,
			opDelete, 0, 0, 0, opPurge, 0, opSend, 0, 2, 0}),
		// retention 60 s: a message is gone at exactly 60 s after its send.
		modelJoin(c(0, 16, 0), []byte{opSend, 0, 2, 0, opSleep, 0, 6, opSleep, 0, 5, opSleep, 0, 5,
			opSleep, 0, 5, opSleep, 0, 5, opSleep, 0, 5, opSleep, 0, 5}),
		// a batch delete whose handles all fail, then one that partly fails.
		modelJoin(c(0, 0), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opBatchDelete, 0, 2, 7, 0, 7, 1,
			opBatchDelete, 0, 2, 0, 0, 7, 2}),
		// dead letter after 1 receive: the second receive moves the message
		// to q1, which cannot be deleted while bound; unbind twice.
		modelJoin(c(1, 0), c(0, 68, 0, 0, 0, 0), []byte{opSend, 0, 2, 0, opReceive, 0, 0, opSleep, 0, 2,
			opReceive, 0, 0, opReceive, 1, 0, opDeleteQueue, 1, opUnbind, 0, opUnbind, 0, opDeleteQueue, 1}),
		// dead-letter policy errors: self, missing, empty name, bad kind,
		// bad count, nested, bad name; then a full dead-letter queue drops.
		modelJoin(c(1, 1, 0), c(0, 0), []byte{opSetAttrs, 0, 64, 1, 0, 0, opSetAttrs, 0, 64, 4, 0, 0,
			opSetAttrs, 0, 64, 5, 0, 0, opSetAttrs, 0, 64, 0, 3, 0, opSetAttrs, 0, 64, 0, 0, 3,
			opSetAttrs, 0, 64, 6, 0, 0, opSetAttrs, 0, 68, 0, 3, 0, 1,
			opSetAttrs, 1, 64, 1, 0, 0, opSend, 1, 2, 0, opBatchSend, 0, 3, 2, 2, 2, 0,
			opBatchReceive, 0, 16, 0, opSleep, 0, 2, opBatchReceive, 0, 16, 0, opSleep, 0, 2,
			opBatchReceive, 0, 16, 0, opReceive, 1, 0}),
		// unchecked steps: counts are only read at the end.
		modelJoin(c(0, 4, 0), []byte{opSend | noCheck, 0, 2, 3, opSend | noCheck, 0, 2, 0, opSleep | noCheck, 0, 1,
			opReceive | noCheck, 0, 0, opSleep | noCheck, 0, 3, opReceive | noCheck, 0, 0}),
	}
	return seeds
}

func modelJoin(parts ...[]byte) []byte { return slices.Concat(parts...) }
