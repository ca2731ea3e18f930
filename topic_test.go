package cmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// --- Topics: filters, limits, fan-out, pushes and their schedule. ---

func TestRoutingKeyMatch(t *testing.T) {
	for _, c := range []struct {
		binding, key string
		want         bool
	}{
		// RabbitMQ's tutorial 5 (topic exchange): bindings *.orange.*,
		// *.*.rabbit and lazy.#.
		{"*.orange.*", "quick.orange.rabbit", true},
		{"*.*.rabbit", "quick.orange.rabbit", true},
		{"*.orange.*", "lazy.orange.elephant", true},
		{"lazy.#", "lazy.orange.elephant", true},
		{"*.orange.*", "quick.orange.fox", true},
		{"*.*.rabbit", "quick.orange.fox", false},
		{"lazy.#", "lazy.brown.fox", true},
		{"*.*.rabbit", "lazy.pink.rabbit", true},
		{"lazy.#", "lazy.pink.rabbit", true},
		{"*.orange.*", "quick.brown.fox", false},
		{"*.*.rabbit", "quick.brown.fox", false},
		{"lazy.#", "quick.brown.fox", false},
		{"*.orange.*", "orange", false},
		{"*.orange.*", "quick.orange.new.rabbit", false},
		{"lazy.#", "lazy.orange.new.rabbit", true},
		{"*.*.rabbit", "lazy.orange.new.rabbit", false},
		{"lazy.#", "lazy", true}, // # is zero or more words
		// CMQ's own examples.
		{"1.#.0", "1.2.3.4.4.2.2.0", true},
		{"1.#.0", "1.0", true},
		{"1.#.0", "1.2.3", false},
		{"#", "anything.at.all", true},
		{"#", "", true},
		{"*", "one", true},
		{"*", "one.two", false},
		{"*", "", false},
		{"a.b", "a.b", true},
		{"a.b", "a.B", false},
		{"#.#", "a", true},
		{"a.#.#.b", "a.b", true},
		{"#.b.#", "a.c", false},
	} {
		assert.Equal(t, c.want, cmq.RoutingKeyMatch(c.binding, c.key), "%q ~ %q", c.binding, c.key)
	}
}

// topicWith returns a topic of b with queue subscriptions: name → filter.
func topicWith(t *testing.T, b *cmq.Broker, name string, filter cmq.FilterType, subs map[string][]string) *cmq.Topic {
	t.Helper()
	tp, err := b.CreateTopic(t.Context(), name, cmq.TopicAttributes{FilterType: filter})
	require.NoError(t, err)
	for sub, f := range subs {
		if _, err := b.Queue(sub); err != nil {
			newQueue(t, b, sub, cmq.QueueAttributes{})
		}
		a := cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: sub}
		if filter == cmq.FilterRoutingKey {
			a.BindingKeys = f
		} else {
			a.FilterTags = f
		}
		_, err := tp.Subscribe(t.Context(), sub, a)
		require.NoError(t, err)
	}
	return tp
}

// drain returns the bodies waiting in queue name.
func drain(t *testing.T, b *cmq.Broker, name string) []string {
	t.Helper()
	q, err := b.Queue(name)
	require.NoError(t, err)
	var out []string
	for {
		ms, err := q.BatchReceive(t.Context(), 16, 0)
		if errors.Is(err, cmq.ErrNoMessage) {
			return out
		}
		require.NoError(t, err)
		for _, m := range ms {
			out = append(out, m.Body)
			require.NoError(t, q.Delete(t.Context(), m.ReceiptHandle))
		}
	}
}

func TestTagFilters(t *testing.T) {
	b := newBroker(t)
	tp := topicWith(t, b, "t", cmq.FilterTags, map[string][]string{
		"all": nil, "ab": {"a", "b"}, "c": {"c"},
	})
	for _, c := range []struct {
		tags []string
		want []string // subscriptions that get it
	}{
		{nil, []string{"all"}}, // untagged: only subscriptions without filter tags
		{[]string{"a"}, []string{"ab", "all"}},
		{[]string{"b", "c"}, []string{"ab", "all", "c"}},
		{[]string{"x"}, []string{"all"}},
	} {
		_, err := tp.Publish(t.Context(), "m", c.tags, "")
		require.NoError(t, err)
		var got []string
		for _, s := range []string{"all", "ab", "c"} {
			if n := len(drain(t, b, s)); n > 0 {
				assert.Equal(t, 1, n)
				got = append(got, s)
			}
		}
		slices.Sort(got)
		assert.Equal(t, c.want, got, "tags %v", c.tags)
	}

	// Nothing matches: 6030/10730, nothing sent.
	only := topicWith(t, b, "only", cmq.FilterTags, map[string][]string{"c": {"c"}})
	_, err := only.Publish(t.Context(), "m", []string{"a"}, "")
	assertCode(t, err, 6030, 10730)
	_, err = only.Publish(t.Context(), "m", nil, "")
	assertCode(t, err, 6030, 10730)
	assert.Empty(t, drain(t, b, "c"))
}

func TestRoutingKeyFilters(t *testing.T) {
	b := newBroker(t)
	tp := topicWith(t, b, "t", cmq.FilterRoutingKey, map[string][]string{
		"q1": {"*.orange.*"}, "q2": {"*.*.rabbit", "lazy.#"},
	})
	for key, want := range map[string][]int{
		"quick.orange.rabbit":  {1, 1},
		"lazy.orange.elephant": {1, 1},
		"quick.orange.fox":     {1, 0},
		"lazy.brown.fox":       {0, 1},
	} {
		_, err := tp.Publish(t.Context(), key, nil, key)
		require.NoError(t, err)
		assert.Equal(t, want, []int{len(drain(t, b, "q1")), len(drain(t, b, "q2"))}, key)
	}
	_, err := tp.Publish(t.Context(), "m", nil, "quick.brown.fox")
	assertCode(t, err, 6030, 10730)
	// A routing-key topic needs binding keys.
	_, err = tp.Subscribe(t.Context(), "none", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q1"})
	assertCode(t, err, 4000, 10710)
}

// Every bad input gets its documented code and changes nothing.
func TestTopicBadInput(t *testing.T) {
	b := newBroker(t)
	newQueue(t, b, "q", cmq.QueueAttributes{})
	tp, err := b.CreateTopic(t.Context(), "t", cmq.TopicAttributes{MaxMsgSize: cmq.Ptr(1024)})
	require.NoError(t, err)
	_, err = tp.Publish(t.Context(), "m", nil, "")
	assertCode(t, err, 6030, 10650) // no subscription
	_, err = tp.Subscribe(t.Context(), "s", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q"})
	require.NoError(t, err)

	long := strings.Repeat("x", 17)
	q := cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q"}
	h := cmq.SubscriptionAttributes{Protocol: cmq.ProtocolHTTP, Endpoint: "http://127.0.0.1:1/x"}
	with := func(a cmq.SubscriptionAttributes, f func(*cmq.SubscriptionAttributes)) cmq.SubscriptionAttributes {
		f(&a)
		return a
	}
	keys := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "k" + strconv.Itoa(i)
		}
		return out
	}
	for _, c := range []struct {
		name         string
		call         func() error
		code, module int
	}{
		{"create: name", func() error { _, err := b.CreateTopic(t.Context(), "1t", cmq.TopicAttributes{}); return err }, 4000, 10590},
		{"create: exists", func() error { _, err := b.CreateTopic(t.Context(), "T", cmq.TopicAttributes{}); return err }, 4460, 10601},
		{"create: size low", func() error {
			_, err := b.CreateTopic(t.Context(), "u", cmq.TopicAttributes{MaxMsgSize: cmq.Ptr(1023)})
			return err
		}, 4000, 10350},
		{"create: size high", func() error {
			_, err := b.CreateTopic(t.Context(), "u", cmq.TopicAttributes{MaxMsgSize: cmq.Ptr(65537)})
			return err
		}, 4000, 10350},
		{"create: filter", func() error {
			_, err := b.CreateTopic(t.Context(), "u", cmq.TopicAttributes{FilterType: 3})
			return err
		}, 4000, 10110},
		{"delete: subscriptions", func() error { return b.DeleteTopic(t.Context(), "t") }, 4000, 10540},
		{"delete: missing", func() error { return b.DeleteTopic(t.Context(), "nope") }, 4440, 10600},
		{"set: size", func() error { return tp.SetAttributes(t.Context(), cmq.TopicAttributes{MaxMsgSize: cmq.Ptr(1)}) }, 4000, 10350},
		{"set: filter", func() error { return tp.SetAttributes(t.Context(), cmq.TopicAttributes{FilterType: 2}) }, 4000, 10110},
		{"publish: empty", func() error { _, err := tp.Publish(t.Context(), "", nil, ""); return err }, 4000, 10120},
		{"publish: too large", func() error { _, err := tp.Publish(t.Context(), strings.Repeat("x", 1025), nil, ""); return err }, 4400, 10230},
		{"publish: 6 tags", func() error { _, err := tp.Publish(t.Context(), "m", keys(6), ""); return err }, 4000, 10720},
		{"publish: long tag", func() error { _, err := tp.Publish(t.Context(), "m", []string{long}, ""); return err }, 4000, 10350},
		{"publish: long key", func() error { _, err := tp.Publish(t.Context(), "m", nil, strings.Repeat("k", 65)); return err }, 4000, 10350},
		{"publish: 16 dots", func() error { _, err := tp.Publish(t.Context(), "m", nil, strings.Repeat("a.", 16)+"a"); return err }, 4000, 10691},
		{"batch: 17", func() error { _, err := tp.BatchPublish(t.Context(), keys(17), nil, ""); return err }, 4000, 10370},
		{"batch: 0", func() error { _, err := tp.BatchPublish(t.Context(), nil, nil, ""); return err }, 4000, 10370},
		{"batch: 64 KiB", func() error {
			_, err := tp.BatchPublish(t.Context(), slices.Repeat([]string{strings.Repeat("x", 1024)}, 16), nil, "")
			require.NoError(t, err)
			big, _ := b.CreateTopic(t.Context(), "big", cmq.TopicAttributes{})
			_, err = big.Subscribe(t.Context(), "s", q)
			require.NoError(t, err)
			_, err = big.BatchPublish(t.Context(), slices.Repeat([]string{strings.Repeat("x", 4097)}, 16), nil, "")
			return err
		}, 4470, 10300},
		{"subscribe: name", func() error { _, err := tp.Subscribe(t.Context(), "-s", q); return err }, 4000, 10620},
		{"subscribe: exists", func() error { _, err := tp.Subscribe(t.Context(), "S", q); return err }, 4490, 10470},
		{"subscribe: protocol", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(q, func(a *cmq.SubscriptionAttributes) { a.Protocol = "smtp" }))
			return err
		}, 4000, 10510},
		{"subscribe: queue JSON", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(q, func(a *cmq.SubscriptionAttributes) { a.NotifyContentFormat = cmq.FormatJSON }))
			return err
		}, 4000, 10640},
		{"subscribe: format", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(h, func(a *cmq.SubscriptionAttributes) { a.NotifyContentFormat = "XML" }))
			return err
		}, 4000, 10530},
		{"subscribe: strategy", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(h, func(a *cmq.SubscriptionAttributes) { a.NotifyStrategy = "NEVER" }))
			return err
		}, 4000, 10520},
		{"subscribe: endpoint scheme", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(h, func(a *cmq.SubscriptionAttributes) { a.Endpoint = "ftp://h/x" }))
			return err
		}, 4000, 10500},
		{"subscribe: endpoint blank", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(h, func(a *cmq.SubscriptionAttributes) { a.Endpoint = "http://h/a b" }))
			return err
		}, 4510, 10570},
		{"subscribe: endpoint long", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(h, func(a *cmq.SubscriptionAttributes) { a.Endpoint = "http://h/" + strings.Repeat("x", 492) }))
			return err
		}, 4000, 10350},
		{"subscribe: queue name", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(q, func(a *cmq.SubscriptionAttributes) { a.Endpoint = "http://h" }))
			return err
		}, 4000, 10500},
		{"subscribe: queue missing", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(q, func(a *cmq.SubscriptionAttributes) { a.Endpoint = "nope" }))
			return err
		}, 4440, 10100},
		{"subscribe: 6 filter tags", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(q, func(a *cmq.SubscriptionAttributes) { a.FilterTags = keys(6) }))
			return err
		}, 4000, 10490},
		{"subscribe: long filter tag", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(q, func(a *cmq.SubscriptionAttributes) { a.FilterTags = []string{long} }))
			return err
		}, 4000, 10350},
		{"subscribe: 6 binding keys", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(q, func(a *cmq.SubscriptionAttributes) { a.BindingKeys = keys(6) }))
			return err
		}, 4000, 10680},
		{"subscribe: binding dots", func() error {
			_, err := tp.Subscribe(t.Context(), "x", with(q, func(a *cmq.SubscriptionAttributes) { a.BindingKeys = []string{strings.Repeat("*.", 16) + "#"} }))
			return err
		}, 4000, 10691},
		{"unsubscribe: missing", func() error { return tp.Unsubscribe(t.Context(), "nope") }, 4000, 10560},
		{"list: limit", func() error { _, _, err := tp.ListSubscriptions(t.Context(), cmq.ListOptions{Limit: 101}); return err }, 4000, 10350},
		{"list: offset", func() error {
			_, _, err := tp.ListSubscriptions(t.Context(), cmq.ListOptions{Offset: 1001})
			return err
		}, 4000, 10350},
		{"topics: limit", func() error { _, _, err := b.ListTopics(t.Context(), cmq.ListOptions{Limit: 51}); return err }, 4000, 10350},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, err := tp.Attributes(t.Context())
			require.NoError(t, err)
			subs, _, err := tp.ListSubscriptions(t.Context(), cmq.ListOptions{})
			require.NoError(t, err)
			assertCode(t, c.call(), c.code, c.module)
			after, err := tp.Attributes(t.Context())
			require.NoError(t, err)
			subs2, _, err := tp.ListSubscriptions(t.Context(), cmq.ListOptions{})
			require.NoError(t, err)
			assert.Equal(t, before, after)
			assert.Equal(t, subs, subs2)
		})
	}
}

func TestTopicAndSubscriptionCountLimits(t *testing.T) {
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.Topics, l.Subscriptions = 2, 2 })))
	newQueue(t, b, "q", cmq.QueueAttributes{})
	tp, err := b.CreateTopic(t.Context(), "a", cmq.TopicAttributes{})
	require.NoError(t, err)
	_, err = b.CreateTopic(t.Context(), "b", cmq.TopicAttributes{})
	require.NoError(t, err)
	_, err = b.CreateTopic(t.Context(), "c", cmq.TopicAttributes{})
	assertCode(t, err, 4450, 10610)
	a := cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q"}
	for _, n := range []string{"s1", "s2"} {
		_, err = tp.Subscribe(t.Context(), n, a)
		require.NoError(t, err)
	}
	_, err = tp.Subscribe(t.Context(), "s3", a)
	assertCode(t, err, 4500, 10480)
	// Delete: refused with subscriptions, then allowed.
	assertCode(t, b.DeleteTopic(t.Context(), "a"), 4000, 10540)
	require.NoError(t, tp.Unsubscribe(t.Context(), "s1"))
	require.NoError(t, tp.Unsubscribe(t.Context(), "S2"))
	require.NoError(t, b.DeleteTopic(t.Context(), "A"))
	_, err = tp.Attributes(t.Context())
	assertCode(t, err, 4440, 10600)
	_, err = b.CreateTopic(t.Context(), "c", cmq.TopicAttributes{})
	require.NoError(t, err)
}

func TestTopicAttributesAndLists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		newQueue(t, b, "q", cmq.QueueAttributes{})
		tp, err := b.CreateTopic(t.Context(), "news", cmq.TopicAttributes{FilterType: cmq.FilterRoutingKey})
		require.NoError(t, err)
		info, err := tp.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 65536, info.MaxMsgSize)
		assert.Equal(t, 24*time.Hour, info.MsgRetention)
		assert.Equal(t, cmq.FilterRoutingKey, info.FilterType)
		assert.Equal(t, 5000, info.QPS)
		assert.True(t, strings.HasPrefix(info.ID, "topic-"))
		time.Sleep(time.Minute)
		require.NoError(t, tp.SetAttributes(t.Context(), cmq.TopicAttributes{MaxMsgSize: cmq.Ptr(2048)}))
		info2, err := tp.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 2048, info2.MaxMsgSize)
		assert.Equal(t, info.CreateTime, info2.CreateTime)
		assert.Equal(t, time.Minute, info2.LastModifyTime.Sub(info.LastModifyTime))

		for _, n := range []string{"sports", "news2", "weather"} {
			_, err := b.CreateTopic(t.Context(), n, cmq.TopicAttributes{})
			require.NoError(t, err)
		}
		list, total, err := b.ListTopics(t.Context(), cmq.ListOptions{Search: "NEWS", Limit: 1, Offset: 1})
		require.NoError(t, err)
		assert.Equal(t, 2, total)
		require.Len(t, list, 1)
		assert.Equal(t, "news2", list[0].Name)

		for _, n := range []string{"b", "a", "c"} {
			_, err := tp.Subscribe(t.Context(), n, cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q", BindingKeys: []string{"#"}})
			require.NoError(t, err)
		}
		subs, total, err := tp.ListSubscriptions(t.Context(), cmq.ListOptions{Offset: 1})
		require.NoError(t, err)
		assert.Equal(t, 3, total)
		assert.Equal(t, []string{"b", "c"}, []string{subs[0].Name, subs[1].Name})
		assert.Equal(t, cmq.ProtocolQueue, subs[0].Protocol)

		s, err := tp.Subscription("A")
		require.NoError(t, err)
		si, err := s.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, cmq.ExponentialDecayRetry, si.NotifyStrategy)
		assert.Equal(t, cmq.FormatSimplified, si.NotifyContentFormat)
		require.NoError(t, s.SetAttributes(t.Context(), cmq.SubscriptionUpdate{
			NotifyStrategy: cmq.BackoffRetry, FilterTags: []string{"x"}, BindingKeys: []string{"a.*"},
		}))
		si, err = s.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, cmq.BackoffRetry, si.NotifyStrategy)
		assert.Equal(t, []string{"a.*"}, si.BindingKeys)
		assert.Equal(t, []string{"x"}, si.FilterTags)
		require.NoError(t, s.ClearFilterTags(t.Context()))
		si, err = s.Attributes(t.Context())
		require.NoError(t, err)
		assert.Empty(t, si.FilterTags)
		// A bad update changes nothing.
		assertCode(t, s.SetAttributes(t.Context(), cmq.SubscriptionUpdate{NotifyContentFormat: cmq.FormatJSON}), 4000, 10640)
		si2, err := s.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, si, si2)
	})
}

// Property: every published message lands exactly once in each matching
// queue subscription and in no other, whatever the filters.
func TestFanOutExactlyOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tags := []string{"a", "b", "c", "d"}
	pick := func() []string {
		var out []string
		for _, x := range tags {
			if r.IntN(3) == 0 {
				out = append(out, x)
			}
		}
		return out
	}
	for round := range 20 {
		b := newBroker(t)
		subs := map[string][]string{}
		for i := range 1 + r.IntN(8) {
			subs["q"+strconv.Itoa(i)] = pick()
		}
		tp := topicWith(t, b, "t", cmq.FilterTags, subs)
		want := map[string][]string{}
		for i := range 50 {
			body := strconv.Itoa(i)
			mt := pick()
			var err error
			if r.IntN(2) == 0 {
				_, err = tp.Publish(t.Context(), body, mt, "")
			} else {
				_, err = tp.BatchPublish(t.Context(), []string{body}, mt, "")
			}
			matched := false
			for s, f := range subs {
				if len(f) == 0 || slices.ContainsFunc(f, func(x string) bool { return slices.Contains(mt, x) }) {
					want[s] = append(want[s], body)
					matched = true
				}
			}
			if matched {
				require.NoError(t, err)
			} else {
				assertCode(t, err, 6030, 10730)
			}
		}
		for s := range subs {
			got := drain(t, b, s)
			assert.Equal(t, want[s], got, "round %d, %s", round, s)
		}
		require.NoError(t, b.Close())
	}
}

// A full, throttled or deleted subscriber queue does not fail the publish
// nor affect the others; its delivery is pending, retried by the
// strategy, and made once the queue takes it.
func TestQueueSubscriberFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := limitsWith(func(l *cmq.Limits) { l.MsgHeapNum.Min = 1 })
		b := newBroker(t, cmq.WithLimits(l))
		newQueue(t, b, "ok", cmq.QueueAttributes{})
		full := newQueue(t, b, "full", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(1)})
		newQueue(t, b, "gone", cmq.QueueAttributes{})
		tp := topicWith(t, b, "t", cmq.FilterTags, map[string][]string{"ok": nil, "full": nil, "gone": nil})
		_, err := full.Send(t.Context(), "filler", 0)
		require.NoError(t, err)
		require.NoError(t, b.DeleteQueue(t.Context(), "gone"))

		id, err := tp.Publish(t.Context(), "hello", nil, "")
		require.NoError(t, err)
		assert.NotEmpty(t, id)
		assert.Equal(t, []string{"hello"}, drain(t, b, "ok"))
		info, err := tp.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 2, info.MsgCount, "full and gone pending")

		// The queue is emptied and the other re-created: the retries (1 s,
		// then 2 s by exponential decay) deliver.
		assert.Equal(t, []string{"filler"}, drain(t, b, "full"))
		newQueue(t, b, "gone", cmq.QueueAttributes{})
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"hello"}, drain(t, b, "full"))
		assert.Equal(t, []string{"hello"}, drain(t, b, "gone"))
		info, err = tp.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 0, info.MsgCount)
		require.NoError(t, b.Close())
	})
}

// fakeTransport answers pushes inside a synctest bubble: status by
// attempt, and records when each came.
type fakeTransport struct {
	mu     sync.Mutex
	status func(n int) int // n counts from 1; 0: hang until cancelled
	at     []time.Time
	reqs   []*http.Request
	bodies []string
}

func (f *fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.at = append(f.at, time.Now())
	f.reqs = append(f.reqs, r)
	f.bodies = append(f.bodies, string(body))
	code := f.status(len(f.at))
	f.mu.Unlock()
	if code == 0 {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return &http.Response{StatusCode: code, Status: strconv.Itoa(code), Body: http.NoBody, Header: http.Header{}}, nil
}

func (f *fakeTransport) gaps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(f.at); i++ {
		out = append(out, f.at[i].Sub(f.at[i-1]))
	}
	return out
}

func httpTopic(t *testing.T, b *cmq.Broker, strategy cmq.NotifyStrategy) (*cmq.Topic, *cmq.Subscription) {
	tp, err := b.CreateTopic(t.Context(), "t", cmq.TopicAttributes{})
	require.NoError(t, err)
	s, err := tp.Subscribe(t.Context(), "s", cmq.SubscriptionAttributes{
		Protocol: cmq.ProtocolHTTP, Endpoint: "http://receiver.test/push", NotifyStrategy: strategy,
	})
	require.NoError(t, err)
	return tp, s
}

func pending(t *testing.T, s *cmq.Subscription) int {
	info, err := s.Attributes(t.Context())
	require.NoError(t, err)
	return info.MsgCount
}

func TestPushScheduleBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTransport{status: func(int) int { return 500 }}
		b := newBroker(t, cmq.WithPushTransport(f))
		tp, s := httpTopic(t, b, cmq.BackoffRetry)
		_, err := tp.Publish(t.Context(), "m", nil, "")
		require.NoError(t, err)
		assert.Equal(t, 1, pending(t, s))
		time.Sleep(time.Hour)
		synctest.Wait()
		gaps := f.gaps()
		require.Len(t, gaps, 3, "the first attempt and 3 retries")
		for _, g := range gaps {
			assert.True(t, g >= 10*time.Second && g <= 20*time.Second, "%v", g)
		}
		assert.Equal(t, 0, pending(t, s), "dropped after the last retry")
		require.NoError(t, b.Close())
	})
}

func TestPushScheduleExponential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTransport{status: func(int) int { return 503 }}
		b := newBroker(t, cmq.WithPushTransport(f))
		tp, s := httpTopic(t, b, "")
		_, err := tp.Publish(t.Context(), "m", nil, "")
		require.NoError(t, err)
		time.Sleep(25 * time.Hour)
		synctest.Wait()
		gaps := f.gaps()
		want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512}
		for i, w := range want {
			assert.Equal(t, w*time.Second, gaps[i], "retry %d", i+1)
		}
		var total time.Duration
		for _, g := range gaps {
			total += g
		}
		assert.LessOrEqual(t, total, 24*time.Hour)
		assert.Greater(t, total, 24*time.Hour-512*time.Second)
		assert.Equal(t, 0, pending(t, s))
		require.NoError(t, b.Close())
	})
}

// A receiver that hangs fails after 15 s; one that recovers gets the
// message on the next retry, and msgCount falls to 0.
func TestPushHangThenRecover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTransport{status: func(n int) int {
			if n == 1 {
				return 0
			}
			return 204
		}}
		b := newBroker(t, cmq.WithPushTransport(f))
		tp, s := httpTopic(t, b, "")
		_, err := tp.Publish(t.Context(), "m", nil, "")
		require.NoError(t, err)
		time.Sleep(14 * time.Second)
		synctest.Wait()
		assert.Equal(t, 1, pending(t, s))
		time.Sleep(2*time.Second + time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 0, pending(t, s))
		assert.Equal(t, []time.Duration{16 * time.Second}, f.gaps(), "15 s timeout, then 1 s")
		require.NoError(t, b.Close())
	})
}

// Close cancels a push in flight and leaves nothing running; the bubble
// ends only if no goroutine is left.
func TestPushCloseStopsPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTransport{status: func(int) int { return 0 }}
		b := newBroker(t, cmq.WithPushTransport(f))
		tp, _ := httpTopic(t, b, "")
		for range 40 {
			_, err := tp.Publish(t.Context(), "m", nil, "")
			require.NoError(t, err)
		}
		synctest.Wait()
		f.mu.Lock()
		assert.Equal(t, 16, len(f.at), "PushWorkers bound the pool")
		f.mu.Unlock()
		require.NoError(t, b.Close())
		require.NoError(t, b.Close())
	})
}

// Pushes go out over real sockets in CMQ's format.
func TestPushWireFormat(t *testing.T) {
	type got struct {
		h    http.Header
		body string
	}
	ch := make(chan got, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		assert.Equal(t, http.MethodPost, r.Method)
		ch <- got{r.Header.Clone(), string(body)}
	}))
	defer srv.Close()
	b := newBroker(t)
	tp, err := b.CreateTopic(t.Context(), "t", cmq.TopicAttributes{})
	require.NoError(t, err)
	_, err = tp.Subscribe(t.Context(), "json", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolHTTP, Endpoint: srv.URL + "/j"})
	require.NoError(t, err)
	_, err = tp.Subscribe(t.Context(), "raw", cmq.SubscriptionAttributes{
		Protocol: cmq.ProtocolHTTP, Endpoint: srv.URL + "/r", NotifyContentFormat: cmq.FormatSimplified,
	})
	require.NoError(t, err)
	before := time.Now().Unix()
	id, err := tp.Publish(t.Context(), `hello "world"`, []string{"a", "b"}, "")
	require.NoError(t, err)
	var raw, js got
	for range 2 {
		select {
		case g := <-ch:
			if strings.HasPrefix(g.body, "{") {
				js = g
			} else {
				raw = g
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no push")
		}
	}
	assert.Equal(t, `hello "world"`, raw.body)
	for _, g := range []got{raw, js} {
		assert.Equal(t, cmq.PushUserAgent, g.h.Get("User-Agent"))
		assert.Equal(t, "text/plain", g.h.Get("Content-Type"))
		assert.Equal(t, id, g.h.Get("x-cmq-message-id"))
		assert.Equal(t, "a,b", g.h.Get("x-cmq-message-tag"))
		assert.Len(t, g.h.Get("x-cmq-request-id"), 32)
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(js.body), &m))
	assert.Equal(t, "t", m["topicName"])
	assert.Equal(t, "json", m["subscriptionName"])
	assert.Equal(t, id, m["msgId"])
	assert.Equal(t, `hello "world"`, m["msgBody"])
	assert.Contains(t, m, "TopicOwner")
	assert.GreaterOrEqual(t, m["publishTime"].(float64), float64(before))
	require.NoError(t, b.Close())
}

// Real receivers: one answers 500 then recovers; a slow one answers within
// the timeout. msgCount shows what is pending, then 0.
func TestPushRealReceiverRecovers(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(500)
			return
		}
		time.Sleep(50 * time.Millisecond) // slow, within the timeout
		w.WriteHeader(201)
		close(done)
	}))
	defer srv.Close()
	b := newBroker(t)
	tp, err := b.CreateTopic(t.Context(), "t", cmq.TopicAttributes{})
	require.NoError(t, err)
	s, err := tp.Subscribe(t.Context(), "s", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolHTTP, Endpoint: srv.URL})
	require.NoError(t, err)
	_, err = tp.Publish(t.Context(), "m", nil, "")
	require.NoError(t, err)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no retry")
	}
	require.Eventually(t, func() bool { return pending(t, s) == 0 }, 5*time.Second, time.Millisecond)
	require.NoError(t, b.Close())
}

// An idle topic, with subscriptions and nothing pending, runs nothing;
// neither does a closed broker that pushed.
func TestNoGoroutineForIdleTopic(t *testing.T) {
	base := runtime.NumGoroutine()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	b := newBroker(t)
	newQueue(t, b, "q", cmq.QueueAttributes{})
	tp, err := b.CreateTopic(t.Context(), "t", cmq.TopicAttributes{})
	require.NoError(t, err)
	_, err = tp.Subscribe(t.Context(), "q", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q"})
	require.NoError(t, err)
	s, err := tp.Subscribe(t.Context(), "h", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolHTTP, Endpoint: srv.URL})
	require.NoError(t, err)
	withServer := runtime.NumGoroutine()
	_, err = tp.Publish(t.Context(), "m", nil, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return pending(t, s) == 0 }, 5*time.Second, time.Millisecond)
	srv.CloseClientConnections()
	assert.True(t, goroutinesAtMost(withServer), "the pool and its connections end once nothing is pending")
	require.NoError(t, b.Close())
	srv.Close()
	assert.True(t, goroutinesAtMost(base), "nothing left after Close")
}

// goroutinesAtMost waits up to 5 s for at most n goroutines. It polls
// without a goroutine of its own (unlike assert.Eventually).
func goroutinesAtMost(n int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if runtime.NumGoroutine() <= n {
			return true
		}
	}
	return false
}

func TestTopicMethodsAfterCloseAndDoneContext(t *testing.T) {
	b := newBroker(t)
	newQueue(t, b, "q", cmq.QueueAttributes{})
	tp, err := b.CreateTopic(t.Context(), "t", cmq.TopicAttributes{})
	require.NoError(t, err)
	s, err := tp.Subscribe(t.Context(), "s", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q"})
	require.NoError(t, err)
	calls := func(ctx context.Context) methodCalls {
		return methodCalls{
			reflectType(tp): {
				"Publish":       func() error { _, err := tp.Publish(ctx, "m", nil, ""); return err },
				"BatchPublish":  func() error { _, err := tp.BatchPublish(ctx, []string{"m"}, nil, ""); return err },
				"Attributes":    func() error { _, err := tp.Attributes(ctx); return err },
				"SetAttributes": func() error { return tp.SetAttributes(ctx, cmq.TopicAttributes{MaxMsgSize: cmq.Ptr(2048)}) },
				"Subscribe": func() error {
					_, err := tp.Subscribe(ctx, "s2", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q"})
					return err
				},
				"Unsubscribe":       func() error { return tp.Unsubscribe(ctx, "s") },
				"ListSubscriptions": func() error { _, _, err := tp.ListSubscriptions(ctx, cmq.ListOptions{}); return err },
			},
			reflectType(s): {
				"Attributes":      func() error { _, err := s.Attributes(ctx); return err },
				"SetAttributes":   func() error { return s.SetAttributes(ctx, cmq.SubscriptionUpdate{NotifyStrategy: cmq.BackoffRetry}) },
				"ClearFilterTags": func() error { return s.ClearFilterTags(ctx) },
			},
		}
	}
	exempt := map[string]string{
		"*cmq.Topic.Name": "no error", "*cmq.Topic.ID": "no error", "*cmq.Topic.Subscription": "no context; looked up below",
		"*cmq.Topic.Stats":       "no context; checked below",
		"*cmq.Subscription.Name": "no error", "*cmq.Subscription.ID": "no error", "*cmq.Subscription.Topic": "no error",
	}
	for name, ctx := range doneContexts(t) {
		c := calls(ctx)
		requireComplete(t, c, exempt, tp, s)
		for typ, m := range c {
			for n, call := range m {
				assert.Equal(t, ctx.Err(), call(), "%s: %s.%s", name, typ, n)
			}
		}
	}
	si, err := s.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, cmq.ExponentialDecayRetry, si.NotifyStrategy, "nothing changed")
	require.NoError(t, b.Close())
	for typ, m := range calls(t.Context()) {
		for n, call := range m {
			assert.ErrorIs(t, call(), cmq.ErrClosed, "%s.%s", typ, n)
		}
	}
	_, err = tp.Subscription("s")
	assert.ErrorIs(t, err, cmq.ErrClosed)
	_, err = tp.Stats()
	assert.ErrorIs(t, err, cmq.ErrClosed)
}

func reflectType(v any) reflect.Type { return reflect.TypeOf(v) }

// Publish to N queue subscriptions beside a plain send: the cost per
// subscription is one queue send.
func BenchmarkPublishFanOut(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run("subs="+strconv.Itoa(n), func(b *testing.B) {
			br, err := cmq.NewBroker(cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.QPS = 0 })))
			require.NoError(b, err)
			defer br.Close()
			tp, err := br.CreateTopic(b.Context(), "t", cmq.TopicAttributes{})
			require.NoError(b, err)
			qs := make([]*cmq.Queue, n)
			for i := range n {
				name := "q" + strconv.Itoa(i)
				qs[i], err = br.CreateQueue(b.Context(), name, cmq.QueueAttributes{})
				require.NoError(b, err)
				_, err = tp.Subscribe(b.Context(), name, cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: name})
				require.NoError(b, err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := tp.Publish(b.Context(), "body", nil, ""); err != nil {
					b.Fatal(err)
				}
				if i++; i%1000 == 0 {
					for _, q := range qs {
						_ = q.Purge(b.Context())
					}
				}
			}
		})
	}
	b.Run("plain-send", func(b *testing.B) {
		br, err := cmq.NewBroker(cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.QPS = 0 })))
		require.NoError(b, err)
		defer br.Close()
		q, err := br.CreateQueue(b.Context(), "q", cmq.QueueAttributes{})
		require.NoError(b, err)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := q.Send(b.Context(), "body", 0); err != nil {
				b.Fatal(err)
			}
			if i++; i%1000 == 0 {
				_ = q.Purge(b.Context())
			}
		}
	})
}

// HTTP push throughput to a loopback receiver: b.N messages published,
// timed until the receiver has them all.
func BenchmarkPushLoopback(b *testing.B) {
	var got sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Done()
	}))
	defer srv.Close()
	br, err := cmq.NewBroker(cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.QPS = 0 })))
	require.NoError(b, err)
	defer br.Close()
	tp, err := br.CreateTopic(b.Context(), "t", cmq.TopicAttributes{})
	require.NoError(b, err)
	_, err = tp.Subscribe(b.Context(), "s", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolHTTP, Endpoint: srv.URL})
	require.NoError(b, err)
	b.ReportAllocs()
	n, start := 0, time.Now()
	for b.Loop() {
		got.Add(1)
		n++
		if _, err := tp.Publish(b.Context(), "body", nil, ""); err != nil {
			b.Fatal(err)
		}
	}
	got.Wait() // after the loop: b's own timer has stopped, so time it here
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "pushes/s")
}

// A publish serves its subscriptions in the order of their names, in lower
// case, whatever the order they were made in: of two subscriptions of a
// queue with room for one more message, the first by name gets it and the
// other's delivery waits (pending). Before, the order was a map's.
func TestPublishServesSubscriptionsInNameOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := cmq.DefaultLimits()
		l.MsgHeapNum.Min = 1
		b, err := cmq.NewBroker(cmq.WithLimits(l))
		require.NoError(t, err)
		defer b.Close()
		q, err := b.CreateQueue(ctx, "q", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(1)})
		require.NoError(t, err)
		tp, err := b.CreateTopic(ctx, "t", cmq.TopicAttributes{})
		require.NoError(t, err)
		var subs []*cmq.Subscription
		for _, name := range []string{"zeta", "Beta", "alpha", "Gamma"} {
			s, err := tp.Subscribe(ctx, name, cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q"})
			require.NoError(t, err)
			subs = append(subs, s)
		}
		_, err = tp.Publish(ctx, "m", nil, "")
		require.NoError(t, err)
		pending := map[string]int{}
		for _, s := range subs {
			a, err := s.Attributes(ctx)
			require.NoError(t, err)
			pending[s.Name()] = a.MsgCount
		}
		assert.Equal(t, map[string]int{"alpha": 0, "Beta": 1, "Gamma": 1, "zeta": 1}, pending)
		m, err := q.Receive(ctx, 0)
		require.NoError(t, err)
		assert.Equal(t, "m", m.Body)
	})
}
