package cmq_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// FuzzModelTopics runs the model of FuzzModel with one topic whose queue
// subscriptions send to the model's two queues. The first input byte
// chooses the topic's filter type (even: tags, odd: routing keys); then
// opcodes below opCount mean what they mean for FuzzModel and the ones
// above are topic operations: subscribe, unsubscribe, publish, batch
// publish and filter changes.
//
// The model decides which subscriptions a publish matches, what error the
// publish returns (6030/10650 without subscriptions, 6030/10730 when none
// matched, the argument checks before those), and appends each published
// body to the model queue of every matching subscription under that
// queue's rules, so the queue checks of FuzzModel then verify that every
// message landed exactly once in every matching queue subscription (by
// body, counts and receive order) and in no other queue. A body the queue
// can never take (too large) is dropped.
//
// A delivery that fails for a reason a retry can change (the queue was
// deleted or is full) becomes pending and is retried in the background
// on the fake clock, racing with the steps; the model checks the publish
// and the topic's and subscriptions' MsgCount at that step and ends the
// run there. Retries are tested in topic_test.go.
//
//	go test -run='^$' -fuzz=FuzzModelTopics -fuzztime=5m .
func FuzzModelTopics(f *testing.F) {
	for _, seed := range modelTopicSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			runModel(t, data, "", true)
		})
	})
}

// Topic opcodes, after the queue opcodes.
const (
	opSubscribe = opCount + iota
	opUnsubscribe
	opPublish
	opBatchPublish
	opSetFilter
	opTopicEnd
	topicOpCount = opTopicEnd - opCount
)

// Choices of the topic operations. Out-of-range values are included on
// purpose; modelTopicLimits allows 2 tags and 2 dots.
var (
	endpointChoices = []string{"q0", "q1", "Q1", "nope", "1x"}
	filterChoices   = [][]string{nil, {"a"}, {"b"}, {"a", "b"}, {"a", "b", "c"}, {""}, {strings.Repeat("x", 17)}}
	msgTagChoices   = [][]string{nil, {"a"}, {"b"}, {"c"}, {"a", "c"}, {"a", "b", "c"}, {strings.Repeat("x", 17)}}
	bindingChoices  = [][]string{{"#"}, {"a.*"}, {"a.#"}, {"*.b"}, {"a.b", "c"}, {"#.c"}, nil, {"a.b.c.d"}, {""}, {"a", "b", "c", "d", "e", "f"}}
	keyChoices      = []string{"", "a", "a.b", "b.b", "a.b.c", "c", "a.b.c.d", strings.Repeat("k", 65)}
)

// modelTopicLimits are modelLimits with small topic limits, so that every
// publish error is reachable with the model's short bodies.
func modelTopicLimits() cmq.Limits {
	l := modelLimits()
	l.TopicMsgSize = cmq.Range[int]{Min: 8, Max: 65536, Default: 10}
	l.PublishBatchBytes = 64
	l.Tags = 2
	l.RoutingKeyDots = 2
	return l
}

// modelSub is one subscription slot.
type modelSub struct {
	name     string
	s        *cmq.Subscription // nil until first subscribed; kept after Unsubscribe
	exists   bool
	endpoint string
	tags     []string
	keys     []string
	pending  int
}

// modelTopic is the topic and its three subscription slots.
type modelTopic struct {
	t       *cmq.Topic
	filter  cmq.FilterType
	subs    [3]*modelSub
	pending int
	stopped bool // a delivery is pending: the run ends
}

// newTopic creates the topic, its filter type chosen by the next byte.
func (m *model) newTopic(in *modelInput) {
	filter := cmq.FilterTags
	if in.byte()%2 == 1 {
		filter = cmq.FilterRoutingKey
	}
	tp, err := m.b.CreateTopic(context.Background(), "t0", cmq.TopicAttributes{FilterType: filter})
	require.NoError(m.t, err)
	m.topic = &modelTopic{t: tp, filter: filter}
	for i := range m.topic.subs {
		m.topic.subs[i] = &modelSub{name: "s" + string(rune('0'+i))}
	}
}

// filterErr is the error of a subscription's filters, checked in the
// implementation's order.
func (m *model) filterErr(tags, keys []string) error {
	l := m.limits
	if len(tags) > l.Tags {
		return cmq.ErrFilterTagLimit
	}
	for _, tag := range tags {
		if tag == "" || len(tag) > l.TagLength {
			return cmq.ErrOutOfRange
		}
	}
	if len(keys) > l.BindingKeys {
		return cmq.ErrBindingKeyLimit
	}
	for _, k := range keys {
		if err := m.keyErr(k, true); err != nil {
			return err
		}
	}
	if m.topic.filter == cmq.FilterRoutingKey && len(keys) == 0 {
		return cmq.ErrBindingKeyMissing
	}
	return nil
}

// keyErr is the error of a routing key, or a binding key (never empty).
func (m *model) keyErr(k string, binding bool) error {
	switch {
	case binding && k == "", len(k) > m.limits.RoutingKeyLength:
		return cmq.ErrOutOfRange
	case strings.Count(k, ".") > m.limits.RoutingKeyDots:
		return cmq.ErrDelimiters
	}
	return nil
}

// matches reports whether the model's subscription takes a message with
// tags and key: a filter-tag subscription without tags takes everything,
// one with tags what shares a tag; binding keys match like a RabbitMQ
// topic exchange, here by the model's own naive matcher.
func (m *model) matches(s *modelSub, tags []string, key string) bool {
	if m.topic.filter == cmq.FilterRoutingKey {
		for _, b := range s.keys {
			if modelKeyMatch(strings.Split(b, "."), modelWords(key)) {
				return true
			}
		}
		return false
	}
	if len(s.tags) == 0 {
		return true
	}
	for _, f := range s.tags {
		if slices.Contains(tags, f) {
			return true
		}
	}
	return false
}

func modelWords(k string) []string {
	if k == "" {
		return nil
	}
	return strings.Split(k, ".")
}

// modelKeyMatch matches binding words against key words by recursion:
// "#" takes zero or more words, "*" exactly one.
func modelKeyMatch(pat, w []string) bool {
	if len(pat) == 0 {
		return len(w) == 0
	}
	switch pat[0] {
	case "#":
		for i := 0; i <= len(w); i++ {
			if modelKeyMatch(pat[1:], w[i:]) {
				return true
			}
		}
		return false
	case "*":
		return len(w) > 0 && modelKeyMatch(pat[1:], w[1:])
	}
	return len(w) > 0 && w[0] == pat[0] && modelKeyMatch(pat[1:], w[1:])
}

// sub picks a subscription slot and the name to call it by (sometimes in
// upper case).
func (m *model) sub(in *modelInput) (*modelSub, string) {
	s := m.topic.subs[in.pick(len(m.topic.subs))]
	name := s.name
	if in.pick(4) == 3 {
		name = strings.ToUpper(name)
	}
	return s, name
}

func (m *model) doTopic(op int, in *modelInput) {
	t := m.t
	mt := m.topic
	ctx := context.Background()
	now := time.Now()
	for _, x := range m.qs {
		if x.exists {
			x.advance(now)
		}
	}
	switch op {
	case opSubscribe:
		s, name := m.sub(in)
		endpoint := modelChoose(in, endpointChoices)
		tags := modelChoose(in, filterChoices)
		keys := modelChoose(in, bindingChoices)
		var want error
		switch {
		case endpoint == "1x":
			want = cmq.ErrEndpointFormat
		default:
			want = m.filterErr(tags, keys)
		}
		if want == nil && m.byName(endpoint) == nil {
			want = cmq.ErrQueueNotExist
		}
		if want == nil && s.exists {
			want = cmq.ErrSubscriptionExists
		}
		got, err := mt.t.Subscribe(ctx, name, cmq.SubscriptionAttributes{
			Protocol: cmq.ProtocolQueue, Endpoint: endpoint, FilterTags: tags, BindingKeys: keys,
		})
		m.wantErr(want, err, "Subscribe")
		if want != nil {
			require.Nil(t, got)
			return
		}
		require.Equal(t, name, got.Name())
		*s = modelSub{name: s.name, s: got, exists: true, endpoint: endpoint, tags: tags, keys: keys}

	case opUnsubscribe:
		s, name := m.sub(in)
		var want error
		if !s.exists {
			want = cmq.ErrSubscriptionNotExist
		}
		m.wantErr(want, mt.t.Unsubscribe(ctx, name), "Unsubscribe")
		s.exists = false

	case opSetFilter:
		s, _ := m.sub(in)
		if s.s == nil {
			return
		}
		var want, err error
		tags, keys := s.tags, s.keys
		switch in.pick(3) {
		case 0:
			tags = nil
			if !s.exists {
				want = cmq.ErrSubscriptionNotExist
			}
			err = s.s.ClearFilterTags(ctx)
		case 1:
			if u := modelChoose(in, filterChoices); u != nil {
				tags = u
			}
			want = cmq.ErrSubscriptionNotExist
			if s.exists {
				want = m.filterErr(tags, keys)
			}
			err = s.s.SetAttributes(ctx, cmq.SubscriptionUpdate{FilterTags: tags})
		default:
			u := modelChoose(in, bindingChoices)
			if u != nil {
				keys = u
			}
			want = cmq.ErrSubscriptionNotExist
			if s.exists {
				want = m.filterErr(tags, keys)
			}
			err = s.s.SetAttributes(ctx, cmq.SubscriptionUpdate{BindingKeys: u})
		}
		m.wantErr(want, err, "set filter")
		if want == nil {
			s.tags, s.keys = tags, keys
		}

	case opPublish, opBatchPublish:
		n := 1
		if op == opBatchPublish {
			n = in.pick(18)
		}
		bodies := make([]string, n)
		for i := range bodies {
			bodies[i] = m.body(in)
		}
		tags := modelChoose(in, msgTagChoices)
		key := modelChoose(in, keyChoices)
		targets, want := m.publishTargets(bodies, op == opBatchPublish, tags, key)
		var ids []string
		var err error
		if op == opPublish {
			var id string
			id, err = mt.t.Publish(ctx, bodies[0], tags, key)
			if err == nil {
				ids = []string{id}
			} else {
				require.Empty(t, id)
			}
		} else {
			ids, err = mt.t.BatchPublish(ctx, bodies, tags, key)
		}
		m.wantErr(want, err, "Publish")
		if want != nil {
			require.Nil(t, ids)
			return
		}
		require.Len(t, ids, n)
		for _, id := range ids {
			require.False(t, m.ids[id], m.msg("publish id %q returned twice", id))
			m.ids[id] = true
		}
		for _, s := range targets {
			m.deliver(s, bodies, now)
		}
	}
}

// publishTargets returns the subscriptions a publish reaches and the
// error it should return, checked in the implementation's order.
func (m *model) publishTargets(bodies []string, batch bool, tags []string, key string) ([]*modelSub, error) {
	l := m.limits
	if batch && (len(bodies) == 0 || len(bodies) > l.BatchSize) {
		return nil, cmq.ErrBatchSize
	}
	total := 0
	for _, b := range bodies {
		if b == "" {
			return nil, cmq.ErrEmptyMessage
		}
		total += len(b)
	}
	if batch && total > l.PublishBatchBytes {
		return nil, cmq.ErrBatchTooLarge
	}
	if len(tags) > l.Tags {
		return nil, cmq.ErrMsgTagLimit
	}
	for _, tag := range tags {
		if len(tag) > l.TagLength {
			return nil, cmq.ErrOutOfRange
		}
	}
	if err := m.keyErr(key, false); err != nil {
		return nil, err
	}
	for _, b := range bodies {
		if len(b) > l.TopicMsgSize.Default {
			return nil, cmq.ErrMessageTooLarge
		}
	}
	var targets []*modelSub
	subscribed := false
	for _, s := range m.topic.subs {
		if !s.exists {
			continue
		}
		subscribed = true
		if m.matches(s, tags, key) {
			targets = append(targets, s)
		}
	}
	switch {
	case !subscribed:
		return nil, cmq.ErrNoSubscription
	case len(targets) == 0:
		return nil, cmq.ErrNoMatch
	}
	return targets, nil
}

// deliver sends a publish's bodies to s's queue in the model, as one send
// or one batch send under the queue's rules. A body the queue can never
// take is dropped; a send a retry could make becomes pending and ends the
// run.
func (m *model) deliver(s *modelSub, bodies []string, now time.Time) {
	mq := m.byName(s.endpoint)
	var err error = cmq.ErrQueueNotExist
	if mq != nil {
		err = m.sendErr(mq, bodies, 0, len(bodies) > 1)
	}
	switch {
	case err == nil:
		for _, b := range bodies {
			mq.msgs = append(mq.msgs, &modelMsg{body: b, seq: mq.nextSeq, enqueued: now, visibleAt: now})
			mq.nextSeq++
		}
	case errors.Is(err, cmq.ErrMessageTooLarge), errors.Is(err, cmq.ErrBatchTooLarge): // dropped
	default:
		s.pending += len(bodies)
		m.topic.pending += len(bodies)
		m.topic.stopped = true
	}
}

// checkTopic compares the topic's attributes and subscriptions with the
// model.
func (m *model) checkTopic() {
	t := m.t
	mt := m.topic
	ctx := context.Background()
	info, err := mt.t.Attributes(ctx)
	require.NoError(t, err)
	require.Equal(t, mt.filter, info.FilterType)
	require.Equal(t, mt.pending, info.MsgCount, m.msg("topic MsgCount"))
	var want []string
	for _, s := range mt.subs {
		if s.s == nil {
			continue
		}
		a, err := s.s.Attributes(ctx)
		if !s.exists {
			m.wantErr(cmq.ErrSubscriptionNotExist, err, "Attributes of an unsubscribed subscription")
			continue
		}
		require.NoError(t, err)
		want = append(want, s.s.Name()+" "+s.endpoint)
		require.Equal(t, cmq.ProtocolQueue, a.Protocol)
		require.Equal(t, cmq.FormatSimplified, a.NotifyContentFormat)
		require.True(t, slices.Equal(s.tags, a.FilterTags), m.msg("%s: filter tags %q, want %q", s.name, a.FilterTags, s.tags))
		require.True(t, slices.Equal(s.keys, a.BindingKeys), m.msg("%s: binding keys %q, want %q", s.name, a.BindingKeys, s.keys))
		require.Equal(t, s.pending, a.MsgCount, m.msg("%s: MsgCount", s.name))
	}
	page, total, err := mt.t.ListSubscriptions(ctx, cmq.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, len(want), total, m.msg("ListSubscriptions total"))
	got := []string{}
	for _, s := range page {
		got = append(got, s.Name+" "+s.Endpoint)
	}
	if want == nil {
		want = []string{}
	}
	require.Equal(t, want, got, m.msg("ListSubscriptions"))
}

// modelTopicSeeds are hand-written inputs for FuzzModelTopics: the first
// byte is the filter type, then steps.
func modelTopicSeeds() [][]byte {
	c := func(qi byte) []byte { return []byte{opCreate, qi, 0, 0} }
	sub := func(slot, endpoint, tags, keys byte) []byte {
		return []byte{opSubscribe, slot, 0, endpoint, tags, keys}
	}
	pub := func(body, tags, key byte) []byte { return []byte{opPublish, body, tags, key} }
	return [][]byte{
		// tags: no subscription, then s0 (all) on q0 and s1 (tag b) on q1;
		// an untagged message reaches only q0, one tagged b both, one
		// tagged c only q0; then nothing matches once s0 is gone.
		modelJoin([]byte{0}, c(0), c(1), pub(2, 0, 0), sub(0, 0, 0, 0), sub(1, 1, 2, 0),
			pub(2, 0, 0), pub(0x12, 2, 0), pub(0x22, 3, 0),
			[]byte{opBatchReceive, 0, 16, 0, opBatchReceive, 1, 16, 0, opUnsubscribe, 0, 0},
			pub(2, 0, 0), pub(2, 2, 0)),
		// routing keys: "a.*" on q0, "#" and "a.b","c" on q1 (two
		// subscriptions to one queue: two copies); keys a.b, c, a, "".
		modelJoin([]byte{1}, c(0), c(1), sub(0, 0, 0, 1), sub(1, 1, 0, 0), sub(2, 2, 0, 4),
			pub(2, 0, 2), pub(2, 0, 5), pub(2, 0, 1), pub(2, 0, 0),
			[]byte{opBatchReceive, 0, 16, 0, opBatchReceive, 1, 16, 0}),
		// bad arguments: filters, endpoints, a duplicate, tags, keys, sizes.
		modelJoin([]byte{0}, c(0), sub(0, 4, 0, 0), sub(0, 3, 0, 0), sub(0, 0, 4, 0), sub(0, 0, 5, 0),
			sub(0, 0, 6, 0), sub(0, 0, 0, 7), sub(0, 0, 0, 9), sub(0, 0, 1, 0), sub(0, 0, 0, 0),
			pub(2, 5, 0), pub(2, 6, 0), pub(2, 0, 6), pub(2, 0, 7), pub(0, 0, 0), pub(0x31, 0, 0),
			[]byte{opBatchPublish, 0, 0, 0, opBatchPublish, 5, 0x32, 0x32, 0x32, 0x32, 0x32, 0, 0,
				opBatchPublish, 3, 2, 3, 4, 1, 0}),
		// filter changes: set tags, clear them, set binding keys.
		modelJoin([]byte{0}, c(0), c(1), sub(0, 0, 1, 0), pub(2, 2, 0),
			[]byte{opSetFilter, 0, 0, 1, 2}, pub(2, 2, 0), []byte{opSetFilter, 0, 0, 0}, pub(2, 0, 0),
			[]byte{opSetFilter, 0, 0, 2, 1, opSetFilter, 0, 0, 1, 4, opBatchReceive, 0, 16, 0}),
		// the queue's rules: size 8 drops a long body; heap 2 full makes a
		// delivery pending, which ends the run.
		modelJoin([]byte{0}, []byte{opCreate, 0, 0, 9, 1, 0}, c(1), sub(0, 0, 0, 0), sub(1, 1, 0, 0),
			pub(0x11, 0, 0), pub(2, 0, 0), pub(2, 0, 0), pub(2, 0, 0)),
		// a deleted subscriber queue makes the delivery pending.
		modelJoin([]byte{1}, c(0), sub(0, 0, 0, 0), pub(2, 0, 2), []byte{opDeleteQueue, 0}, pub(2, 0, 2)),
	}
}
