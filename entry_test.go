package cmq_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// --- Entry checks: Close first, then a done context, then arguments. ---

// methodCalls maps a receiver's type to a call of each of its exported
// methods by name.
type methodCalls map[reflect.Type]map[string]func() error

// requireComplete fails unless calls, together with exempt, name every
// exported method of the types of recvs, and nothing else.
func requireComplete(t *testing.T, calls methodCalls, exempt map[string]string, recvs ...any) {
	t.Helper()
	for _, r := range recvs {
		typ := reflect.TypeOf(r)
		var names []string
		for i := range typ.NumMethod() {
			name := typ.Method(i).Name
			names = append(names, name)
			_, called := calls[typ][name]
			_, exempted := exempt[typ.String()+"."+name]
			assert.True(t, called || exempted, "%s.%s is not covered: add it to the table", typ, name)
		}
		for name := range calls[typ] {
			assert.True(t, slices.Contains(names, name), "%s has no method %s", typ, name)
		}
	}
}

// doneContexts are contexts already done, one per way to end.
func doneContexts(t *testing.T) map[string]context.Context {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel2)
	return map[string]context.Context{"cancelled": cancelled, "deadline": expired}
}

// After Close every call returns ErrClosed, whatever its arguments: bad
// names, bad sizes, bad durations and a done context.
func TestEveryMethodAfterClose(t *testing.T) {
	b := newBroker(t)
	q := newQueue(t, b, "q", cmq.QueueAttributes{})
	svc := b.Service()
	require.NoError(t, b.Close())

	for ctxName, ctx := range doneContexts(t) {
		const bad = "1bad"
		badAttrs := cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(-1)}
		badList := cmq.ListOptions{Offset: -1, Limit: 51}
		ext := svc.(cmq.ServiceExtensions)
		calls := methodCalls{
			reflect.TypeOf(b): {
				"CreateQueue": func() error { _, err := b.CreateQueue(ctx, bad, badAttrs); return err },
				"DeleteQueue": func() error { return b.DeleteQueue(ctx, bad) },
				"ListQueues":  func() error { _, _, err := b.ListQueues(ctx, badList); return err },
				"ListDeadLetterSourceQueues": func() error {
					_, _, err := b.ListDeadLetterSourceQueues(ctx, bad, badList)
					return err
				},
				"Queue":  func() error { _, err := b.Queue(bad); return err },
				"Health": func() error { return b.Health() },
				"CreateTopic": func() error {
					_, err := b.CreateTopic(ctx, bad, cmq.TopicAttributes{MaxMsgSize: cmq.Ptr(-1)})
					return err
				},
				"DeleteTopic": func() error { return b.DeleteTopic(ctx, bad) },
				"ListTopics":  func() error { _, _, err := b.ListTopics(ctx, badList); return err },
				"Topic":       func() error { _, err := b.Topic(bad); return err },
			},
			reflect.TypeOf(q): {
				"Send":                  func() error { _, err := q.Send(ctx, "", -1); return err },
				"BatchSend":             func() error { _, err := q.BatchSend(ctx, nil, -1); return err },
				"Receive":               func() error { _, err := q.Receive(ctx, time.Hour); return err },
				"BatchReceive":          func() error { _, err := q.BatchReceive(ctx, 0, time.Hour); return err },
				"Delete":                func() error { return q.Delete(ctx, bad) },
				"BatchDelete":           func() error { _, err := q.BatchDelete(ctx, nil); return err },
				"ChangeVisibility":      func() error { _, err := q.ChangeVisibility(ctx, bad, -1); return err },
				"Attributes":            func() error { _, err := q.Attributes(ctx); return err },
				"SetAttributes":         func() error { return q.SetAttributes(ctx, badAttrs) },
				"Purge":                 func() error { return q.Purge(ctx) },
				"Rewind":                func() error { return q.Rewind(ctx, time.Time{}) },
				"UnbindDeadLetterQueue": func() error { return q.UnbindDeadLetterQueue(ctx) },
				"Stats":                 func() error { _, err := q.Stats(); return err },
			},
			reflect.TypeOf(svc): {
				"CreateQueue":        func() error { _, err := svc.CreateQueue(ctx, bad, badAttrs); return err },
				"DeleteQueue":        func() error { return svc.DeleteQueue(ctx, bad) },
				"ListQueues":         func() error { _, _, err := svc.ListQueues(ctx, badList); return err },
				"GetQueueAttributes": func() error { _, err := svc.GetQueueAttributes(ctx, bad); return err },
				"SetQueueAttributes": func() error { return svc.SetQueueAttributes(ctx, bad, badAttrs) },
				"RewindQueue":        func() error { return svc.RewindQueue(ctx, bad, time.Time{}) },
				"ListDeadLetterSourceQueues": func() error {
					_, _, err := svc.ListDeadLetterSourceQueues(ctx, bad, badList)
					return err
				},
				"UnbindDeadLetterQueue": func() error { return svc.UnbindDeadLetterQueue(ctx, bad) },
				"SendMessage":           func() error { _, err := svc.SendMessage(ctx, bad, "", -1); return err },
				"BatchSendMessage":      func() error { _, err := svc.BatchSendMessage(ctx, bad, nil, -1); return err },
				"ReceiveMessage":        func() error { _, err := svc.ReceiveMessage(ctx, bad, time.Hour); return err },
				"BatchReceiveMessage": func() error {
					_, err := svc.BatchReceiveMessage(ctx, bad, 0, time.Hour)
					return err
				},
				"DeleteMessage": func() error { return svc.DeleteMessage(ctx, bad, bad) },
				"BatchDeleteMessage": func() error {
					_, err := svc.BatchDeleteMessage(ctx, bad, nil)
					return err
				},
				"ChangeMessageVisibility": func() error {
					_, err := ext.ChangeMessageVisibility(ctx, bad, bad, -1)
					return err
				},
				"PurgeQueue": func() error { return ext.PurgeQueue(ctx, bad) },
			},
		}
		exempt := map[string]string{
			"*cmq.Broker.Close":   "idempotent: returns nil (TestCloseIdempotentAndFinal)",
			"*cmq.Broker.Limits":  "returns no error",
			"*cmq.Broker.Service": "returns no error; the adapter's methods are in the table",
			"*cmq.Broker.Stats":   "returns no error: Closed and no queues after Close (TestStatsAfterDeleteAndClose)",
			"*cmq.Queue.Name":     "returns no error",
			"*cmq.Queue.ID":       "returns no error",
		}
		requireComplete(t, calls, exempt, b, q, svc)
		for typ, methods := range calls {
			for name, call := range methods {
				assert.ErrorIs(t, call(), cmq.ErrClosed, "%s: %s.%s", ctxName, typ, name)
			}
		}
	}
}

// entryFixture is a broker whose state every call would change: a source
// queue bound to a dead-letter queue, with rewind, an active message, a
// received one (handle) and a deleted one kept for rewind; and a spare
// queue to delete.
type entryFixture struct {
	b        *cmq.Broker
	src, dlq *cmq.Queue
	handle   string
	start    time.Time
}

func newEntryFixture(t *testing.T) *entryFixture {
	f := &entryFixture{b: newBroker(t), start: time.Now()}
	f.dlq = newQueue(t, f.b, "dlq", cmq.QueueAttributes{})
	newQueue(t, f.b, "spare", cmq.QueueAttributes{})
	f.src = newQueue(t, f.b, "src", cmq.QueueAttributes{
		RewindPeriod:     cmq.Ptr(time.Hour),
		DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 5},
	})
	_, err := f.src.BatchSend(t.Context(), []string{"deleted", "received", "active"}, 0)
	require.NoError(t, err)
	ms, err := f.src.BatchReceive(t.Context(), 2, 0)
	require.NoError(t, err)
	require.NoError(t, f.src.Delete(t.Context(), ms[0].ReceiptHandle))
	f.handle = ms[1].ReceiptHandle
	_, err = f.b.CreateTopic(t.Context(), "spare", cmq.TopicAttributes{})
	require.NoError(t, err)
	return f
}

// snapshot is everything a call could change, as seen through the API.
func (f *entryFixture) snapshot(t *testing.T) any {
	qs, total, err := f.b.ListQueues(t.Context(), cmq.ListOptions{})
	require.NoError(t, err)
	src, err := f.src.Attributes(t.Context())
	require.NoError(t, err)
	dlq, err := f.dlq.Attributes(t.Context())
	require.NoError(t, err)
	ts, topics, err := f.b.ListTopics(t.Context(), cmq.ListOptions{})
	require.NoError(t, err)
	return []any{qs, total, src, dlq, ts, topics}
}

// entryCall is a call on a fixture with arguments that succeed.
type entryCall = func(ctx context.Context, f *entryFixture) error

// entryCalls returns a call of every method that takes a context, of the
// Broker, the Queue and the Service adapter, by name.
func entryCalls() (broker, queue, service map[string]entryCall) {
	broker = map[string]entryCall{
		"CreateQueue": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.CreateQueue(ctx, "new", cmq.QueueAttributes{})
			return err
		},
		"DeleteQueue": func(ctx context.Context, f *entryFixture) error { return f.b.DeleteQueue(ctx, "spare") },
		"ListQueues": func(ctx context.Context, f *entryFixture) error {
			_, _, err := f.b.ListQueues(ctx, cmq.ListOptions{})
			return err
		},
		"ListDeadLetterSourceQueues": func(ctx context.Context, f *entryFixture) error {
			_, _, err := f.b.ListDeadLetterSourceQueues(ctx, "dlq", cmq.ListOptions{})
			return err
		},
		"CreateTopic": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.CreateTopic(ctx, "new", cmq.TopicAttributes{})
			return err
		},
		"DeleteTopic": func(ctx context.Context, f *entryFixture) error { return f.b.DeleteTopic(ctx, "spare") },
		"ListTopics": func(ctx context.Context, f *entryFixture) error {
			_, _, err := f.b.ListTopics(ctx, cmq.ListOptions{})
			return err
		},
	}
	queue = map[string]entryCall{
		"Send": func(ctx context.Context, f *entryFixture) error { _, err := f.src.Send(ctx, "x", 0); return err },
		"BatchSend": func(ctx context.Context, f *entryFixture) error {
			_, err := f.src.BatchSend(ctx, []string{"x"}, 0)
			return err
		},
		"Receive": func(ctx context.Context, f *entryFixture) error { _, err := f.src.Receive(ctx, 0); return err },
		"BatchReceive": func(ctx context.Context, f *entryFixture) error {
			_, err := f.src.BatchReceive(ctx, 16, time.Second)
			return err
		},
		"Delete": func(ctx context.Context, f *entryFixture) error { return f.src.Delete(ctx, f.handle) },
		"BatchDelete": func(ctx context.Context, f *entryFixture) error {
			_, err := f.src.BatchDelete(ctx, []string{f.handle})
			return err
		},
		"ChangeVisibility": func(ctx context.Context, f *entryFixture) error {
			_, err := f.src.ChangeVisibility(ctx, f.handle, 0)
			return err
		},
		"Attributes": func(ctx context.Context, f *entryFixture) error { _, err := f.src.Attributes(ctx); return err },
		"SetAttributes": func(ctx context.Context, f *entryFixture) error {
			return f.src.SetAttributes(ctx, cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Minute)})
		},
		"Purge":                 func(ctx context.Context, f *entryFixture) error { return f.src.Purge(ctx) },
		"Rewind":                func(ctx context.Context, f *entryFixture) error { return f.src.Rewind(ctx, f.start) },
		"UnbindDeadLetterQueue": func(ctx context.Context, f *entryFixture) error { return f.src.UnbindDeadLetterQueue(ctx) },
	}
	service = map[string]entryCall{
		"CreateQueue": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.Service().CreateQueue(ctx, "new", cmq.QueueAttributes{})
			return err
		},
		"DeleteQueue": func(ctx context.Context, f *entryFixture) error { return f.b.Service().DeleteQueue(ctx, "spare") },
		"ListQueues": func(ctx context.Context, f *entryFixture) error {
			_, _, err := f.b.Service().ListQueues(ctx, cmq.ListOptions{})
			return err
		},
		"GetQueueAttributes": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.Service().GetQueueAttributes(ctx, "src")
			return err
		},
		"SetQueueAttributes": func(ctx context.Context, f *entryFixture) error {
			return f.b.Service().SetQueueAttributes(ctx, "src", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Minute)})
		},
		"RewindQueue": func(ctx context.Context, f *entryFixture) error {
			return f.b.Service().RewindQueue(ctx, "src", f.start)
		},
		"ListDeadLetterSourceQueues": func(ctx context.Context, f *entryFixture) error {
			_, _, err := f.b.Service().ListDeadLetterSourceQueues(ctx, "dlq", cmq.ListOptions{})
			return err
		},
		"UnbindDeadLetterQueue": func(ctx context.Context, f *entryFixture) error {
			return f.b.Service().UnbindDeadLetterQueue(ctx, "src")
		},
		"SendMessage": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.Service().SendMessage(ctx, "src", "x", 0)
			return err
		},
		"BatchSendMessage": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.Service().BatchSendMessage(ctx, "src", []string{"x"}, 0)
			return err
		},
		"ReceiveMessage": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.Service().ReceiveMessage(ctx, "src", 0)
			return err
		},
		"BatchReceiveMessage": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.Service().BatchReceiveMessage(ctx, "src", 16, 0)
			return err
		},
		"DeleteMessage": func(ctx context.Context, f *entryFixture) error {
			return f.b.Service().DeleteMessage(ctx, "src", f.handle)
		},
		"BatchDeleteMessage": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.Service().BatchDeleteMessage(ctx, "src", []string{f.handle})
			return err
		},
		"ChangeMessageVisibility": func(ctx context.Context, f *entryFixture) error {
			_, err := f.b.Service().(cmq.ServiceExtensions).ChangeMessageVisibility(ctx, "src", f.handle, 0)
			return err
		},
		"PurgeQueue": func(ctx context.Context, f *entryFixture) error {
			return f.b.Service().(cmq.ServiceExtensions).PurgeQueue(ctx, "src")
		},
	}

	return broker, queue, service
}

// A done context makes every method return ctx.Err() itself, unwrapped,
// and change nothing, even with arguments that would succeed.
func TestEveryMethodWithDoneContext(t *testing.T) {
	for ctxName, ctxFor := range map[string]func(t *testing.T) context.Context{
		"cancelled": func(t *testing.T) context.Context { return doneContexts(t)["cancelled"] },
		"deadline":  func(t *testing.T) context.Context { return doneContexts(t)["deadline"] },
	} {
		t.Run(ctxName, func(t *testing.T) {
			broker, queue, service := entryCalls()
			// Every method that takes a context is in a table.
			ctxType := reflect.TypeFor[context.Context]()
			b := newBroker(t)
			q := newQueue(t, b, "q", cmq.QueueAttributes{})
			for recv, table := range map[any]map[string]entryCall{b: broker, q: queue, b.Service(): service} {
				typ := reflect.TypeOf(recv)
				for i := range typ.NumMethod() {
					m := typ.Method(i)
					if m.Type.NumIn() > 1 && m.Type.In(1) == ctxType {
						assert.Contains(t, table, m.Name, "%s.%s takes a context: add it to the table", typ, m.Name)
					}
				}
			}

			for group, table := range map[string]map[string]entryCall{"Broker": broker, "Queue": queue, "Service": service} {
				for name, c := range table {
					t.Run(group+"."+name, func(t *testing.T) {
						synctest.Test(t, func(t *testing.T) {
							f := newEntryFixture(t)
							before := f.snapshot(t)
							ctx := ctxFor(t)
							err := c(ctx, f)
							assert.Equal(t, ctx.Err(), err, "ctx.Err() itself, unwrapped")
							assert.Equal(t, before, f.snapshot(t), "nothing changed")
						})
					})
				}
			}
		})
	}
}

// Without a done context the fixture's calls would change something, so
// the test above could fail: each call, with a live context, succeeds and
// changes the snapshot, the read-only ones excepted.
func TestEntryFixtureCallsChangeState(t *testing.T) {
	readOnly := []string{"ListQueues", "ListTopics", "ListDeadLetterSourceQueues", "Attributes", "GetQueueAttributes"}
	broker, queue, service := entryCalls()
	for group, table := range map[string]map[string]entryCall{"Broker": broker, "Queue": queue, "Service": service} {
		for name, c := range table {
			t.Run(group+"."+name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := newEntryFixture(t)
					before := f.snapshot(t)
					require.NoError(t, c(t.Context(), f))
					if !slices.Contains(readOnly, name) {
						assert.NotEqual(t, before, f.snapshot(t))
					}
				})
			})
		}
	}
}
