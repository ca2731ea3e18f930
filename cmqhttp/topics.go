package cmqhttp

import (
	"context"
	"errors"
	"time"

	"github.com/opencmq/cmq"
)

// The topic model's actions, served on the same paths as the queue
// actions (CMQ serves them from another host; one server may serve both).

// addTopicActions adds the topic actions to h's table.
func (h *Handler) addTopicActions() {
	for name, a := range map[string]action{
		"CreateTopic":                 h.createTopic,
		"SetTopicAttributes":          h.setTopicAttributes,
		"GetTopicAttributes":          h.getTopicAttributes,
		"ListTopic":                   h.listTopic,
		"DeleteTopic":                 h.deleteTopic,
		"PublishMessage":              h.publishMessage,
		"BatchPublishMessage":         h.batchPublishMessage,
		"Subscribe":                   h.subscribe,
		"Unsubscribe":                 h.unsubscribe,
		"ListSubscriptionByTopic":     h.listSubscriptionByTopic,
		"GetSubscriptionAttributes":   h.getSubscriptionAttributes,
		"SetSubscriptionAttributes":   h.setSubscriptionAttributes,
		"ClearSubscriptionFilterTags": h.clearSubscriptionFilterTags,
		"ClearSUbscriptionFIlterTags": h.clearSubscriptionFilterTags, // the Java SDK's spelling
	} {
		h.actions[name] = a
	}
}

// CreateTopicResponse answers CreateTopic.
type CreateTopicResponse struct {
	Response
	TopicID string `json:"topicId"`
}

// TopicListItem is one topic of a list.
type TopicListItem struct {
	TopicID   string `json:"topicId"`
	TopicName string `json:"topicName"`
}

// ListTopicResponse answers ListTopic.
type ListTopicResponse struct {
	Response
	TotalCount int             `json:"totalCount"`
	TopicList  []TopicListItem `json:"topicList"`
}

// GetTopicAttributesResponse answers GetTopicAttributes. CreateUin is
// always 0: a broker has no account.
type GetTopicAttributesResponse struct {
	Response
	TopicID             string `json:"topicId"`
	TopicName           string `json:"topicName"`
	MsgCount            int    `json:"msgCount"`
	MaxMsgSize          int    `json:"maxMsgSize"`
	MsgRetentionSeconds int64  `json:"msgRetentionSeconds"`
	CreateTime          int64  `json:"createTime"`
	LastModifyTime      int64  `json:"lastModifyTime"`
	FilterType          int    `json:"filterType"`
	QPS                 int    `json:"qps"`
	CreateUin           int64  `json:"createUin"`
}

// PublishMessageResponse answers PublishMessage.
type PublishMessageResponse struct {
	Response
	MsgID string `json:"msgId"`
}

// BatchPublishMessageResponse answers BatchPublishMessage.
type BatchPublishMessageResponse struct {
	Response
	MsgList []SentMessage `json:"msgList"`
}

// SubscribeResponse answers Subscribe. CMQ's page lists no field; the
// Python SDK reads subscriptionId and fails without it.
type SubscribeResponse struct {
	Response
	SubscriptionID string `json:"subscriptionId"`
}

// SubscriptionListItem is one subscription of a list.
type SubscriptionListItem struct {
	SubscriptionID   string `json:"subscriptionId"`
	SubscriptionName string `json:"subscriptionName"`
	Protocol         string `json:"protocol"`
	Endpoint         string `json:"endpoint"`
}

// ListSubscriptionByTopicResponse answers ListSubscriptionByTopic.
type ListSubscriptionByTopicResponse struct {
	Response
	TotalCount       int                    `json:"totalCount"`
	SubscriptionList []SubscriptionListItem `json:"subscriptionList"`
}

// GetSubscriptionAttributesResponse answers GetSubscriptionAttributes.
// The SDKs disagree on spellings, so both are sent: protocol (docs, Java)
// and protocal (Python, C++); filterTag (Java, C++) and filterTags
// (Python). TopicOwner is "0": a broker has no account.
type GetSubscriptionAttributesResponse struct {
	Response
	TopicOwner          string   `json:"topicOwner"`
	MsgCount            int      `json:"msgCount"`
	Protocol            string   `json:"protocol"`
	Protocal            string   `json:"protocal"`
	Endpoint            string   `json:"endpoint"`
	NotifyStrategy      string   `json:"notifyStrategy"`
	NotifyContentFormat string   `json:"notifyContentFormat"`
	CreateTime          int64    `json:"createTime"`
	LastModifyTime      int64    `json:"lastModifyTime"`
	BindingKey          []string `json:"bindingKey"`
	FilterTag           []string `json:"filterTag"`
	FilterTags          []string `json:"filterTags"`
}

// topic returns the topic named by the required parameter topicName.
func (h *Handler) topic(p *params) (*cmq.Topic, error) {
	name, err := p.required("topicName")
	if err != nil {
		return nil, err
	}
	return h.b.Topic(name)
}

// subscription returns the subscription named by topicName and
// subscriptionName.
func (h *Handler) subscription(p *params) (*cmq.Subscription, error) {
	t, err := h.topic(p)
	if err != nil {
		return nil, err
	}
	name, err := p.required("subscriptionName")
	if err != nil {
		return nil, err
	}
	return t.Subscription(name)
}

// optionalArray is array for an array that may be absent (nil then).
func (p *params) optionalArray(name string, max int) ([]string, error) {
	v, err := p.array(name, max)
	if errors.Is(err, errMissing) {
		return nil, nil
	}
	return v, err
}

// maxTags bounds what is parsed of msgTag.n, filterTag.n and bindingKey.n;
// the broker's own, smaller limits give CMQ's codes for too many.
const maxTags = 64

func (h *Handler) topicAttributes(p *params) (cmq.TopicAttributes, error) {
	var a cmq.TopicAttributes
	var err error
	if a.MaxMsgSize, err = p.intPtr("maxMsgSize"); err != nil {
		return a, err
	}
	ft, ok, err := p.integer("filterType")
	if err != nil {
		return a, err
	}
	if ok {
		if ft != 1 && ft != 2 {
			return a, outOfRange("filterType")
		}
		a.FilterType = cmq.FilterType(ft)
	}
	return a, nil
}

func (h *Handler) createTopic(ctx context.Context, p *params) (answer, error) {
	name, err := p.required("topicName")
	if err != nil {
		return nil, err
	}
	a, err := h.topicAttributes(p)
	if err != nil {
		return nil, err
	}
	t, err := h.b.CreateTopic(ctx, name, a)
	if err != nil {
		return nil, err
	}
	return &CreateTopicResponse{TopicID: t.ID()}, nil
}

func (h *Handler) setTopicAttributes(ctx context.Context, p *params) (answer, error) {
	t, err := h.topic(p)
	if err != nil {
		return nil, err
	}
	a, err := h.topicAttributes(p)
	if err != nil {
		return nil, err
	}
	return nil, t.SetAttributes(ctx, a)
}

func (h *Handler) getTopicAttributes(ctx context.Context, p *params) (answer, error) {
	t, err := h.topic(p)
	if err != nil {
		return nil, err
	}
	i, err := t.Attributes(ctx)
	if err != nil {
		return nil, err
	}
	return &GetTopicAttributesResponse{
		TopicID:             i.ID,
		TopicName:           i.Name,
		MsgCount:            i.MsgCount,
		MaxMsgSize:          i.MaxMsgSize,
		MsgRetentionSeconds: int64(i.MsgRetention / time.Second),
		CreateTime:          unixSeconds(i.CreateTime),
		LastModifyTime:      unixSeconds(i.LastModifyTime),
		FilterType:          int(i.FilterType),
		QPS:                 i.QPS,
	}, nil
}

func unixSeconds(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (h *Handler) listTopic(ctx context.Context, p *params) (answer, error) {
	o, err := listOptions(p)
	if err != nil {
		return nil, err
	}
	ts, total, err := h.b.ListTopics(ctx, o)
	if err != nil {
		return nil, err
	}
	list := make([]TopicListItem, len(ts))
	for i, t := range ts {
		list[i] = TopicListItem{TopicID: t.ID, TopicName: t.Name}
	}
	return &ListTopicResponse{TotalCount: total, TopicList: list}, nil
}

func (h *Handler) deleteTopic(ctx context.Context, p *params) (answer, error) {
	name, err := p.required("topicName")
	if err != nil {
		return nil, err
	}
	return nil, h.b.DeleteTopic(ctx, name)
}

// publishFilters parses msgTag.n and routingKey.
func publishFilters(p *params) (tags []string, key string, err error) {
	if tags, err = p.optionalArray("msgTag", maxTags); err != nil {
		return nil, "", err
	}
	key, _, err = p.optional("routingKey")
	return tags, key, err
}

func (h *Handler) publishMessage(ctx context.Context, p *params) (answer, error) {
	t, err := h.topic(p)
	if err != nil {
		return nil, err
	}
	body, err := p.required("msgBody")
	if err != nil {
		return nil, err
	}
	tags, key, err := publishFilters(p)
	if err != nil {
		return nil, err
	}
	id, err := t.Publish(ctx, body, tags, key)
	if err != nil {
		return nil, err
	}
	return &PublishMessageResponse{MsgID: id}, nil
}

func (h *Handler) batchPublishMessage(ctx context.Context, p *params) (answer, error) {
	t, err := h.topic(p)
	if err != nil {
		return nil, err
	}
	bodies, err := p.array("msgBody", h.b.Limits().BatchSize)
	if err != nil {
		return nil, err
	}
	tags, key, err := publishFilters(p)
	if err != nil {
		return nil, err
	}
	ids, err := t.BatchPublish(ctx, bodies, tags, key)
	if err != nil {
		return nil, err
	}
	list := make([]SentMessage, len(ids))
	for i, id := range ids {
		list[i] = SentMessage{MsgID: id}
	}
	return &BatchPublishMessageResponse{MsgList: list}, nil
}

// subscriptionFilters parses notifyStrategy, notifyContentFormat,
// filterTag.n and bindingKey.n.
func subscriptionFilters(p *params) (u cmq.SubscriptionUpdate, err error) {
	s, _, err := p.optional("notifyStrategy")
	if err != nil {
		return u, err
	}
	f, _, err := p.optional("notifyContentFormat")
	if err != nil {
		return u, err
	}
	u.NotifyStrategy, u.NotifyContentFormat = cmq.NotifyStrategy(s), cmq.ContentFormat(f)
	if u.FilterTags, err = p.optionalArray("filterTag", maxTags); err != nil {
		return u, err
	}
	u.BindingKeys, err = p.optionalArray("bindingKey", maxTags)
	return u, err
}

func (h *Handler) subscribe(ctx context.Context, p *params) (answer, error) {
	t, err := h.topic(p)
	if err != nil {
		return nil, err
	}
	name, err := p.required("subscriptionName")
	if err != nil {
		return nil, err
	}
	proto, err := p.required("protocol")
	if err != nil {
		return nil, err
	}
	endpoint, err := p.required("endpoint")
	if err != nil {
		return nil, err
	}
	u, err := subscriptionFilters(p)
	if err != nil {
		return nil, err
	}
	s, err := t.Subscribe(ctx, name, cmq.SubscriptionAttributes{
		Protocol:            cmq.Protocol(proto),
		Endpoint:            endpoint,
		NotifyStrategy:      u.NotifyStrategy,
		NotifyContentFormat: u.NotifyContentFormat,
		FilterTags:          u.FilterTags,
		BindingKeys:         u.BindingKeys,
	})
	if err != nil {
		return nil, err
	}
	return &SubscribeResponse{SubscriptionID: s.ID()}, nil
}

func (h *Handler) unsubscribe(ctx context.Context, p *params) (answer, error) {
	t, err := h.topic(p)
	if err != nil {
		return nil, err
	}
	name, err := p.required("subscriptionName")
	if err != nil {
		return nil, err
	}
	return nil, t.Unsubscribe(ctx, name)
}

func (h *Handler) listSubscriptionByTopic(ctx context.Context, p *params) (answer, error) {
	t, err := h.topic(p)
	if err != nil {
		return nil, err
	}
	o, err := listOptions(p)
	if err != nil {
		return nil, err
	}
	ss, total, err := t.ListSubscriptions(ctx, o)
	if err != nil {
		return nil, err
	}
	list := make([]SubscriptionListItem, len(ss))
	for i, s := range ss {
		list[i] = SubscriptionListItem{SubscriptionID: s.ID, SubscriptionName: s.Name, Protocol: string(s.Protocol), Endpoint: s.Endpoint}
	}
	return &ListSubscriptionByTopicResponse{TotalCount: total, SubscriptionList: list}, nil
}

func (h *Handler) getSubscriptionAttributes(ctx context.Context, p *params) (answer, error) {
	s, err := h.subscription(p)
	if err != nil {
		return nil, err
	}
	i, err := s.Attributes(ctx)
	if err != nil {
		return nil, err
	}
	nonNil := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	return &GetSubscriptionAttributesResponse{
		TopicOwner:          "0",
		MsgCount:            i.MsgCount,
		Protocol:            string(i.Protocol),
		Protocal:            string(i.Protocol),
		Endpoint:            i.Endpoint,
		NotifyStrategy:      string(i.NotifyStrategy),
		NotifyContentFormat: string(i.NotifyContentFormat),
		CreateTime:          unixSeconds(i.CreateTime),
		LastModifyTime:      unixSeconds(i.LastModifyTime),
		BindingKey:          nonNil(i.BindingKeys),
		FilterTag:           nonNil(i.FilterTags),
		FilterTags:          nonNil(i.FilterTags),
	}, nil
}

func (h *Handler) setSubscriptionAttributes(ctx context.Context, p *params) (answer, error) {
	s, err := h.subscription(p)
	if err != nil {
		return nil, err
	}
	u, err := subscriptionFilters(p)
	if err != nil {
		return nil, err
	}
	return nil, s.SetAttributes(ctx, u)
}

func (h *Handler) clearSubscriptionFilterTags(ctx context.Context, p *params) (answer, error) {
	s, err := h.subscription(p)
	if err != nil {
		return nil, err
	}
	return nil, s.ClearFilterTags(ctx)
}
