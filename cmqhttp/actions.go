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

func (h *Handler) createQueue(ctx context.Context, p *params) (fields, error) {
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
	return fields{"queueId": q.ID()}, nil
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
		return o, detail(errOutOfRangeFm, "limit")
	}
	return o, nil
}

func queueList(qs []cmq.QueueSummary, total int) fields {
	list := make([]fields, len(qs))
	for i, q := range qs {
		list[i] = fields{"queueId": q.ID, "queueName": q.Name}
	}
	return fields{"totalCount": total, "queueList": list}
}

func (h *Handler) listQueue(ctx context.Context, p *params) (fields, error) {
	o, err := listOptions(p)
	if err != nil {
		return nil, err
	}
	qs, total, err := h.b.ListQueues(ctx, o)
	if err != nil {
		return nil, err
	}
	return queueList(qs, total), nil
}

func (h *Handler) listDeadLetterSourceQueues(ctx context.Context, p *params) (fields, error) {
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
	return queueList(qs, total), nil
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

// settingFields are the settable attributes of info, as SetQueueAttributes
// returns them.
func settingFields(info cmq.QueueInfo) fields {
	f := fields{
		"queueId":             info.ID,
		"maxMsgHeapNum":       info.MaxMsgHeapNum,
		"pollingWaitSeconds":  seconds(info.PollingWait),
		"visibilityTimeout":   seconds(info.VisibilityTimeout),
		"maxMsgSize":          info.MaxMsgSize,
		"msgRetentionSeconds": seconds(info.MsgRetention),
		"rewindSeconds":       seconds(info.RewindPeriod),
	}
	if info.DeadLetterPolicy != nil {
		f["deadLetterPolicy"] = policyJSON(info.DeadLetterPolicy)
	}
	return f
}

func (h *Handler) getQueueAttributes(ctx context.Context, p *params) (fields, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	info, err := q.Attributes(ctx)
	if err != nil {
		return nil, err
	}
	f := settingFields(info)
	f["queueName"] = info.Name
	f["createTime"] = unix(info.CreateTime)
	f["lastModifyTime"] = unix(info.LastModifyTime)
	f["activeMsgNum"] = info.ActiveMsgNum
	f["inactiveMsgNum"] = info.InactiveMsgNum
	f["delayMsgNum"] = info.DelayMsgNum
	f["rewindmsgNum"] = info.RewindMsgNum // Python, C++
	f["rewindMsgNum"] = info.RewindMsgNum // Java, NETkiddy
	f["minMsgTime"] = unix(info.MinMsgTime)
	return f, nil
}

func (h *Handler) setQueueAttributes(ctx context.Context, p *params) (fields, error) {
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
	return settingFields(info), nil
}

func (h *Handler) deleteQueue(ctx context.Context, p *params) (fields, error) {
	name, err := p.required("queueName")
	if err != nil {
		return nil, err
	}
	return nil, h.b.DeleteQueue(ctx, name)
}

func (h *Handler) rewindQueue(ctx context.Context, p *params) (fields, error) {
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

func (h *Handler) unbindDeadLetterQueue(ctx context.Context, p *params) (fields, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	if err := q.UnbindDeadLetterQueue(ctx); err != nil {
		return nil, err
	}
	return fields{"queueId": q.ID()}, nil
}

// delay parses delaySeconds (default 0).
func delay(p *params) (time.Duration, error) {
	d, err := p.seconds("delaySeconds")
	if d == nil || err != nil {
		return 0, err
	}
	return *d, nil
}

func (h *Handler) sendMessage(ctx context.Context, p *params) (fields, error) {
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
	return fields{"msgId": id}, nil
}

func (h *Handler) batchSendMessage(ctx context.Context, p *params) (fields, error) {
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
	list := make([]fields, len(ids))
	for i, id := range ids {
		list[i] = fields{"msgId": id}
	}
	return fields{"msgList": list}, nil
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
		return 0, detail(errOutOfRangeFm, "pollingWaitSeconds")
	}
	return *d, nil
}

func messageFields(m cmq.Message) fields {
	return fields{
		"msgBody":          m.Body,
		"msgId":            m.ID,
		"receiptHandle":    m.ReceiptHandle,
		"enqueueTime":      unix(m.EnqueueTime),
		"firstDequeueTime": unix(m.FirstDequeueTime),
		"nextVisibleTime":  unix(m.NextVisibleTime),
		"dequeueCount":     m.DequeueCount,
	}
}

func (h *Handler) receiveMessage(ctx context.Context, p *params) (fields, error) {
	q, err := h.queue(p)
	if err != nil {
		return nil, err
	}
	w, err := wait(p)
	if err != nil {
		return nil, err
	}
	m, err := q.Receive(ctx, w)
	if err != nil {
		return nil, noMessageOnCancel(err)
	}
	return messageFields(m), nil
}

func (h *Handler) batchReceiveMessage(ctx context.Context, p *params) (fields, error) {
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
	ms, err := q.BatchReceive(ctx, clampInt(n), w)
	if err != nil {
		return nil, noMessageOnCancel(err)
	}
	list := make([]fields, len(ms))
	for i, m := range ms {
		list[i] = messageFields(m)
	}
	return fields{"msgInfoList": list}, nil
}

func (h *Handler) deleteMessage(ctx context.Context, p *params) (fields, error) {
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
func (h *Handler) batchDeleteMessage(ctx context.Context, p *params) (fields, error) {
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
	var list []fields
	for i, r := range results {
		if r != nil {
			e := cmq.AsError(r)
			if handles[i] == "" {
				e = errHandle
			}
			list = append(list, fields{"code": e.Code, "message": e.WireMessage(), "receiptHandle": handles[i]})
		}
	}
	if list == nil {
		return nil, err
	}
	return fields{"errorList": list}, err
}
