package cmq

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/opencmq/cmq/internal/wal"
)

// TopicRetention is how long CMQ says a topic keeps a message (one day;
// fixed). Here it bounds how long a failing delivery is retried.
const TopicRetention = 24 * time.Hour

// TopicAttributes are the settable attributes of a topic, used by
// [Broker.CreateTopic] and [Topic.SetAttributes]. A nil or zero field is
// "not given": CreateTopic uses the default, SetAttributes leaves the
// attribute as it is. The zero TopicAttributes creates a topic with every
// default and sets nothing.
type TopicAttributes struct {
	// MaxMsgSize is the largest body a publish may carry, in bytes
	// (maxMsgSize; [Limits].TopicMsgSize).
	MaxMsgSize *int
	// FilterType says how subscriptions select messages (filterType). Only
	// CreateTopic reads it; 0 means [FilterTags]. It cannot be changed.
	FilterType FilterType
}

// TopicInfo is what [Topic.Attributes] returns, a snapshot.
type TopicInfo struct {
	ID         string
	Name       string
	MaxMsgSize int
	// MsgRetention is always [TopicRetention].
	MsgRetention time.Duration
	// QPS is the publish rate limit in messages per second ([Limits].QPS).
	QPS        int
	FilterType FilterType
	CreateTime time.Time
	// LastModifyTime changes on every successful SetAttributes.
	LastModifyTime time.Time
	// MsgCount counts the deliveries not yet made, over all subscriptions:
	// HTTP pushes and retried queue deliveries.
	MsgCount int
}

// TopicSummary names a topic in a list.
type TopicSummary struct {
	ID   string
	Name string
}

// Topic is a CMQ topic: messages published to it are delivered to each
// matching subscription. Get one from [Broker.CreateTopic] or
// [Broker.Topic]; the zero Topic is not usable. After [Broker.DeleteTopic]
// every call on it returns [ErrTopicNotExist]. All methods are safe for
// concurrent use. An idle topic holds no goroutine and no timer.
//
// Lock order: the broker's lock, then a topic's lock. Publish holds the
// topic's lock only to pick the subscriptions; it sends to their queues
// after releasing it, each through the queue's own lock.
type Topic struct {
	b        *Broker
	name     string
	id       string
	num      uint64 // a broker-unique number, shared with queues
	idPrefix string // "T" + num + "-": starts every message id
	limit    *rate.Limiter

	mu       sync.Mutex
	deleted  bool
	maxSize  int
	filter   FilterType
	created  int64
	modified int64
	nextSeq  uint64
	subs     map[string]*Subscription // by lower-case name

	published uint64           // messages published (stats.go)
	counters  deliveryCounters // of every subscription, past ones too
}

// Name returns the topic's name as created.
func (t *Topic) Name() string { return t.name }

// ID returns the topic's id, in CMQ's style ("topic-…").
func (t *Topic) ID() string { return t.id }

// newID returns prefix and 12 random letters and digits.
func newID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(prefix + "000000000000")
	for i := len(prefix); i < len(b); i++ {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

func newTopic(b *Broker, name string, num uint64, maxSize int, filter FilterType) *Topic {
	now := b.now()
	return &Topic{
		b:        b,
		name:     name,
		id:       newID("topic-"),
		num:      num,
		idPrefix: "T" + strconv.FormatUint(num, 10) + "-",
		limit:    newLimiter(b.limits.QPS, b.limits.BatchSize),
		maxSize:  maxSize,
		filter:   filter,
		created:  now,
		modified: now,
		subs:     make(map[string]*Subscription),
	}
}

// CreateTopic creates the topic name. Names follow the rules of queue
// names and are unique case-insensitively among topics (a queue and a
// topic may share a name).
//
// Errors: [ErrTopicNameFormat], [ErrTopicExists], [ErrTopicLimit],
// [ErrOutOfRange] for MaxMsgSize, [ErrInvalidParameter] for a filter type
// other than 0, 1 or 2, [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (b *Broker) CreateTopic(ctx context.Context, name string, attrs TopicAttributes) (*Topic, error) {
	if err := b.enter(ctx); err != nil {
		return nil, err
	}
	t, pos, err := b.createTopic(name, attrs)
	if err != nil {
		return nil, err
	}
	if err := b.finish(pos); err != nil {
		return nil, err
	}
	b.log.Info("topic created", "topic", name, "id", t.id)
	return t, nil
}

func (b *Broker) createTopic(name string, attrs TopicAttributes) (_ *Topic, pos wal.Pos, err error) {
	if !b.validName(name) {
		return nil, pos, ErrTopicNameFormat
	}
	size := b.limits.TopicMsgSize.Default
	if attrs.MaxMsgSize != nil {
		size = *attrs.MaxMsgSize
		if !b.limits.TopicMsgSize.contains(size) {
			return nil, pos, outOfRange("maxMsgSize")
		}
	}
	filter := attrs.FilterType
	switch filter {
	case 0:
		filter = FilterTags
	case FilterTags, FilterRoutingKey:
	default:
		return nil, pos, ErrInvalidParameter.withMessage("filterType must be 1 or 2")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, pos, ErrClosed
	}
	if err := b.journalErr(); err != nil {
		return nil, pos, err
	}
	key := strings.ToLower(name)
	if b.topics[key] != nil {
		return nil, pos, ErrTopicExists
	}
	if len(b.topics) >= b.limits.Topics {
		return nil, pos, ErrTopicLimit
	}
	t := newTopic(b, name, b.nextNum, size, filter)
	b.nextNum++
	b.topics[key] = t
	t.mu.Lock()
	pos = t.logTopic()
	t.mu.Unlock()
	return t, pos, nil
}

// Topic returns the topic name (compared case-insensitively).
// Errors: [ErrTopicNameFormat], [ErrTopicNotExist], [ErrClosed].
func (b *Broker) Topic(name string) (*Topic, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	if !b.validName(name) {
		return nil, ErrTopicNameFormat
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	t := b.topics[strings.ToLower(name)]
	if t == nil {
		return nil, ErrTopicNotExist
	}
	return t, nil
}

// DeleteTopic deletes the topic name. It is refused while the topic has
// subscriptions: unsubscribe them first.
//
// Errors: [ErrTopicNameFormat], [ErrTopicNotExist],
// [ErrTopicHasSubscriptions], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (b *Broker) DeleteTopic(ctx context.Context, name string) error {
	if err := b.enter(ctx); err != nil {
		return err
	}
	pos, err := b.deleteTopic(name)
	if err != nil {
		return err
	}
	if err := b.finish(pos); err != nil {
		return err
	}
	b.log.Info("topic deleted", "topic", name)
	return nil
}

func (b *Broker) deleteTopic(name string) (pos wal.Pos, err error) {
	if !b.validName(name) {
		return pos, ErrTopicNameFormat
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return pos, ErrClosed
	}
	if err := b.journalErr(); err != nil {
		return pos, err
	}
	key := strings.ToLower(name)
	t := b.topics[key]
	if t == nil {
		return pos, ErrTopicNotExist
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.subs) > 0 {
		return pos, ErrTopicHasSubscriptions
	}
	t.deleted = true
	delete(b.topics, key)
	return t.logDeleteTopic(), nil
}

// ListTopics returns one page of topics, sorted by name ignoring case, and
// the number of topics that match o.Search in all.
// Errors: [ErrOutOfRange] for a negative offset or a limit outside
// [Limits].ListLimit, [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (b *Broker) ListTopics(ctx context.Context, o ListOptions) ([]TopicSummary, int, error) {
	if err := b.enter(ctx); err != nil {
		return nil, 0, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed.Load() {
		return nil, 0, ErrClosed
	}
	return pageOf(b.topics, o, b.limits.ListLimit, -1, func(t *Topic) TopicSummary {
		return TopicSummary{ID: t.id, Name: t.name}
	})
}

// pageOf applies o to m, whose keys are lower-case names: at most
// maxOffset skipped (-1: any), a page size within r.
func pageOf[V any, S any](m map[string]V, o ListOptions, r Range[int], maxOffset int, f func(V) S) ([]S, int, error) {
	limit := o.Limit
	if limit == 0 {
		limit = r.Default
	}
	if o.Offset < 0 || maxOffset >= 0 && o.Offset > maxOffset {
		return nil, 0, outOfRange("offset")
	}
	if !r.contains(limit) {
		return nil, 0, outOfRange("limit")
	}
	search := strings.ToLower(o.Search)
	keys := make([]string, 0, len(m))
	for k := range m {
		if strings.Contains(k, search) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	total := len(keys)
	lo := min(o.Offset, total)
	keys = keys[lo : lo+min(limit, total-lo)]
	out := make([]S, len(keys))
	for i, k := range keys {
		out[i] = f(m[k])
	}
	return out, total, nil
}

// lockOpen locks t and checks that it is usable; on error t is unlocked.
func (t *Topic) lockOpen() error {
	t.mu.Lock()
	switch {
	case t.b.closed.Load():
		t.mu.Unlock()
		return ErrClosed
	case t.deleted:
		t.mu.Unlock()
		return ErrTopicNotExist
	}
	return nil
}

// Attributes returns the topic's attributes and its pending deliveries.
// Errors: [ErrTopicNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (t *Topic) Attributes(ctx context.Context) (TopicInfo, error) {
	if err := t.b.enter(ctx); err != nil {
		return TopicInfo{}, err
	}
	if err := t.lockOpen(); err != nil {
		return TopicInfo{}, err
	}
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.subs {
		n += int(s.pending.Load())
	}
	return TopicInfo{
		ID:             t.id,
		Name:           t.name,
		MaxMsgSize:     t.maxSize,
		MsgRetention:   TopicRetention,
		QPS:            t.b.limits.QPS,
		FilterType:     t.filter,
		CreateTime:     unixTime(t.created),
		LastModifyTime: unixTime(t.modified),
		MsgCount:       n,
	}, nil
}

// SetAttributes changes the attributes given in a; FilterType must be 0 or
// the topic's own (it cannot change).
// Errors: [ErrOutOfRange] for MaxMsgSize, [ErrInvalidParameter] for
// another filter type, [ErrTopicNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (t *Topic) SetAttributes(ctx context.Context, a TopicAttributes) error {
	if err := t.b.enter(ctx); err != nil {
		return err
	}
	if a.MaxMsgSize != nil && !t.b.limits.TopicMsgSize.contains(*a.MaxMsgSize) {
		return outOfRange("maxMsgSize")
	}
	if err := t.lockOpen(); err != nil {
		return err
	}
	if a.FilterType != 0 && a.FilterType != t.filter {
		t.mu.Unlock()
		return ErrInvalidParameter.withMessage("filterType cannot be changed")
	}
	if a.MaxMsgSize != nil {
		t.maxSize = *a.MaxMsgSize
	}
	t.modified = max(t.b.now(), t.modified)
	pos := t.logTopic()
	t.mu.Unlock()
	return t.b.finish(pos)
}
