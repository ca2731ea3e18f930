// Package servicetest is the contract suite of [cmq.Service]: every
// implementation (the in-process broker's, the remote client's against
// cmqd) runs the same cases, so they agree on behaviour and errors.
//
// The cases tolerate times in whole seconds, as they travel over the wire,
// and never sleep: time passes only in a receive's wait (at most 1 s) for
// a visibility timeout of 1 s to end, so a remote run takes a few seconds
// of real time and an in-process run inside testing/synctest none.
package servicetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// Config adapts the suite to where the service runs. The zero Config runs
// every case directly.
type Config struct {
	// Wrap, if not nil, runs each case: the in-process tests pass
	// synctest.Test, so that the cases in which time passes run on a fake
	// clock. newService is called inside it.
	Wrap func(t *testing.T, f func(t *testing.T))
	// SkipTimed skips the cases in which time must pass.
	SkipTimed bool
}

// Run runs the contract suite with the zero Config. newService must
// return a service that holds no queue, for each case anew.
func Run(t *testing.T, newService func(t *testing.T) cmq.Service) {
	RunConfig(t, Config{}, newService)
}

// RunConfig runs the contract suite as c says.
func RunConfig(t *testing.T, c Config, newService func(t *testing.T) cmq.Service) {
	cases := []struct {
		name  string
		timed bool
		f     func(t *testing.T, ctx context.Context, s cmq.Service)
	}{
		{"Queues", false, queues},
		{"SendReceiveDelete", false, sendReceiveDelete},
		{"Delay", false, delay},
		{"Batches", false, batches},
		{"BatchDelete", false, batchDelete},
		{"Rewind", false, rewind},
		{"DeadLetterBinding", false, deadLetterBinding},
		{"VisibilityTimeout", true, visibilityTimeout},
		{"DeadLetterMove", true, deadLetterMove},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.timed && c.SkipTimed {
				t.Skip("time must pass")
			}
			run := func(t *testing.T) { tc.f(t, t.Context(), newService(t)) }
			if c.Wrap != nil {
				c.Wrap(t, run)
			} else {
				run(t)
			}
		})
	}
}

// within1s asserts that got is want to the second, as times on the wire are.
func within1s(t *testing.T, want, got time.Time, msg string) {
	t.Helper()
	assert.WithinDuration(t, want, got, time.Second, msg)
}

func create(t *testing.T, ctx context.Context, s cmq.Service, name string, a cmq.QueueAttributes) string {
	t.Helper()
	id, err := s.CreateQueue(ctx, name, a)
	require.NoError(t, err, "CreateQueue %s", name)
	require.NotEmpty(t, id)
	return id
}

func counts(t *testing.T, ctx context.Context, s cmq.Service, name string) [4]int {
	t.Helper()
	info, err := s.GetQueueAttributes(ctx, name)
	require.NoError(t, err)
	return [4]int{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum, info.RewindMsgNum}
}

// queues: create, list, get and set attributes, delete.
func queues(t *testing.T, ctx context.Context, s cmq.Service) {
	start := time.Now()
	idA := create(t, ctx, s, "alpha", cmq.QueueAttributes{})
	create(t, ctx, s, "Beta", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(45 * time.Second)})

	_, err := s.CreateQueue(ctx, "ALPHA", cmq.QueueAttributes{})
	assert.ErrorIs(t, err, cmq.ErrQueueExists, "names are unique ignoring case")
	_, err = s.CreateQueue(ctx, "1bad", cmq.QueueAttributes{})
	assert.ErrorIs(t, err, cmq.ErrQueueNameFormat)
	_, err = s.CreateQueue(ctx, "gamma", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(50000 * time.Second)})
	assert.ErrorIs(t, err, cmq.ErrOutOfRange)

	page, total, err := s.ListQueues(ctx, cmq.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, total)
	assert.Equal(t, []cmq.QueueSummary{{ID: idA, Name: "alpha"}, {ID: page[1].ID, Name: "Beta"}}, page, "sorted ignoring case")
	page, total, err = s.ListQueues(ctx, cmq.ListOptions{Search: "BET"})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, "Beta", page[0].Name)
	page, total, err = s.ListQueues(ctx, cmq.ListOptions{Offset: 1, Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, 2, total)
	assert.Equal(t, "Beta", page[0].Name)
	_, _, err = s.ListQueues(ctx, cmq.ListOptions{Limit: 51})
	assert.ErrorIs(t, err, cmq.ErrOutOfRange)

	info, err := s.GetQueueAttributes(ctx, "alpha")
	require.NoError(t, err)
	assert.Equal(t, idA, info.ID)
	assert.Equal(t, "alpha", info.Name)
	assert.Equal(t, 30*time.Second, info.VisibilityTimeout)
	assert.Equal(t, time.Duration(0), info.PollingWait)
	assert.Equal(t, 65536, info.MaxMsgSize)
	assert.Equal(t, 345600*time.Second, info.MsgRetention)
	assert.Equal(t, time.Duration(0), info.RewindPeriod)
	assert.Nil(t, info.DeadLetterPolicy)
	within1s(t, start, info.CreateTime, "CreateTime")
	info, err = s.GetQueueAttributes(ctx, "beta")
	require.NoError(t, err)
	assert.Equal(t, 45*time.Second, info.VisibilityTimeout, "names are found ignoring case")

	require.NoError(t, s.SetQueueAttributes(ctx, "alpha", cmq.QueueAttributes{
		MaxMsgSize:  cmq.Ptr(2048),
		PollingWait: cmq.Ptr(time.Second),
	}))
	err = s.SetQueueAttributes(ctx, "alpha", cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(1), VisibilityTimeout: cmq.Ptr(time.Minute)})
	assert.ErrorIs(t, err, cmq.ErrOutOfRange)
	info, err = s.GetQueueAttributes(ctx, "alpha")
	require.NoError(t, err)
	assert.Equal(t, 2048, info.MaxMsgSize)
	assert.Equal(t, time.Second, info.PollingWait)
	assert.Equal(t, 30*time.Second, info.VisibilityTimeout, "a refused set changes nothing")
	assert.False(t, info.LastModifyTime.Before(info.CreateTime))

	require.NoError(t, s.DeleteQueue(ctx, "alpha"))
	_, err = s.GetQueueAttributes(ctx, "alpha")
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	assert.ErrorIs(t, s.DeleteQueue(ctx, "alpha"), cmq.ErrQueueNotExist)
	assert.ErrorIs(t, s.SetQueueAttributes(ctx, "alpha", cmq.QueueAttributes{}), cmq.ErrQueueNotExist)
	_, total, err = s.ListQueues(ctx, cmq.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
}

// sendReceiveDelete: one message through its life, and the errors on the way.
func sendReceiveDelete(t *testing.T, ctx context.Context, s cmq.Service) {
	create(t, ctx, s, "q", cmq.QueueAttributes{})
	sent := time.Now()
	id, err := s.SendMessage(ctx, "q", "hello", 0)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	assert.Equal(t, [4]int{1, 0, 0, 0}, counts(t, ctx, s, "q"))

	m, err := s.ReceiveMessage(ctx, "q", 0)
	require.NoError(t, err)
	assert.Equal(t, id, m.ID)
	assert.Equal(t, "hello", m.Body)
	assert.Equal(t, 1, m.DequeueCount)
	assert.NotEmpty(t, m.ReceiptHandle)
	within1s(t, sent, m.EnqueueTime, "EnqueueTime")
	within1s(t, sent, m.FirstDequeueTime, "FirstDequeueTime")
	within1s(t, sent.Add(30*time.Second), m.NextVisibleTime, "NextVisibleTime")
	assert.Nil(t, m.DeadLetter)
	assert.Equal(t, [4]int{0, 1, 0, 0}, counts(t, ctx, s, "q"))

	_, err = s.ReceiveMessage(ctx, "q", 0)
	assert.ErrorIs(t, err, cmq.ErrNoMessage, "the message is inactive")
	assert.ErrorIs(t, s.DeleteMessage(ctx, "q", m.ID), cmq.ErrInvalidReceiptHandle, "an id is not a handle")
	require.NoError(t, s.DeleteMessage(ctx, "q", m.ReceiptHandle))
	assert.ErrorIs(t, s.DeleteMessage(ctx, "q", m.ReceiptHandle), cmq.ErrInvalidReceiptHandle, "deleted already")
	assert.Equal(t, [4]int{0, 0, 0, 0}, counts(t, ctx, s, "q"))

	_, err = s.SendMessage(ctx, "q", "", 0)
	assert.ErrorIs(t, err, cmq.ErrEmptyMessage)
	_, err = s.SendMessage(ctx, "q", "x", 3601*time.Second)
	assert.ErrorIs(t, err, cmq.ErrOutOfRange)
	_, err = s.SendMessage(ctx, "q", strings.Repeat("x", 65537), 0)
	assert.ErrorIs(t, err, cmq.ErrMessageTooLarge)
	_, err = s.ReceiveMessage(ctx, "q", 31*time.Second)
	assert.ErrorIs(t, err, cmq.ErrOutOfRange)
	assert.Equal(t, [4]int{0, 0, 0, 0}, counts(t, ctx, s, "q"), "refused calls change nothing")

	_, err = s.SendMessage(ctx, "missing", "x", 0)
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	_, err = s.ReceiveMessage(ctx, "missing", 0)
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	assert.ErrorIs(t, s.DeleteMessage(ctx, "missing", m.ReceiptHandle), cmq.ErrQueueNotExist)
}

// delay: a delayed message is counted and not received.
func delay(t *testing.T, ctx context.Context, s cmq.Service) {
	create(t, ctx, s, "q", cmq.QueueAttributes{})
	_, err := s.SendMessage(ctx, "q", "later", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, [4]int{0, 0, 1, 0}, counts(t, ctx, s, "q"))
	_, err = s.ReceiveMessage(ctx, "q", 0)
	assert.ErrorIs(t, err, cmq.ErrNoMessage)
}

// batches: send and receive in batches, in send order; batch sizes.
func batches(t *testing.T, ctx context.Context, s cmq.Service) {
	create(t, ctx, s, "q", cmq.QueueAttributes{})
	ids, err := s.BatchSendMessage(ctx, "q", []string{"a", "b", "c"}, 0)
	require.NoError(t, err)
	require.Len(t, ids, 3)
	assert.NotEqual(t, ids[0], ids[1])
	assert.NotEqual(t, ids[1], ids[2])

	ms, err := s.BatchReceiveMessage(ctx, "q", 2, 0)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	assert.Equal(t, []string{"a", "b"}, []string{ms[0].Body, ms[1].Body})
	assert.Equal(t, ids[:2], []string{ms[0].ID, ms[1].ID})
	ms, err = s.BatchReceiveMessage(ctx, "q", 16, 0)
	require.NoError(t, err, "what is visible, not a full batch")
	require.Len(t, ms, 1)
	assert.Equal(t, "c", ms[0].Body)
	_, err = s.BatchReceiveMessage(ctx, "q", 16, 0)
	assert.ErrorIs(t, err, cmq.ErrNoMessage)

	for _, bodies := range [][]string{nil, make([]string, 17)} {
		_, err = s.BatchSendMessage(ctx, "q", bodies, 0)
		assert.ErrorIs(t, err, cmq.ErrBatchSize, len(bodies))
	}
	_, err = s.BatchSendMessage(ctx, "q", []string{"ok", ""}, 0)
	assert.ErrorIs(t, err, cmq.ErrEmptyMessage, "all or nothing")
	for _, n := range []int{0, 17} {
		_, err = s.BatchReceiveMessage(ctx, "q", n, 0)
		assert.ErrorIs(t, err, cmq.ErrBatchSize, n)
	}
	for _, hs := range [][]string{nil, make([]string, 17)} {
		_, err = s.BatchDeleteMessage(ctx, "q", hs)
		assert.ErrorIs(t, err, cmq.ErrBatchSize, len(hs))
	}
	assert.Equal(t, [4]int{0, 3, 0, 0}, counts(t, ctx, s, "q"), "refused calls change nothing")
	_, err = s.BatchSendMessage(ctx, "missing", []string{"a"}, 0)
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
}

// batchDelete: all deleted, some failed, all failed.
func batchDelete(t *testing.T, ctx context.Context, s cmq.Service) {
	create(t, ctx, s, "q", cmq.QueueAttributes{})
	_, err := s.BatchSendMessage(ctx, "q", []string{"a", "b", "c"}, 0)
	require.NoError(t, err)
	ms, err := s.BatchReceiveMessage(ctx, "q", 3, 0)
	require.NoError(t, err)
	require.Len(t, ms, 3)
	h := []string{ms[0].ReceiptHandle, ms[1].ReceiptHandle, ms[2].ReceiptHandle}

	results, err := s.BatchDeleteMessage(ctx, "q", h[:2])
	require.NoError(t, err)
	assert.Equal(t, []error{nil, nil}, results)

	results, err = s.BatchDeleteMessage(ctx, "q", []string{h[2], h[0]})
	assert.ErrorIs(t, err, cmq.ErrBatchDeletePartial)
	require.Len(t, results, 2)
	assert.NoError(t, results[0])
	assert.ErrorIs(t, results[1], cmq.ErrInvalidReceiptHandle)

	results, err = s.BatchDeleteMessage(ctx, "q", h)
	assert.ErrorIs(t, err, cmq.ErrBatchDeleteFailed)
	require.Len(t, results, 3)
	for i, e := range results {
		assert.ErrorIs(t, e, cmq.ErrInvalidReceiptHandle, i)
	}
	assert.Equal(t, [4]int{0, 0, 0, 0}, counts(t, ctx, s, "q"))
}

// rewind: a deleted message comes back; rewind errors.
func rewind(t *testing.T, ctx context.Context, s cmq.Service) {
	create(t, ctx, s, "q", cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Hour)})
	create(t, ctx, s, "plain", cmq.QueueAttributes{})
	start := time.Now().Truncate(time.Second) // whole seconds, as on the wire
	id, err := s.SendMessage(ctx, "q", "again", 0)
	require.NoError(t, err)
	m, err := s.ReceiveMessage(ctx, "q", 0)
	require.NoError(t, err)
	require.NoError(t, s.DeleteMessage(ctx, "q", m.ReceiptHandle))
	assert.Equal(t, [4]int{0, 0, 0, 1}, counts(t, ctx, s, "q"), "kept for rewind")

	require.NoError(t, s.RewindQueue(ctx, "q", start))
	m, err = s.ReceiveMessage(ctx, "q", 0)
	require.NoError(t, err)
	assert.Equal(t, id, m.ID)
	assert.Equal(t, "again", m.Body)
	assert.Equal(t, 1, m.DequeueCount, "a rewound message is delivered afresh")

	assert.ErrorIs(t, s.RewindQueue(ctx, "q", start.Add(time.Hour)), cmq.ErrRewindTime)
	assert.ErrorIs(t, s.RewindQueue(ctx, "q", start.Add(-2*time.Hour)), cmq.ErrRewindTime)
	assert.ErrorIs(t, s.RewindQueue(ctx, "plain", start), cmq.ErrRewindDisabled)
	assert.ErrorIs(t, s.RewindQueue(ctx, "missing", start), cmq.ErrQueueNotExist)
	err = s.SetQueueAttributes(ctx, "q", cmq.QueueAttributes{RewindPeriod: cmq.Ptr(400000 * time.Second)})
	assert.ErrorIs(t, err, cmq.ErrRewindPeriod, "longer than MsgRetention")
}

// deadLetterBinding: bind, list sources, refuse deletion, unbind.
func deadLetterBinding(t *testing.T, ctx context.Context, s cmq.Service) {
	create(t, ctx, s, "dlq", cmq.QueueAttributes{})
	policy := cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 3}
	srcID := create(t, ctx, s, "src", cmq.QueueAttributes{DeadLetterPolicy: &policy})
	create(t, ctx, s, "other", cmq.QueueAttributes{})

	info, err := s.GetQueueAttributes(ctx, "src")
	require.NoError(t, err)
	assert.Equal(t, &policy, info.DeadLetterPolicy)
	page, total, err := s.ListDeadLetterSourceQueues(ctx, "dlq", cmq.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, []cmq.QueueSummary{{ID: srcID, Name: "src"}}, page)
	_, _, err = s.ListDeadLetterSourceQueues(ctx, "missing", cmq.ListOptions{})
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)

	assert.ErrorIs(t, s.DeleteQueue(ctx, "dlq"), cmq.ErrDeadLetterQueueInUse)
	bad := cmq.DeadLetterPolicy{DeadLetterQueue: "missing", MaxReceiveCount: 1}
	assert.ErrorIs(t, s.SetQueueAttributes(ctx, "other", cmq.QueueAttributes{DeadLetterPolicy: &bad}), cmq.ErrDeadLetterQueueNotExist)
	nested := cmq.DeadLetterPolicy{DeadLetterQueue: "src", MaxReceiveCount: 1}
	assert.ErrorIs(t, s.SetQueueAttributes(ctx, "other", cmq.QueueAttributes{DeadLetterPolicy: &nested}), cmq.ErrDeadLetterNested)

	require.NoError(t, s.UnbindDeadLetterQueue(ctx, "src"))
	assert.ErrorIs(t, s.UnbindDeadLetterQueue(ctx, "src"), cmq.ErrDeadLetterQueueNotExist)
	assert.ErrorIs(t, s.UnbindDeadLetterQueue(ctx, "missing"), cmq.ErrQueueNotExist)
	info, err = s.GetQueueAttributes(ctx, "src")
	require.NoError(t, err)
	assert.Nil(t, info.DeadLetterPolicy)
	page, total, err = s.ListDeadLetterSourceQueues(ctx, "dlq", cmq.ListOptions{})
	require.NoError(t, err)
	assert.Zero(t, total)
	assert.Empty(t, page)
	require.NoError(t, s.DeleteQueue(ctx, "dlq"))
}

// visibilityTimeout: an undeleted message comes back when its timeout ends,
// with a new handle; the old one stops working.
func visibilityTimeout(t *testing.T, ctx context.Context, s cmq.Service) {
	create(t, ctx, s, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Second)})
	_, err := s.SendMessage(ctx, "q", "x", 0)
	require.NoError(t, err)
	first, err := s.ReceiveMessage(ctx, "q", 0)
	require.NoError(t, err)
	again, err := s.ReceiveMessage(ctx, "q", time.Second) // returns when the timeout ends
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, 2, again.DequeueCount)
	assert.NotEqual(t, first.ReceiptHandle, again.ReceiptHandle)
	assert.ErrorIs(t, s.DeleteMessage(ctx, "q", first.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
	require.NoError(t, s.DeleteMessage(ctx, "q", again.ReceiptHandle))
}

// deadLetterMove: a message received MaxReceiveCount times moves to the
// dead-letter queue, keeping its id and body.
func deadLetterMove(t *testing.T, ctx context.Context, s cmq.Service) {
	create(t, ctx, s, "dlq", cmq.QueueAttributes{})
	create(t, ctx, s, "src", cmq.QueueAttributes{
		VisibilityTimeout: cmq.Ptr(time.Second),
		DeadLetterPolicy:  &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 1},
	})
	id, err := s.SendMessage(ctx, "src", "poison", 0)
	require.NoError(t, err)
	_, err = s.ReceiveMessage(ctx, "src", 0)
	require.NoError(t, err)
	_, err = s.ReceiveMessage(ctx, "src", time.Second) // the second receive moves it
	require.True(t, errors.Is(err, cmq.ErrNoMessage), "got %v", err)
	m, err := s.ReceiveMessage(ctx, "dlq", 0)
	require.NoError(t, err)
	assert.Equal(t, id, m.ID)
	assert.Equal(t, "poison", m.Body)
	assert.Equal(t, 1, m.DequeueCount)
	assert.Equal(t, [4]int{0, 0, 0, 0}, counts(t, ctx, s, "src"))
}
