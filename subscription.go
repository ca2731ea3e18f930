package cmq

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opencmq/cmq/internal/wal"
)

// Protocol is how a subscription receives messages.
type Protocol string

const (
	// ProtocolHTTP pushes each message to the subscription's endpoint, an
	// http:// (or https://) URL, by POST.
	ProtocolHTTP Protocol = "http"
	// ProtocolQueue sends each message's body, as it is, to the queue the
	// endpoint names.
	ProtocolQueue Protocol = "queue"
)

// NotifyStrategy is how a failed delivery is retried.
type NotifyStrategy string

const (
	// BackoffRetry retries a failed delivery 3 times, 10 to 20 s apart
	// (drawn at random), then drops it.
	BackoffRetry NotifyStrategy = "BACKOFF_RETRY"
	// ExponentialDecayRetry (the default) retries after 1, 2, 4 … 512 s,
	// then every 512 s, until one day after the publish, then drops it.
	ExponentialDecayRetry NotifyStrategy = "EXPONENTIAL_DECAY_RETRY"
)

// ContentFormat is the body of an HTTP push.
type ContentFormat string

const (
	// FormatJSON pushes a JSON object with TopicOwner, topicName,
	// subscriptionName, msgId, msgBody and publishTime. The default for
	// HTTP subscriptions.
	FormatJSON ContentFormat = "JSON"
	// FormatSimplified pushes the raw body. The only format of queue
	// subscriptions.
	FormatSimplified ContentFormat = "SIMPLIFIED"
)

// SubscriptionAttributes describe a new subscription for
// [Topic.Subscribe]. Protocol and Endpoint are required; an empty
// NotifyStrategy means [ExponentialDecayRetry]; an empty
// NotifyContentFormat means [FormatJSON] for HTTP and [FormatSimplified]
// for a queue. FilterTags apply to a topic of [FilterTags], BindingKeys
// to one of [FilterRoutingKey] (which requires at least one); the other
// kind is kept but not used.
type SubscriptionAttributes struct {
	Protocol            Protocol
	Endpoint            string
	NotifyStrategy      NotifyStrategy
	NotifyContentFormat ContentFormat
	FilterTags          []string
	BindingKeys         []string
}

// SubscriptionUpdate is what [Subscription.SetAttributes] changes: nil or
// empty fields are left as they are. FilterTags and BindingKeys replace
// the whole list when non-nil; [Subscription.ClearFilterTags] empties the
// filter tags.
type SubscriptionUpdate struct {
	NotifyStrategy      NotifyStrategy
	NotifyContentFormat ContentFormat
	FilterTags          []string
	BindingKeys         []string
}

// SubscriptionInfo is what [Subscription.Attributes] returns, a snapshot.
type SubscriptionInfo struct {
	SubscriptionAttributes
	ID             string
	Name           string
	TopicName      string
	CreateTime     time.Time
	LastModifyTime time.Time
	// MsgCount counts deliveries not yet made: HTTP pushes waiting for
	// their first attempt or a retry, and retried queue deliveries.
	MsgCount int
}

// SubscriptionSummary names a subscription in a list.
type SubscriptionSummary struct {
	ID       string
	Name     string
	Protocol Protocol
	Endpoint string
}

// Subscription is one subscription of a topic. Get one from
// [Topic.Subscribe] or [Topic.Subscription]. After [Topic.Unsubscribe]
// every call on it returns [ErrSubscriptionNotExist] and its pending
// deliveries are dropped. Its fields are guarded by its topic's lock.
type Subscription struct {
	t    *Topic
	name string
	id   string

	attrs    SubscriptionAttributes
	created  int64
	modified int64
	deleted  bool
	counters deliveryCounters // under the topic's lock (stats.go)

	pending atomic.Int64 // deliveries not yet made
}

// Name returns the subscription's name as created.
func (s *Subscription) Name() string { return s.name }

// ID returns the subscription's id ("subscription-…").
func (s *Subscription) ID() string { return s.id }

// Topic returns the subscription's topic.
func (s *Subscription) Topic() *Topic { return s.t }

// check validates a (complete) against the topic's filter type.
func (t *Topic) checkSubscription(a *SubscriptionAttributes) error {
	l := &t.b.limits
	switch a.NotifyStrategy {
	case "":
		a.NotifyStrategy = ExponentialDecayRetry
	case BackoffRetry, ExponentialDecayRetry:
	default:
		return ErrNotifyStrategy
	}
	switch a.Protocol {
	case ProtocolHTTP:
		if err := l.checkEndpoint(a.Endpoint); err != nil {
			return err
		}
		if a.NotifyContentFormat == "" {
			a.NotifyContentFormat = FormatJSON
		}
	case ProtocolQueue:
		if !t.b.validName(a.Endpoint) {
			return ErrEndpointFormat
		}
		if a.NotifyContentFormat == "" {
			a.NotifyContentFormat = FormatSimplified
		}
	default:
		return ErrProtocol
	}
	return t.checkFilters(a)
}

// checkFilters validates the format and filters of a.
func (t *Topic) checkFilters(a *SubscriptionAttributes) error {
	l := &t.b.limits
	switch a.NotifyContentFormat {
	case FormatJSON:
		if a.Protocol == ProtocolQueue {
			return ErrQueueContentFormat
		}
	case FormatSimplified:
	default:
		return ErrContentFormat
	}
	if err := l.checkTags(a.FilterTags, ErrFilterTagLimit, "filterTag"); err != nil {
		return err
	}
	if len(a.BindingKeys) > l.BindingKeys {
		return ErrBindingKeyLimit
	}
	for _, k := range a.BindingKeys {
		if k == "" {
			return outOfRange("bindingKey")
		}
		if err := l.checkKey(k, "bindingKey"); err != nil {
			return err
		}
	}
	if t.filter == FilterRoutingKey && len(a.BindingKeys) == 0 {
		return ErrBindingKeyMissing
	}
	return nil
}

// checkEndpoint validates an HTTP endpoint: at most EndpointLength bytes,
// no blank, http:// or https:// with a host.
func (l *Limits) checkEndpoint(e string) error {
	if len(e) > l.EndpointLength {
		return outOfRange("endpoint")
	}
	if strings.ContainsAny(e, " \t\r\n\v\f") {
		return ErrEndpointBlank
	}
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ErrEndpointFormat
	}
	return nil
}

// Subscribe adds the subscription name to the topic. Names follow the
// rules of queue names and are unique on the topic, case-insensitively. A
// queue endpoint must name an existing queue; it may be deleted later (see
// Publish).
//
// Errors: [ErrSubscriptionNameFormat], [ErrProtocol], [ErrEndpointFormat],
// [ErrEndpointBlank], [ErrOutOfRange], [ErrNotifyStrategy],
// [ErrContentFormat], [ErrQueueContentFormat], [ErrFilterTagLimit],
// [ErrBindingKeyLimit], [ErrDelimiters], [ErrBindingKeyMissing],
// [ErrQueueNotExist] for the endpoint, [ErrSubscriptionExists],
// [ErrSubscriptionLimit], [ErrTopicNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (t *Topic) Subscribe(ctx context.Context, name string, a SubscriptionAttributes) (*Subscription, error) {
	if err := t.b.enter(ctx); err != nil {
		return nil, err
	}
	if !t.b.validName(name) {
		return nil, ErrSubscriptionNameFormat
	}
	a.FilterTags = slices.Clone(a.FilterTags)
	a.BindingKeys = slices.Clone(a.BindingKeys)
	if err := t.checkSubscription(&a); err != nil {
		return nil, err
	}
	if a.Protocol == ProtocolQueue {
		if _, err := t.b.Queue(a.Endpoint); err != nil {
			return nil, err
		}
	}
	if err := t.lockOpen(); err != nil {
		return nil, err
	}
	key := strings.ToLower(name)
	if t.subs[key] != nil {
		t.mu.Unlock()
		return nil, ErrSubscriptionExists
	}
	if len(t.subs) >= t.b.limits.Subscriptions {
		t.mu.Unlock()
		return nil, ErrSubscriptionLimit
	}
	now := t.b.now()
	s := &Subscription{t: t, name: name, id: newID("subscription-"), attrs: a, created: now, modified: now}
	t.subs[key] = s
	pos := t.logSubscription(s)
	t.mu.Unlock()
	if err := t.b.finish(pos); err != nil {
		return nil, err
	}
	t.b.log.Info("subscribed", "topic", t.name, "subscription", name, "protocol", a.Protocol)
	return s, nil
}

// Subscription returns the subscription name of t.
// Errors: [ErrSubscriptionNameFormat], [ErrSubscriptionNotExist],
// [ErrTopicNotExist], [ErrClosed].
func (t *Topic) Subscription(name string) (*Subscription, error) {
	if !t.b.validName(name) {
		return nil, ErrSubscriptionNameFormat
	}
	if err := t.lockOpen(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	s := t.subs[strings.ToLower(name)]
	if s == nil {
		return nil, ErrSubscriptionNotExist
	}
	return s, nil
}

// Unsubscribe removes the subscription name; its pending deliveries are
// dropped.
// Errors: [ErrSubscriptionNameFormat], [ErrSubscriptionNotExist],
// [ErrTopicNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (t *Topic) Unsubscribe(ctx context.Context, name string) error {
	if err := t.b.enter(ctx); err != nil {
		return err
	}
	if !t.b.validName(name) {
		return ErrSubscriptionNameFormat
	}
	if err := t.lockOpen(); err != nil {
		return err
	}
	key := strings.ToLower(name)
	s := t.subs[key]
	if s == nil {
		t.mu.Unlock()
		return ErrSubscriptionNotExist
	}
	s.deleted = true
	delete(t.subs, key)
	pos := t.logUnsubscribe(s)
	t.mu.Unlock()
	if err := t.b.finish(pos); err != nil {
		return err
	}
	t.b.log.Info("unsubscribed", "topic", t.name, "subscription", name)
	return nil
}

// ListSubscriptions returns one page of the topic's subscriptions, sorted
// by name ignoring case, and the number that match o.Search in all.
// Errors: [ErrOutOfRange] for an offset outside 0 to
// [Limits].SubscriptionListOffset or a limit outside
// [Limits].SubscriptionListLimit, [ErrTopicNotExist], [ErrClosed],
// ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (t *Topic) ListSubscriptions(ctx context.Context, o ListOptions) ([]SubscriptionSummary, int, error) {
	if err := t.b.enter(ctx); err != nil {
		return nil, 0, err
	}
	if err := t.lockOpen(); err != nil {
		return nil, 0, err
	}
	defer t.mu.Unlock()
	l := &t.b.limits
	return pageOf(t.subs, o, l.SubscriptionListLimit, l.SubscriptionListOffset, func(s *Subscription) SubscriptionSummary {
		return SubscriptionSummary{ID: s.id, Name: s.name, Protocol: s.attrs.Protocol, Endpoint: s.attrs.Endpoint}
	})
}

// lockOpen locks the topic and checks that s and its topic are usable; on
// error the topic is unlocked.
func (s *Subscription) lockOpen() error {
	if err := s.t.lockOpen(); err != nil {
		return err
	}
	if s.deleted {
		s.t.mu.Unlock()
		return ErrSubscriptionNotExist
	}
	return nil
}

// Attributes returns the subscription's attributes and pending deliveries.
// Errors: [ErrSubscriptionNotExist], [ErrTopicNotExist], [ErrClosed],
// ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (s *Subscription) Attributes(ctx context.Context) (SubscriptionInfo, error) {
	if err := s.t.b.enter(ctx); err != nil {
		return SubscriptionInfo{}, err
	}
	if err := s.lockOpen(); err != nil {
		return SubscriptionInfo{}, err
	}
	defer s.t.mu.Unlock()
	a := s.attrs
	a.FilterTags = slices.Clone(a.FilterTags)
	a.BindingKeys = slices.Clone(a.BindingKeys)
	return SubscriptionInfo{
		SubscriptionAttributes: a,
		ID:                     s.id,
		Name:                   s.name,
		TopicName:              s.t.name,
		CreateTime:             unixTime(s.created),
		LastModifyTime:         unixTime(s.modified),
		MsgCount:               int(s.pending.Load()),
	}, nil
}

// SetAttributes changes what u gives. Nothing changes if any of it is
// invalid.
// Errors: as for [Topic.Subscribe], and [ErrSubscriptionNotExist].
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (s *Subscription) SetAttributes(ctx context.Context, u SubscriptionUpdate) error {
	if err := s.t.b.enter(ctx); err != nil {
		return err
	}
	if err := s.lockOpen(); err != nil {
		return err
	}
	a := s.attrs
	if u.NotifyStrategy != "" {
		a.NotifyStrategy = u.NotifyStrategy
	}
	if u.NotifyContentFormat != "" {
		a.NotifyContentFormat = u.NotifyContentFormat
	}
	if u.FilterTags != nil {
		a.FilterTags = slices.Clone(u.FilterTags)
	}
	if u.BindingKeys != nil {
		a.BindingKeys = slices.Clone(u.BindingKeys)
	}
	return s.update(a)
}

// ClearFilterTags removes every filter tag: the subscription then
// receives every message of a tag-filtered topic.
// Errors: [ErrSubscriptionNotExist], [ErrTopicNotExist], [ErrClosed],
// ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (s *Subscription) ClearFilterTags(ctx context.Context) error {
	if err := s.t.b.enter(ctx); err != nil {
		return err
	}
	if err := s.lockOpen(); err != nil {
		return err
	}
	a := s.attrs
	a.FilterTags = nil
	return s.update(a)
}

// update validates a, stores it and unlocks the topic.
func (s *Subscription) update(a SubscriptionAttributes) error {
	t := s.t
	var pos wal.Pos
	if a.NotifyStrategy != BackoffRetry && a.NotifyStrategy != ExponentialDecayRetry {
		t.mu.Unlock()
		return ErrNotifyStrategy
	}
	if err := t.checkFilters(&a); err != nil {
		t.mu.Unlock()
		return err
	}
	s.attrs = a
	s.modified = max(t.b.now(), s.modified)
	pos = t.logSubscription(s)
	t.mu.Unlock()
	return t.b.finish(pos)
}
