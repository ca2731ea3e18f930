package cmq_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// badFixture is a broker with queues in every interesting state, built
// inside a bubble for each case.
//
//	main      rewind 120 s, MaxMsgSize 1 MiB: 2 active, 1 in flight
//	          (valid handle), 1 delayed, 1 deleted and kept for rewind
//	other     1 in flight (a foreign handle)
//	empty     nothing
//	full      MaxMsgHeapNum 1, holding 1
//	dlq       dead-letter queue of src0..src5 (its source limit)
//	throttled send, receive and delete buckets empty
//
// The broker holds Limits.Queues queues, so any new name hits the queue
// limit.
type badFixture struct {
	b                                          *cmq.Broker
	main, other, empty, full, dlq, throttled   *cmq.Queue
	valid, stale, deleted, foreign, throttledH string
}

const badQPS = 20

func newBadFixture(t *testing.T) *badFixture {
	l := cmq.DefaultLimits()
	l.MsgHeapNum.Min = 1
	l.QPS = badQPS
	l.Queues = 12
	b, err := cmq.NewBroker(cmq.WithLimits(l))
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	f := &badFixture{b: b}
	mk := func(name string, a cmq.QueueAttributes) *cmq.Queue {
		q, err := b.CreateQueue(t.Context(), name, a)
		require.NoError(t, err)
		return q
	}
	ctx := t.Context()
	recv := func(q *cmq.Queue) cmq.Message {
		m, err := q.Receive(ctx, 0)
		require.NoError(t, err)
		return m
	}
	send := func(q *cmq.Queue, body string, delay time.Duration) {
		_, err := q.Send(ctx, body, delay)
		require.NoError(t, err)
	}

	f.main = mk("main", cmq.QueueAttributes{RewindPeriod: cmq.Ptr(120 * time.Second), MaxMsgSize: cmq.Ptr(1 << 20)})
	send(f.main, "deleted", 0)
	f.deleted = recv(f.main).ReceiptHandle
	require.NoError(t, f.main.Delete(ctx, f.deleted))
	send(f.main, "in flight", 0)
	send(f.main, "active 1", 0)
	send(f.main, "active 2", 0)
	send(f.main, "delayed", time.Hour)
	first := recv(f.main)
	require.Equal(t, "in flight", first.Body)
	f.stale = first.ReceiptHandle
	_, err = f.main.ChangeVisibility(ctx, f.stale, 0) // visible again, at the front
	require.NoError(t, err)
	again := recv(f.main)
	require.Equal(t, 2, again.DequeueCount)
	f.valid = again.ReceiptHandle

	f.other = mk("other", cmq.QueueAttributes{})
	send(f.other, "foreign", 0)
	f.foreign = recv(f.other).ReceiptHandle

	f.empty = mk("empty", cmq.QueueAttributes{})
	f.full = mk("full", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(1)})
	send(f.full, "only", 0)

	f.dlq = mk("dlq", cmq.QueueAttributes{})
	for i := range 6 {
		mk("src"+string(rune('0'+i)), cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{
			DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 3,
		}})
	}

	// Drain every bucket of "throttled", keeping one valid handle.
	f.throttled = mk("throttled", cmq.QueueAttributes{})
	_, err = f.throttled.BatchSend(ctx, strings.Split("a b c d e f g h i j k l m n o p", " "), 0)
	require.NoError(t, err)
	for range badQPS - 16 {
		send(f.throttled, "x", 0)
	}
	ms, err := f.throttled.BatchReceive(ctx, 16, 0)
	require.NoError(t, err)
	f.throttledH = ms[0].ReceiptHandle
	var rest []string
	for range badQPS - 16 {
		rest = append(rest, recv(f.throttled).ReceiptHandle)
	}
	// A refused delete costs no token, so drain the delete bucket with
	// batches that delete every message but ms[0]: 15, then 4 and a junk
	// handle (a batch costs a token per handle).
	var batch []string
	for _, m := range ms[1:] {
		batch = append(batch, m.ReceiptHandle)
	}
	_, err = f.throttled.BatchDelete(ctx, batch)
	require.NoError(t, err)
	_, err = f.throttled.BatchDelete(ctx, append(rest, "junk"))
	require.ErrorIs(t, err, cmq.ErrBatchDeletePartial)
	require.Equal(t, badQPS, len(batch)+len(rest)+1)

	_, n, err := b.ListQueues(ctx, cmq.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, l.Queues, n)
	return f
}

// badSnapshot is everything observable about a broker without changing
// it: the queue list and every queue's attributes, times included.
type badSnapshot struct {
	Queues []cmq.QueueSummary
	Infos  map[string]cmq.QueueInfo
}

func snapshotBroker(t *testing.T, b *cmq.Broker) badSnapshot {
	t.Helper()
	s := badSnapshot{Infos: map[string]cmq.QueueInfo{}}
	for off := 0; ; off += 50 {
		page, total, err := b.ListQueues(t.Context(), cmq.ListOptions{Offset: off, Limit: 50})
		require.NoError(t, err)
		s.Queues = append(s.Queues, page...)
		if off+50 >= total {
			break
		}
	}
	for _, qs := range s.Queues {
		q, err := b.Queue(qs.Name)
		require.NoError(t, err)
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		s.Infos[qs.Name] = info
	}
	return s
}

// badCase is one bad call: it returns its error and whatever else the
// method returned, which must be the zero value.
type badCase struct {
	name string
	call func(t *testing.T, f *badFixture) (any, error)
	want error
}

func badBodies(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("b", size)
	}
	return out
}

func badCases() []badCase {
	create := func(name string, a cmq.QueueAttributes) func(*testing.T, *badFixture) (any, error) {
		return func(_ *testing.T, f *badFixture) (any, error) {
			q, err := f.b.CreateQueue(context.Background(), name, a)
			return q, err
		}
	}
	set := func(a cmq.QueueAttributes) func(*testing.T, *badFixture) (any, error) {
		return func(_ *testing.T, f *badFixture) (any, error) {
			return nil, f.main.SetAttributes(context.Background(), a)
		}
	}
	dl := func(p cmq.DeadLetterPolicy) cmq.QueueAttributes { return cmq.QueueAttributes{DeadLetterPolicy: &p} }
	recv := func(q func(*badFixture) *cmq.Queue, ctx func(*testing.T) context.Context, wait time.Duration) func(*testing.T, *badFixture) (any, error) {
		return func(t *testing.T, f *badFixture) (any, error) {
			m, err := q(f).Receive(ctx(t), wait)
			return m, err
		}
	}
	main := func(f *badFixture) *cmq.Queue { return f.main }
	live := func(t *testing.T) context.Context { return t.Context() }
	cancelled := func(t *testing.T) context.Context {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		return ctx
	}
	del := func(h func(*badFixture) string) func(*testing.T, *badFixture) (any, error) {
		return func(_ *testing.T, f *badFixture) (any, error) { return nil, f.main.Delete(context.Background(), h(f)) }
	}
	flip := func(f *badFixture) string { // the valid handle with its last digit changed
		h := f.valid
		c := byte('0')
		if h[31] == '0' {
			c = '1'
		}
		return h[:31] + string(c)
	}
	long := strings.Repeat("a", 65)
	var cases []badCase
	add := func(name string, want error, call func(*testing.T, *badFixture) (any, error)) {
		cases = append(cases, badCase{name, call, want})
	}

	// Queue names, everywhere a name is taken.
	for _, n := range []string{"", "1abc", "-abc", "a_b", "a b", "a.b", "ä", long} {
		add("CreateQueue name "+n, cmq.ErrQueueNameFormat, create(n, cmq.QueueAttributes{}))
		add("Queue name "+n, cmq.ErrQueueNameFormat, func(_ *testing.T, f *badFixture) (any, error) { q, err := f.b.Queue(n); return q, err })
		add("DeleteQueue name "+n, cmq.ErrQueueNameFormat, func(_ *testing.T, f *badFixture) (any, error) { return nil, f.b.DeleteQueue(context.Background(), n) })
		add("ListDeadLetterSourceQueues name "+n, cmq.ErrQueueNameFormat, func(_ *testing.T, f *badFixture) (any, error) {
			p, _, err := f.b.ListDeadLetterSourceQueues(context.Background(), n, cmq.ListOptions{})
			return p, err
		})
	}
	add("CreateQueue existing", cmq.ErrQueueExists, create("main", cmq.QueueAttributes{}))
	add("CreateQueue existing other case", cmq.ErrQueueExists, create("MAIN", cmq.QueueAttributes{}))
	add("CreateQueue over the queue limit", cmq.ErrQueueLimit, create("fresh", cmq.QueueAttributes{}))
	add("Queue missing", cmq.ErrQueueNotExist, func(_ *testing.T, f *badFixture) (any, error) { q, err := f.b.Queue("nope"); return q, err })
	add("DeleteQueue missing", cmq.ErrQueueNotExist, func(_ *testing.T, f *badFixture) (any, error) {
		return nil, f.b.DeleteQueue(context.Background(), "nope")
	})
	add("DeleteQueue of a dead-letter queue", cmq.ErrDeadLetterQueueInUse, func(_ *testing.T, f *badFixture) (any, error) {
		return nil, f.b.DeleteQueue(context.Background(), "DLQ")
	})
	for _, o := range []cmq.ListOptions{{Offset: -1}, {Limit: -1}, {Limit: 51}, {Offset: -5, Limit: 51}} {
		add("ListQueues options", cmq.ErrOutOfRange, func(_ *testing.T, f *badFixture) (any, error) {
			p, _, err := f.b.ListQueues(context.Background(), o)
			return p, err
		})
		add("ListDeadLetterSourceQueues options", cmq.ErrOutOfRange, func(_ *testing.T, f *badFixture) (any, error) {
			p, _, err := f.b.ListDeadLetterSourceQueues(context.Background(), "dlq", o)
			return p, err
		})
	}
	add("ListDeadLetterSourceQueues missing", cmq.ErrQueueNotExist, func(_ *testing.T, f *badFixture) (any, error) {
		p, _, err := f.b.ListDeadLetterSourceQueues(context.Background(), "nope", cmq.ListOptions{})
		return p, err
	})

	// Attributes out of range, for CreateQueue (a fresh name, so only the
	// attribute can be wrong) and SetAttributes.
	attrCases := []struct {
		name string
		a    cmq.QueueAttributes
		want error
	}{
		{"heap 0", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(0)}, cmq.ErrOutOfRange},
		{"heap over max", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(1_000_000_001)}, cmq.ErrOutOfRange},
		{"polling wait negative", cmq.QueueAttributes{PollingWait: cmq.Ptr(-time.Nanosecond)}, cmq.ErrOutOfRange},
		{"polling wait over max", cmq.QueueAttributes{PollingWait: cmq.Ptr(30*time.Second + 1)}, cmq.ErrOutOfRange},
		{"visibility under min", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second - 1)}, cmq.ErrOutOfRange},
		{"visibility over max", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(43200*time.Second + 1)}, cmq.ErrOutOfRange},
		{"size under min", cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(1023)}, cmq.ErrOutOfRange},
		{"size over max", cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(1<<20 + 1)}, cmq.ErrOutOfRange},
		{"retention under min", cmq.QueueAttributes{MsgRetention: cmq.Ptr(59 * time.Second)}, cmq.ErrOutOfRange},
		{"retention over max", cmq.QueueAttributes{MsgRetention: cmq.Ptr(1296000*time.Second + 1)}, cmq.ErrOutOfRange},
		{"rewind negative", cmq.QueueAttributes{RewindPeriod: cmq.Ptr(-time.Second)}, cmq.ErrOutOfRange},
		{"rewind over retention", cmq.QueueAttributes{MsgRetention: cmq.Ptr(60 * time.Second), RewindPeriod: cmq.Ptr(61 * time.Second)}, cmq.ErrRewindPeriod},
		{"good then bad", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(5 * time.Second), MaxMsgSize: cmq.Ptr(1)}, cmq.ErrOutOfRange},
		{"dead letter empty policy", dl(cmq.DeadLetterPolicy{}), cmq.ErrDeadLetterMissingQueue},
		{"dead letter kind 2", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "empty", Kind: 2, MaxReceiveCount: 1}), cmq.ErrDeadLetterPolicyKind},
		{"dead letter kind -1", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "empty", Kind: -1, MaxReceiveCount: 1}), cmq.ErrDeadLetterPolicyKind},
		{"dead letter max receive 0", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "empty", MaxReceiveCount: 0}), cmq.ErrDeadLetterPolicy},
		{"dead letter max receive 1001", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "empty", MaxReceiveCount: 1001}), cmq.ErrDeadLetterPolicy},
		{"dead letter ttl under min", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "empty", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: 299 * time.Second}), cmq.ErrDeadLetterPolicy},
		{"dead letter ttl over max", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "empty", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: 43201 * time.Second}), cmq.ErrDeadLetterPolicy},
		{"dead letter ttl not below retention", cmq.QueueAttributes{MsgRetention: cmq.Ptr(300 * time.Second), DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "empty", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: 300 * time.Second}}, cmq.ErrDeadLetterPolicy},
		{"dead letter queue missing", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "nope", MaxReceiveCount: 1}), cmq.ErrDeadLetterQueueNotExist},
		{"dead letter queue bad name", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "1x", MaxReceiveCount: 1}), cmq.ErrDeadLetterQueueNotExist},
		{"dead letter queue nested", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "src0", MaxReceiveCount: 1}), cmq.ErrDeadLetterNested},
		{"dead letter queue with too many sources", dl(cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 1}), cmq.ErrDeadLetterTooManySources},
	}
	for _, c := range attrCases {
		if c.name != "dead letter queue nested" && c.name != "dead letter queue with too many sources" && c.name != "dead letter queue missing" && c.name != "dead letter queue bad name" {
			// Valid otherwise, a fresh name would hit the queue limit
			// only after the attributes are checked.
			add("CreateQueue "+c.name, c.want, create("fresh", c.a))
		}
		add("SetAttributes "+c.name, c.want, set(c.a))
	}
	add("SetAttributes self as dead-letter queue", cmq.ErrDeadLetterNested, set(dl(cmq.DeadLetterPolicy{DeadLetterQueue: "main", MaxReceiveCount: 1})))
	add("SetAttributes of a dead-letter queue", cmq.ErrDeadLetterNested, func(_ *testing.T, f *badFixture) (any, error) {
		return nil, f.dlq.SetAttributes(context.Background(), dl(cmq.DeadLetterPolicy{DeadLetterQueue: "empty", MaxReceiveCount: 1}))
	})
	add("SetAttributes retention below rewind", cmq.ErrRewindPeriod, set(cmq.QueueAttributes{MsgRetention: cmq.Ptr(60 * time.Second)}))
	add("UnbindDeadLetterQueue without one", cmq.ErrDeadLetterQueueNotExist, func(_ *testing.T, f *badFixture) (any, error) {
		return nil, f.main.UnbindDeadLetterQueue(context.Background())
	})

	// Sends.
	send := func(q func(*badFixture) *cmq.Queue, body string, delay time.Duration) func(*testing.T, *badFixture) (any, error) {
		return func(_ *testing.T, f *badFixture) (any, error) {
			id, err := q(f).Send(context.Background(), body, delay)
			return id, err
		}
	}
	batch := func(q func(*badFixture) *cmq.Queue, bs []string, delay time.Duration) func(*testing.T, *badFixture) (any, error) {
		return func(_ *testing.T, f *badFixture) (any, error) {
			ids, err := q(f).BatchSend(context.Background(), bs, delay)
			return ids, err
		}
	}
	other := func(f *badFixture) *cmq.Queue { return f.other }
	full := func(f *badFixture) *cmq.Queue { return f.full }
	add("Send empty", cmq.ErrEmptyMessage, send(main, "", 0))
	add("Send too large", cmq.ErrMessageTooLarge, send(other, strings.Repeat("x", 65537), 0))
	add("Send too large for 1 MiB", cmq.ErrMessageTooLarge, send(main, strings.Repeat("x", 1<<20+1), 0))
	add("Send delay negative", cmq.ErrOutOfRange, send(main, "x", -1))
	add("Send delay over max", cmq.ErrOutOfRange, send(main, "x", time.Hour+1))
	add("Send to a full heap", cmq.ErrHeapFull, send(full, "x", 0))
	add("Send throttled", cmq.ErrThrottled, send(func(f *badFixture) *cmq.Queue { return f.throttled }, "x", 0))
	add("BatchSend nil", cmq.ErrBatchSize, batch(main, nil, 0))
	add("BatchSend empty", cmq.ErrBatchSize, batch(main, []string{}, 0))
	add("BatchSend 17", cmq.ErrBatchSize, batch(main, badBodies(17, 1), 0))
	add("BatchSend one empty body", cmq.ErrEmptyMessage, batch(main, []string{"a", "", "c"}, 0))
	add("BatchSend over 1 MiB", cmq.ErrBatchTooLarge, batch(main, badBodies(2, 1<<19+1), 0))
	add("BatchSend one body too large", cmq.ErrMessageTooLarge, batch(other, []string{"a", strings.Repeat("x", 65537)}, 0))
	add("BatchSend delay over max", cmq.ErrOutOfRange, batch(main, badBodies(2, 1), time.Hour+1))
	add("BatchSend to a full heap", cmq.ErrHeapFull, batch(full, badBodies(2, 1), 0))

	// Receives.
	add("Receive wait over max", cmq.ErrOutOfRange, recv(main, live, 30*time.Second+1))
	add("Receive cancelled context", context.Canceled, recv(main, cancelled, 0))
	add("Receive cancelled context with wait", context.Canceled, recv(main, cancelled, 5*time.Second))
	add("Receive nothing", cmq.ErrNoMessage, recv(func(f *badFixture) *cmq.Queue { return f.empty }, live, 0))
	add("Receive nothing after a wait", cmq.ErrNoMessage, recv(func(f *badFixture) *cmq.Queue { return f.empty }, live, 5*time.Second))
	add("Receive context ends during the wait", context.DeadlineExceeded, func(t *testing.T, f *badFixture) (any, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		m, err := f.empty.Receive(ctx, 30*time.Second)
		return m, err
	})
	add("Receive throttled", cmq.ErrThrottled, recv(func(f *badFixture) *cmq.Queue { return f.throttled }, live, 0))
	for _, n := range []int{-1, 0, 17} {
		add("BatchReceive n", cmq.ErrBatchSize, func(t *testing.T, f *badFixture) (any, error) {
			ms, err := f.main.BatchReceive(t.Context(), n, 0)
			return ms, err
		})
	}
	add("BatchReceive cancelled context", context.Canceled, func(t *testing.T, f *badFixture) (any, error) {
		ms, err := f.main.BatchReceive(cancelled(t), 16, 0)
		return ms, err
	})
	add("BatchReceive wait over max", cmq.ErrOutOfRange, func(t *testing.T, f *badFixture) (any, error) {
		ms, err := f.main.BatchReceive(t.Context(), 16, time.Minute)
		return ms, err
	})

	// Receipt handles.
	for name, h := range map[string]func(*badFixture) string{
		"empty":           func(*badFixture) string { return "" },
		"junk":            func(*badFixture) string { return "not a handle" },
		"stale":           func(f *badFixture) string { return f.stale },
		"deleted message": func(f *badFixture) string { return f.deleted },
		"foreign":         func(f *badFixture) string { return f.foreign },
		"flipped":         flip,
		"upper case":      func(f *badFixture) string { return strings.ToUpper(f.valid) },
		"one longer":      func(f *badFixture) string { return f.valid + "0" },
		"one shorter":     func(f *badFixture) string { return f.valid[:31] },
		"zero nonce":      func(f *badFixture) string { return f.valid[:16] + strings.Repeat("0", 16) },
		"with NUL":        func(f *badFixture) string { return f.valid[:31] + "\x00" },
		"another queue's": func(f *badFixture) string { return f.throttledH },
	} {
		add("Delete "+name, cmq.ErrInvalidReceiptHandle, del(h))
		add("ChangeVisibility "+name, cmq.ErrInvalidReceiptHandle, func(_ *testing.T, f *badFixture) (any, error) {
			at, err := f.main.ChangeVisibility(context.Background(), h(f), time.Second)
			return at, err
		})
	}
	add("Delete throttled", cmq.ErrThrottled, func(_ *testing.T, f *badFixture) (any, error) {
		return nil, f.throttled.Delete(context.Background(), f.throttledH)
	})
	add("BatchDelete nil", cmq.ErrBatchSize, func(_ *testing.T, f *badFixture) (any, error) {
		r, err := f.main.BatchDelete(context.Background(), nil)
		return r, err
	})
	add("BatchDelete 17", cmq.ErrBatchSize, func(_ *testing.T, f *badFixture) (any, error) {
		r, err := f.main.BatchDelete(context.Background(), badBodies(17, 32))
		return r, err
	})
	add("BatchDelete throttled", cmq.ErrThrottled, func(_ *testing.T, f *badFixture) (any, error) {
		r, err := f.throttled.BatchDelete(context.Background(), []string{f.throttledH})
		return r, err
	})
	for _, d := range []time.Duration{-1, 43200*time.Second + 1} {
		add("ChangeVisibility timeout out of range", cmq.ErrOutOfRange, func(_ *testing.T, f *badFixture) (any, error) {
			at, err := f.main.ChangeVisibility(context.Background(), f.valid, d)
			return at, err
		})
	}

	// Rewind.
	add("Rewind disabled", cmq.ErrRewindDisabled, func(_ *testing.T, f *badFixture) (any, error) {
		return nil, f.other.Rewind(context.Background(), time.Now())
	})
	for name, d := range map[string]time.Duration{"future": -1, "before the period": 120*time.Second + 1, "zero time": 0} {
		add("Rewind "+name, cmq.ErrRewindTime, func(_ *testing.T, f *badFixture) (any, error) {
			start := time.Now().Add(-d)
			if d == 0 {
				start = time.Time{}
			}
			return nil, f.main.Rewind(context.Background(), start)
		})
	}
	return cases
}

// TestBadInput feeds every public method bad arguments and checks that it
// returns the documented error, returns zero values beside it, and leaves
// the broker exactly as it was; then that the valid receipt handle still
// works.
func TestBadInput(t *testing.T) {
	for _, c := range badCases() {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newBadFixture(t)
				before := snapshotBroker(t, f.b)
				got, err := c.call(t, f)
				require.Error(t, err)
				assert.ErrorIs(t, err, c.want)
				assert.Zero(t, got, "value returned with the error")
				// At most 5 s of fake time passed, in which nothing in the
				// fixture changes state, so the state must be identical.
				assert.Equal(t, before, snapshotBroker(t, f.b))
				assert.NoError(t, f.main.Delete(t.Context(), f.valid), "the valid handle still works")
			})
		})
	}
}

// TestBadInputWaitEndsUnchanged checks that a long poll ended by its
// context or by its wait consumes nothing, even when a message becomes
// visible in the same instant as the context ends.
func TestBadInputWaitEndsUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBadFixture(t)
		before := snapshotBroker(t, f.b)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		_, err := f.empty.Receive(ctx, 30*time.Second)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		_, err = f.empty.BatchReceive(t.Context(), 16, 2*time.Second)
		require.ErrorIs(t, err, cmq.ErrNoMessage)
		after := snapshotBroker(t, f.b)
		// Only time moved: nothing in main changes state within 5 s.
		assert.Equal(t, before, after)
	})
}

// TestBadInputDeletedQueue checks every Queue method on a deleted queue,
// and that the rest of the broker is untouched by those calls.
func TestBadInputDeletedQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBadFixture(t)
		require.NoError(t, f.b.DeleteQueue(t.Context(), "other"))
		before := snapshotBroker(t, f.b)
		for name, err := range queueMethodErrors(t, f.other, f.foreign) {
			assert.ErrorIs(t, err, cmq.ErrQueueNotExist, name)
		}
		assert.Equal(t, before, snapshotBroker(t, f.b))
		// A queue created again under the name is a new queue: the old
		// *Queue and its handles do not reach it.
		q, err := f.b.CreateQueue(t.Context(), "Other", cmq.QueueAttributes{})
		require.NoError(t, err)
		assert.NotSame(t, f.other, q)
		_, err = f.other.Send(t.Context(), "x", 0)
		assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
		assert.ErrorIs(t, q.Delete(t.Context(), f.foreign), cmq.ErrInvalidReceiptHandle)
	})
}

// TestBadInputDeletedDuringWait: a receive waiting on a queue that is
// deleted, or on a broker that is closed, returns at once with
// ErrQueueNotExist or ErrClosed.
func TestBadInputDeletedDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBadFixture(t)
		done := make(chan error)
		go func() {
			_, err := f.empty.Receive(t.Context(), 30*time.Second)
			done <- err
		}()
		go func() {
			_, err := f.other.BatchReceive(t.Context(), 16, 30*time.Second)
			done <- err
		}()
		synctest.Wait()
		start := time.Now()
		require.NoError(t, f.b.DeleteQueue(t.Context(), "empty"))
		assert.ErrorIs(t, <-done, cmq.ErrQueueNotExist)
		assert.Equal(t, time.Duration(0), time.Since(start), "returned at once")
		require.NoError(t, f.b.Close())
		assert.ErrorIs(t, <-done, cmq.ErrClosed)
		assert.Equal(t, time.Duration(0), time.Since(start), "returned at once")
	})
}

// TestBadInputBatchDeleteAllInvalid: a batch delete whose handles are all
// refused returns ErrBatchDeleteFailed with one ErrInvalidReceiptHandle per
// handle, and changes nothing; one valid handle among them makes it
// ErrBatchDeletePartial.
func TestBadInputBatchDeleteAllInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBadFixture(t)
		before := snapshotBroker(t, f.b)
		bad := []string{f.stale, f.foreign, f.deleted, "", f.valid + "0"}
		results, err := f.main.BatchDelete(t.Context(), bad)
		assert.ErrorIs(t, err, cmq.ErrBatchDeleteFailed)
		require.Len(t, results, len(bad))
		for i, r := range results {
			assert.ErrorIs(t, r, cmq.ErrInvalidReceiptHandle, "result %d", i)
		}
		assert.Equal(t, before, snapshotBroker(t, f.b))

		results, err = f.main.BatchDelete(t.Context(), append(bad, f.valid))
		assert.ErrorIs(t, err, cmq.ErrBatchDeletePartial)
		require.Len(t, results, len(bad)+1)
		assert.NoError(t, results[len(bad)])
		for i, r := range results[:len(bad)] {
			assert.ErrorIs(t, r, cmq.ErrInvalidReceiptHandle, "result %d", i)
		}
	})
}

// TestBadInputClosed checks every method after Close.
func TestBadInputClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBadFixture(t)
		require.NoError(t, f.b.Close())
		for name, err := range queueMethodErrors(t, f.main, f.valid) {
			assert.ErrorIs(t, err, cmq.ErrClosed, name)
		}
		_, err := f.b.CreateQueue(t.Context(), "fresh", cmq.QueueAttributes{})
		assert.ErrorIs(t, err, cmq.ErrClosed, "CreateQueue")
		_, err = f.b.Queue("main")
		assert.ErrorIs(t, err, cmq.ErrClosed, "Queue")
		assert.ErrorIs(t, f.b.DeleteQueue(t.Context(), "main"), cmq.ErrClosed, "DeleteQueue")
		_, _, err = f.b.ListQueues(t.Context(), cmq.ListOptions{})
		assert.ErrorIs(t, err, cmq.ErrClosed, "ListQueues")
		_, _, err = f.b.ListDeadLetterSourceQueues(t.Context(), "dlq", cmq.ListOptions{})
		assert.ErrorIs(t, err, cmq.ErrClosed, "ListDeadLetterSourceQueues")
		assert.NoError(t, f.b.Close(), "a second Close")
	})
}

// After Close every call returns ErrClosed, even one whose arguments are
// wrong too, and even on a queue deleted before the Close.
func TestBadInputClosedWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBadFixture(t)
		gone, err := f.b.Queue("other")
		require.NoError(t, err)
		require.NoError(t, f.b.DeleteQueue(t.Context(), "other"))
		require.NoError(t, f.b.Close())
		ctx := t.Context()
		for _, q := range []*cmq.Queue{f.main, gone} {
			errs := queueMethodErrors(t, q, f.valid)
			_, errs["Send empty"] = q.Send(ctx, "", 0)
			_, errs["Send long delay"] = q.Send(ctx, "x", 2*time.Hour)
			_, errs["BatchSend none"] = q.BatchSend(ctx, nil, 0)
			_, errs["Receive long wait"] = q.Receive(ctx, time.Hour)
			_, errs["BatchReceive 0"] = q.BatchReceive(ctx, 0, 0)
			_, errs["BatchDelete none"] = q.BatchDelete(ctx, nil)
			_, errs["ChangeVisibility negative"] = q.ChangeVisibility(ctx, f.valid, -1)
			errs["SetAttributes bad"] = q.SetAttributes(ctx, cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Duration(0))})
			for name, err := range errs {
				assert.ErrorIs(t, err, cmq.ErrClosed, "%s on %s", name, q.Name())
			}
		}
		_, err = f.b.CreateQueue(ctx, "1bad", cmq.QueueAttributes{})
		assert.ErrorIs(t, err, cmq.ErrClosed, "CreateQueue")
		_, err = f.b.Queue("1bad")
		assert.ErrorIs(t, err, cmq.ErrClosed, "Queue")
		assert.ErrorIs(t, f.b.DeleteQueue(ctx, "1bad"), cmq.ErrClosed, "DeleteQueue")
		_, _, err = f.b.ListQueues(ctx, cmq.ListOptions{Offset: -1})
		assert.ErrorIs(t, err, cmq.ErrClosed, "ListQueues")
	})
}

// queueMethodErrors calls every Queue method with arguments that would
// otherwise be valid and returns each error.
func queueMethodErrors(t *testing.T, q *cmq.Queue, h string) map[string]error {
	ctx := t.Context()
	errs := map[string]error{}
	_, errs["Send"] = q.Send(ctx, "x", 0)
	_, errs["BatchSend"] = q.BatchSend(ctx, []string{"x", "y"}, 0)
	_, errs["Receive"] = q.Receive(ctx, 0)
	_, errs["Receive with wait"] = q.Receive(ctx, time.Second)
	_, errs["BatchReceive"] = q.BatchReceive(ctx, 16, 0)
	errs["Delete"] = q.Delete(ctx, h)
	_, errs["BatchDelete"] = q.BatchDelete(ctx, []string{h})
	_, errs["ChangeVisibility"] = q.ChangeVisibility(ctx, h, time.Second)
	errs["Purge"] = q.Purge(ctx)
	errs["Rewind"] = q.Rewind(ctx, time.Now())
	_, errs["Attributes"] = q.Attributes(ctx)
	errs["SetAttributes"] = q.SetAttributes(ctx, cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Minute)})
	errs["UnbindDeadLetterQueue"] = q.UnbindDeadLetterQueue(ctx)
	return errs
}
