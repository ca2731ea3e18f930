package cmq_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// Topic stats: what publishes, queue deliveries and HTTP pushes that
// succeed, fail, are retried and dropped count, on the subscription and
// its topic, and the topics in the broker's snapshot.
func TestTopicStats(t *testing.T) {
	type counts struct {
		MsgCount                                    int
		Published, Delivered, Failed, Retried, Drop uint64
	}
	of := func(s cmq.TopicStats) counts {
		return counts{s.MsgCount, s.Published, s.Delivered, s.Failed, s.Retried, s.Dropped}
	}
	ofSub := func(s cmq.SubscriptionStats) counts {
		return counts{s.MsgCount, 0, s.Delivered, s.Failed, s.Retried, s.Dropped}
	}
	for _, tc := range []struct {
		name   string
		status func(n int) int // the HTTP receiver's answer to attempt n
		do     func(t *testing.T, b *cmq.Broker, tp *cmq.Topic)
		want   counts // the topic's
		http   counts // the HTTP subscription's
	}{
		{"nothing", func(int) int { return 200 }, func(t *testing.T, b *cmq.Broker, tp *cmq.Topic) {},
			counts{}, counts{}},
		{"delivered to the queue and pushed", func(int) int { return 200 },
			func(t *testing.T, b *cmq.Broker, tp *cmq.Topic) {
				_, err := tp.BatchPublish(t.Context(), []string{"a", "b"}, nil, "")
				require.NoError(t, err)
				synctest.Wait()
			}, counts{Published: 2, Delivered: 4}, counts{Delivered: 2}},
		{"push fails twice, then succeeds", func(n int) int { return map[bool]int{true: 500, false: 200}[n <= 2] },
			func(t *testing.T, b *cmq.Broker, tp *cmq.Topic) {
				_, err := tp.Publish(t.Context(), "a", nil, "")
				require.NoError(t, err)
				time.Sleep(time.Minute)
				synctest.Wait()
			}, counts{Published: 1, Delivered: 2, Failed: 2, Retried: 2}, counts{Delivered: 1, Failed: 2, Retried: 2}},
		{"push pending a retry", func(int) int { return 500 },
			func(t *testing.T, b *cmq.Broker, tp *cmq.Topic) {
				_, err := tp.Publish(t.Context(), "a", nil, "")
				require.NoError(t, err)
				synctest.Wait()
			}, counts{MsgCount: 1, Published: 1, Delivered: 1, Failed: 1, Retried: 1},
			counts{MsgCount: 1, Failed: 1, Retried: 1}},
		{"push dropped after its retries", func(int) int { return 500 },
			func(t *testing.T, b *cmq.Broker, tp *cmq.Topic) {
				_, err := tp.Publish(t.Context(), "a", nil, "")
				require.NoError(t, err)
				time.Sleep(25 * time.Hour)
				synctest.Wait()
			}, // the first attempt, 10 retries 1 to 512 s apart (1023 s), then
			// 166 every 512 s within the day: 177 attempts, 176 retried.
			counts{Published: 1, Delivered: 1, Failed: 177, Retried: 176, Drop: 1},
			counts{Failed: 177, Retried: 176, Drop: 1}},
		{"queue gone: failed, retried, then delivered", func(int) int { return 200 },
			func(t *testing.T, b *cmq.Broker, tp *cmq.Topic) {
				require.NoError(t, b.DeleteQueue(t.Context(), "inbox"))
				_, err := tp.Publish(t.Context(), "a", nil, "")
				require.NoError(t, err)
				synctest.Wait()
				st, err := tp.Stats()
				require.NoError(t, err)
				assert.Equal(t, 1, st.Subscriptions[1].MsgCount, "the queue delivery waits")
				newQueue(t, b, "inbox", cmq.QueueAttributes{})
				time.Sleep(time.Second)
				synctest.Wait()
			}, counts{Published: 1, Delivered: 2, Failed: 1, Retried: 1}, counts{Delivered: 1}},
		{"body too large for the queue: dropped at once", func(int) int { return 200 },
			func(t *testing.T, b *cmq.Broker, tp *cmq.Topic) {
				q, err := b.Queue("inbox")
				require.NoError(t, err)
				require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(1024)}))
				_, err = tp.Publish(t.Context(), string(make([]byte, 2000)), nil, "")
				require.NoError(t, err)
				synctest.Wait()
			}, counts{Published: 1, Delivered: 1, Failed: 1, Drop: 1}, counts{Delivered: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBroker(t, cmq.WithPushTransport(&fakeTransport{status: tc.status}))
				defer b.Close()
				newQueue(t, b, "inbox", cmq.QueueAttributes{})
				tp, err := b.CreateTopic(t.Context(), "t", cmq.TopicAttributes{})
				require.NoError(t, err)
				_, err = tp.Subscribe(t.Context(), "to-queue", cmq.SubscriptionAttributes{
					Protocol: cmq.ProtocolQueue, Endpoint: "inbox", FilterTags: []string{"x"}})
				require.NoError(t, err)
				_, err = tp.Subscribe(t.Context(), "Hook", cmq.SubscriptionAttributes{
					Protocol: cmq.ProtocolHTTP, Endpoint: "http://receiver.test/push"})
				require.NoError(t, err)
				// Tagged publishes go to both; to-queue's filter wants "x".
				require.NoError(t, tp.SetAttributes(t.Context(), cmq.TopicAttributes{}))
				s, err := tp.Subscription("to-queue")
				require.NoError(t, err)
				require.NoError(t, s.ClearFilterTags(t.Context()))

				tc.do(t, b, tp)
				got, err := tp.Stats()
				require.NoError(t, err)
				assert.Equal(t, "t", got.Name)
				assert.Equal(t, cmq.FilterTags, got.FilterType)
				assert.Equal(t, tc.want, of(got))
				require.Len(t, got.Subscriptions, 2)
				hook, queue := got.Subscriptions[0], got.Subscriptions[1]
				assert.Equal(t, "Hook", hook.Name, "sorted ignoring case")
				assert.Equal(t, cmq.ProtocolHTTP, hook.Protocol)
				assert.Equal(t, "http://receiver.test/push", hook.Endpoint)
				assert.Equal(t, tc.http, ofSub(hook))
				assert.Equal(t, "inbox", queue.Endpoint)
				assert.Equal(t, tc.want.Delivered-tc.http.Delivered, queue.Delivered)

				all := b.Stats()
				require.Len(t, all.Topics, 1)
				assert.Equal(t, got, all.Topics[0])
			})
		})
	}
}

func TestTopicStatsSubscriptionFiltersAndErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		tp := topicWith(t, b, "route", cmq.FilterRoutingKey, map[string][]string{"q": {"a.*", "#.b"}})
		got, err := tp.Stats()
		require.NoError(t, err)
		require.Len(t, got.Subscriptions, 1)
		assert.Equal(t, cmq.FilterRoutingKey, got.FilterType)
		assert.Equal(t, []string{"a.*", "#.b"}, got.Subscriptions[0].BindingKeys)
		got.Subscriptions[0].BindingKeys[0] = "changed" // a copy
		again, err := tp.Stats()
		require.NoError(t, err)
		assert.Equal(t, "a.*", again.Subscriptions[0].BindingKeys[0])

		require.NoError(t, tp.Unsubscribe(t.Context(), "q"))
		require.NoError(t, b.DeleteTopic(t.Context(), "route"))
		_, err = tp.Stats()
		assert.ErrorIs(t, err, cmq.ErrTopicNotExist)
		assert.Empty(t, b.Stats().Topics)
		require.NoError(t, b.Close())
		_, err = tp.Stats()
		assert.ErrorIs(t, err, cmq.ErrClosed)
	})
}
