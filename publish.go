package cmq

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Publish publishes one message to the topic with up to [Limits].Tags
// tags (for [FilterTags] topics) and a routing key (for
// [FilterRoutingKey] topics), and returns its id. See BatchPublish.
func (t *Topic) Publish(ctx context.Context, body string, tags []string, routingKey string) (string, error) {
	ids, err := t.publish(ctx, []string{body}, false, tags, routingKey)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// BatchPublish publishes up to [Limits].BatchSize messages, all with the
// same tags and routing key, and returns their ids in the order of bodies.
// It is all or nothing: if any argument is rejected nothing is published.
//
// A message is delivered once to every subscription whose filter matches
// it (see [FilterType]). For a queue subscription the raw body is sent to
// the queue under that queue's rules (size, heap, QPS) before Publish
// returns. If that send fails (the queue is full, throttled or was
// deleted) the publish still succeeds and the other subscriptions are not
// affected: the delivery becomes pending and is retried, like an HTTP
// push, by the subscription's strategy until it is made or its retries
// end; a body larger than the queue's MaxMsgSize is dropped at once. HTTP
// pushes are made in the background. Pending deliveries count in the
// subscription's and the topic's MsgCount, and are logged as warnings
// when dropped. Subscriptions are served in the order of their names
// (compared in lower case), so that a queue subscribed twice, with room
// for one more message, always takes the first.
//
// Errors: [ErrBatchSize], [ErrEmptyMessage], [ErrBatchTooLarge] (bodies
// over [Limits].PublishBatchBytes), [ErrMsgTagLimit], [ErrOutOfRange] for a
// tag or routing key too long, [ErrDelimiters], [ErrMessageTooLarge]
// (over the topic's MaxMsgSize), [ErrNoSubscription], [ErrNoMatch],
// [ErrThrottled] (the topic's [Limits].QPS), [ErrTopicNotExist],
// [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (t *Topic) BatchPublish(ctx context.Context, bodies []string, tags []string, routingKey string) ([]string, error) {
	return t.publish(ctx, bodies, true, tags, routingKey)
}

// target is a subscription picked for a publish, with what delivery needs
// of it, copied under the topic's lock.
type target struct {
	s        *Subscription
	key      string // the subscription's name in lower case
	protocol Protocol
	endpoint string
}

func (t *Topic) publish(ctx context.Context, bodies []string, batch bool, tags []string, key string) ([]string, error) {
	b := t.b
	if err := b.enter(ctx); err != nil {
		return nil, err
	}
	l := &b.limits
	n := len(bodies)
	if batch && (n == 0 || n > l.BatchSize) {
		return nil, ErrBatchSize
	}
	total := 0
	for _, body := range bodies {
		if body == "" {
			return nil, ErrEmptyMessage
		}
		total += len(body)
	}
	if batch && total > l.PublishBatchBytes {
		return nil, ErrBatchTooLarge.withMessage("total message size exceed %d bytes", l.PublishBatchBytes)
	}
	if err := l.checkTags(tags, ErrMsgTagLimit, "msgTag"); err != nil {
		return nil, err
	}
	if err := l.checkKey(key, "routingKey"); err != nil {
		return nil, err
	}
	if err := t.lockOpen(); err != nil {
		return nil, err
	}
	for _, body := range bodies {
		if len(body) > t.maxSize {
			t.mu.Unlock()
			return nil, ErrMessageTooLarge
		}
	}
	if len(t.subs) == 0 {
		t.mu.Unlock()
		return nil, ErrNoSubscription
	}
	var one [4]target
	targets := one[:0]
	for lower, s := range t.subs {
		ok := false
		if t.filter == FilterRoutingKey {
			ok = bindingsMatch(s.attrs.BindingKeys, key)
		} else {
			ok = tagsMatch(s.attrs.FilterTags, tags)
		}
		if ok {
			targets = append(targets, target{s, lower, s.attrs.Protocol, s.attrs.Endpoint})
		}
	}
	if len(targets) == 0 {
		t.mu.Unlock()
		return nil, ErrNoMatch
	}
	now := max(b.now(), t.modified)
	if !allow(t.limit, now, n) {
		t.mu.Unlock()
		return nil, ErrThrottled
	}
	first := t.nextSeq
	t.nextSeq += uint64(n)
	t.published += uint64(n)
	pos := t.logSeq(now)
	t.mu.Unlock()
	if err := b.finish(pos); err != nil {
		return nil, err
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = t.idPrefix + strconv.FormatUint(first+uint64(i), 10)
	}
	// The same publish reaches its subscriptions in the same order every
	// time, not the map's: of two subscriptions of one queue that has room
	// for one message, the same one is served. (Sorted after the unlock:
	// targets are this call's own copy.)
	slices.SortFunc(targets, func(a, b target) int { return strings.Compare(a.key, b.key) })
	return ids, t.deliver(context.WithoutCancel(ctx), targets, ids, bodies, tags, now)
}

// deliver sends the messages to the queue targets and hands the rest, and
// the failed queue sends, to the pusher.
func (t *Topic) deliver(ctx context.Context, targets []target, ids, bodies, tags []string, now int64) error {
	var pending []*delivery
	for _, tg := range targets {
		attempts := 0
		if tg.protocol == ProtocolQueue {
			err := t.sendToQueue(ctx, tg.endpoint, bodies)
			if err == nil {
				tg.s.noteDelivery(len(bodies), 0, 0, 0)
				continue
			}
			if errors.Is(err, ErrClosed) {
				// Closed during the publish: the subscriptions not yet
				// served never get it, so the publish is not acknowledged
				// (the caller may publish again: at least once).
				return ErrClosed
			}
			if permanent(err) {
				tg.s.noteDelivery(0, len(bodies), 0, len(bodies))
				t.b.log.Warn("topic delivery dropped", "topic", t.name, "subscription", tg.s.name,
					"queue", tg.endpoint, "firstMsgId", ids[0], "count", len(ids), "err", err)
				continue
			}
			attempts = 1
			tg.s.noteDelivery(0, len(bodies), 0, 0) // add counts the retries
		}
		for i := range bodies {
			pending = append(pending, &delivery{
				sub: tg.s, msgID: ids[i], body: bodies[i], tags: tags,
				published: now, attempts: attempts, at: now,
			})
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return t.b.push.add(pending, now)
}

// sendToQueue sends bodies to the queue name, one message or a batch.
func (t *Topic) sendToQueue(ctx context.Context, name string, bodies []string) error {
	q, err := t.b.Queue(name)
	if err != nil {
		return err
	}
	if len(bodies) == 1 {
		_, err = q.Send(ctx, bodies[0], 0)
		return err
	}
	_, err = q.BatchSend(ctx, bodies, 0)
	return err
}

// permanent reports whether a queue send failed for a reason no retry
// can change.
func permanent(err error) bool {
	return errors.Is(err, ErrMessageTooLarge) || errors.Is(err, ErrBatchTooLarge) || errors.Is(err, ErrEmptyMessage)
}
