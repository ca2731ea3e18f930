package cmqhttp

import (
	"context"
	"encoding/json"
	"time"

	"github.com/opencmq/cmq"
)

// queue returns the queue named by the required parameter queueName.
func (h *Handler) queue(p *params) (*cmq.Queue, error) {
	name, err := p.required("queueName")
	if err != nil {
		return nil, err
	}
	return h.b.Queue(name)
}

func (h *Handler) createQueue(ctx context.Context, p *params) (answer, error) {
	name, err := p.required("queueName")
	if err != nil {
		return nil, err
	}
	attrs, err := p.attributes()
	if err != nil {
		return nil, err
	}
	q, err := h.b.CreateQueue(ctx, name, attrs)
	if err != nil {
		return nil, err
	}
	return &CreateQueueResponse{QueueID: q.ID()}, nil
}

// listOptions parses searchWord, offset and limit.
func listOptions(p *params) (cmq.ListOptions, error) {
	var o cmq.ListOptions
	var err error
	if o.Search, _, err = p.optional("searchWord"); err != nil {
		return o, err
	}
	off, _, err := p.integer("offset")
	if err != nil {
		return o, err
	}
	lim, _, err := p.integer("limit")
	if err != nil {
		return o, err
	}
	o.Offset, o.Limit = clampInt(off), clampInt(lim)
	if o.Limit < 0 {
		return o, outOfRange("limit")
	}
	return o, nil
}

func queueList(qs []cmq.QueueSummary) []QueueListItem {
	list := make([]QueueListItem, len(qs))
	for i, q := range qs {
		list[i] = QueueListItem{QueueID: q.ID, QueueName: q.Name}
	}
	return list
}

func (h *Handler) listQueue(ctx context.Context, p *params) (answer, error) {
	o, err := listOptions(p)
	if err != nil {
		return nil, err
	}
	qs, total, err := h.b.ListQueues(ctx, o)
	if err != nil {
		return nil, err
	}
	return &ListQueueResponse{TotalCount: total, QueueList: queueList(qs)}, nil
}

func (h *Handler) listDeadLetterSourceQueues(ctx context.Context, p *params) (answer, error) {
	dlq, err := p.required("deadLetterQueueName")
	if err != nil {
		return nil, err
	}
	o, err := listOptions(p)
	if err != nil {
		return nil, err
	}
	qs, total, err := h.b.ListDeadLetterSourceQueues(ctx, dlq, o)
	if err != nil {
		return nil, err
	}
	return &ListDeadLetterSourceQueuesResponse{TotalCount: total, QueueList: queueList(qs)}, nil
}

// policyJSON returns a dead-letter policy as CMQ's JSON text.
func policyJSON(p *cmq.DeadLetterPolicy) string {
	b, _ := json.Marshal(struct {
		DeadLetterQueue string `json:"deadLetterQueue"`
		Policy          int    `json:"policy"`
		MaxReceiveCount int    `json:"maxReceiveCount"`
		MaxTimeToLive   int64  `json:"maxTimeToLive"`
	}{p.DeadLetterQueue, int(p.Kind), p.MaxReceiveCount, seconds(p.MaxTimeToLive)})
	return string(b)
}

// settings are the settable attributes of info.
func settings(info cmq.QueueInfo) QueueSettings {
	s := QueueSettings{
		QueueID:             info.ID,
		MaxMsgHeapNum:       info.MaxMsgHeapNum,
		PollingWaitSeconds:  seconds(info.PollingWait),
		VisibilityTimeout:   seconds(info.VisibilityTimeout),
		MaxMsgSize:          info.MaxMsgSize,
		MsgRetentionSeconds: seconds(info.MsgRetention),
		RewindSeconds:       seconds(info.RewindPeriod),
	}
	if info.DeadLetterPolicy != nil {
		s.DeadLetterPolicy = policyJSON(info.DeadLetterPolicy)
	}
	return s
}

func (h *Handler) getQueueAttributes(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	info, err := q.Attributes(ctx)
	if err != nil {
		return nil, err
	}
	return &GetQueueAttributesResponse{
		QueueSettings:  settings(info),
		QueueName:      info.Name,
		CreateTime:     unix(info.CreateTime),
		LastModifyTime: unix(info.LastModifyTime),
		ActiveMsgNum:   info.ActiveMsgNum,
		InactiveMsgNum: info.InactiveMsgNum,
		DelayMsgNum:    info.DelayMsgNum,
		RewindmsgNum:   info.RewindMsgNum,
		RewindMsgNum:   info.RewindMsgNum,
		MinMsgTime:     unix(info.MinMsgTime),
	}, nil
}

func (h *Handler) setQueueAttributes(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	attrs, err := p.attributes()
	if err != nil {
		return nil, err
	}
	if err := q.SetAttributes(ctx, attrs); err != nil {
		return nil, err
	}
	info, err := q.Attributes(ctx)
	if err != nil {
		return nil, err
	}
	return &SetQueueAttributesResponse{QueueSettings: settings(info)}, nil
}

func (h *Handler) deleteQueue(ctx context.Context, p *params) (answer, error) {
	name, err := p.required("queueName")
	if err != nil {
		return nil, err
	}
	return nil, h.b.DeleteQueue(ctx, name)
}

func (h *Handler) rewindQueue(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	ts, err := p.requiredInt("startConsumeTime")
	if err != nil {
		return nil, err
	}
	if ts > maxSecs || ts < -maxSecs {
		return nil, cmq.ErrRewindTime
	}
	return nil, q.Rewind(ctx, time.Unix(ts, 0))
}

func (h *Handler) unbindDeadLetterQueue(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	if err := q.UnbindDeadLetterQueue(ctx); err != nil {
		return nil, err
	}
	return &UnbindDeadLetterQueueResponse{QueueID: q.ID()}, nil
}

// delay parses delaySeconds (default 0).
func delay(p *params) (time.Duration, error) {
	d, err := p.seconds("delaySeconds")
	if d == nil || err != nil {
		return 0, err
	}
	return *d, nil
}

func (h *Handler) sendMessage(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	body, err := p.required("msgBody")
	if err != nil {
		return nil, err
	}
	d, err := delay(p)
	if err != nil {
		return nil, err
	}
	id, err := q.Send(ctx, body, d)
	if err != nil {
		return nil, err
	}
	return &SendMessageResponse{MsgID: id}, nil
}

func (h *Handler) batchSendMessage(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	bodies, err := p.array("msgBody", h.b.Limits().BatchSize)
	if err != nil {
		return nil, err
	}
	d, err := delay(p)
	if err != nil {
		return nil, err
	}
	ids, err := q.BatchSend(ctx, bodies, d)
	if err != nil {
		return nil, err
	}
	list := make([]SentMessage, len(ids))
	for i, id := range ids {
		list[i] = SentMessage{MsgID: id}
	}
	return &BatchSendMessageResponse{MsgList: list}, nil
}

// wait parses pollingWaitSeconds: absent means the queue's wait; negative
// is out of range (the Go API would read it as "the queue's").
func wait(p *params) (time.Duration, error) {
	d, err := p.seconds("pollingWaitSeconds")
	switch {
	case err != nil:
		return 0, err
	case d == nil:
		return cmq.QueueWait, nil
	case *d < 0:
		return 0, outOfRange("pollingWaitSeconds")
	}
	return *d, nil
}

func received(m cmq.Message) ReceivedMessage {
	return ReceivedMessage{
		MsgBody:          m.Body,
		MsgID:            m.ID,
		ReceiptHandle:    m.ReceiptHandle,
		EnqueueTime:      unix(m.EnqueueTime),
		FirstDequeueTime: unix(m.FirstDequeueTime),
		NextVisibleTime:  unix(m.NextVisibleTime),
		DequeueCount:     m.DequeueCount,
	}
}

func (h *Handler) receiveMessage(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	w, err := wait(p)
	if err != nil {
		return nil, err
	}
	p.free() // nothing more to read: the wait holds no request memory
	m, err := q.Receive(ctx, w)
	if err != nil {
		return nil, noMessageOnCancel(err)
	}
	return &ReceiveMessageResponse{ReceivedMessage: received(m), q: q}, nil
}

func (h *Handler) batchReceiveMessage(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	n, err := p.requiredInt("numOfMsg")
	if err != nil {
		return nil, err
	}
	w, err := wait(p)
	if err != nil {
		return nil, err
	}
	p.free()
	ms, err := q.BatchReceive(ctx, clampInt(n), w)
	if err != nil {
		return nil, noMessageOnCancel(err)
	}
	list := make([]ReceivedMessage, len(ms))
	for i, m := range ms {
		list[i] = received(m)
	}
	return &BatchReceiveMessageResponse{MsgInfoList: list, q: q}, nil
}

func (h *Handler) deleteMessage(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	handle, err := p.required("receiptHandle")
	if err != nil {
		return nil, err
	}
	if handle == "" {
		return nil, errHandle
	}
	return nil, q.Delete(ctx, handle)
}

// batchDeleteMessage answers 0, or 6010 (some failed) or 6020 (all failed)
// with an errorList of {code, message, receiptHandle} for the failures.
func (h *Handler) batchDeleteMessage(ctx context.Context, p *params) (answer, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	handles, err := p.array("receiptHandle", h.b.Limits().BatchSize)
	if err != nil {
		return nil, err
	}
	results, err := q.BatchDelete(ctx, handles)
	if results == nil {
		return nil, err
	}
	var list []DeleteError
	for i, r := range results {
		if r != nil {
			e := cmq.AsError(r)
			if handles[i] == "" {
				e = errHandle
			}
			list = append(list, DeleteError{Code: e.Code, Message: e.WireMessage(), ReceiptHandle: handles[i]})
		}
	}
	if list == nil {
		return nil, err
	}
	return &BatchDeleteMessageResponse{ErrorList: list}, err
}
