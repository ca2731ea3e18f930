package cmqclient

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/opencmq/cmq"
)

// CreateQueue creates the queue name (CreateQueue). Only the attributes
// that are set are sent; durations go as whole seconds, rounded up.
func (c *Client) CreateQueue(ctx context.Context, name string, attrs cmq.QueueAttributes) (string, error) {
	if err := c.management("CreateQueue"); err != nil {
		return "", err
	}
	r, err := c.call(ctx, "CreateQueue", 0, attributeParams(name, attrs)...)
	if err != nil {
		return "", err
	}
	return r.QueueID, nil
}

// DeleteQueue deletes the queue name (DeleteQueue).
func (c *Client) DeleteQueue(ctx context.Context, name string) error {
	if err := c.management("DeleteQueue"); err != nil {
		return err
	}
	_, err := c.call(ctx, "DeleteQueue", 0, param{Name: "queueName", Value: name})
	return err
}

// ListQueues returns a page of queues and the number that match in all
// (ListQueue).
func (c *Client) ListQueues(ctx context.Context, o cmq.ListOptions) ([]cmq.QueueSummary, int, error) {
	if err := c.management("ListQueue"); err != nil {
		return nil, 0, err
	}
	r, err := c.call(ctx, "ListQueue", 0, listParams(o)...)
	if err != nil {
		return nil, 0, err
	}
	return summaries(r), int(r.TotalCount), nil
}

// ListDeadLetterSourceQueues returns a page of the queues whose
// dead-letter queue is dlq (ListDeadLetterSourceQueues).
func (c *Client) ListDeadLetterSourceQueues(ctx context.Context, dlq string, o cmq.ListOptions) ([]cmq.QueueSummary, int, error) {
	if err := c.management("ListDeadLetterSourceQueues"); err != nil {
		return nil, 0, err
	}
	ps := append([]param{{Name: "deadLetterQueueName", Value: dlq}}, listParams(o)...)
	r, err := c.call(ctx, "ListDeadLetterSourceQueues", 0, ps...)
	if err != nil {
		return nil, 0, err
	}
	return summaries(r), int(r.TotalCount), nil
}

// listParams sends searchWord, offset and limit when set; CMQ wants a
// limit with every offset, so an offset alone goes with its default, 20.
func listParams(o cmq.ListOptions) []param {
	var ps []param
	if o.Search != "" {
		ps = append(ps, param{Name: "searchWord", Value: o.Search})
	}
	if o.Offset != 0 {
		ps = append(ps, param{Name: "offset", Value: strconv.Itoa(o.Offset)})
		if o.Limit == 0 {
			o.Limit = 20
		}
	}
	if o.Limit != 0 {
		ps = append(ps, param{Name: "limit", Value: strconv.Itoa(o.Limit)})
	}
	return ps
}

func summaries(r *response) []cmq.QueueSummary {
	qs := make([]cmq.QueueSummary, len(r.QueueList))
	for i, q := range r.QueueList {
		qs[i] = cmq.QueueSummary{ID: q.QueueID, Name: q.QueueName}
	}
	return qs
}

// GetQueueAttributes returns the queue's attributes and counts
// (GetQueueAttributes). Durations and times are whole seconds; Name is the
// name asked for when the endpoint does not return one.
func (c *Client) GetQueueAttributes(ctx context.Context, name string) (cmq.QueueInfo, error) {
	if err := c.management("GetQueueAttributes"); err != nil {
		return cmq.QueueInfo{}, err
	}
	r, err := c.call(ctx, "GetQueueAttributes", 0, param{Name: "queueName", Value: name})
	if err != nil {
		return cmq.QueueInfo{}, err
	}
	info := cmq.QueueInfo{
		ID:                r.QueueID,
		Name:              cmp(r.QueueName, name),
		MaxMsgHeapNum:     int(r.MaxMsgHeapNum),
		PollingWait:       secs(r.PollingWaitSeconds),
		VisibilityTimeout: secs(r.VisibilityTimeout),
		MaxMsgSize:        int(r.MaxMsgSize),
		MsgRetention:      secs(r.MsgRetentionSeconds),
		RewindPeriod:      secs(r.RewindSeconds),
		CreateTime:        unixTime(r.CreateTime),
		LastModifyTime:    unixTime(r.LastModifyTime),
		ActiveMsgNum:      int(r.ActiveMsgNum),
		InactiveMsgNum:    int(r.InactiveMsgNum),
		DelayMsgNum:       int(r.DelayMsgNum),
		RewindMsgNum:      int(r.RewindMsgNum),
		MinMsgTime:        unixTime(r.MinMsgTime),
	}
	if info.DeadLetterPolicy, err = decodePolicy(r.DeadLetterPolicy); err != nil {
		return cmq.QueueInfo{}, fmt.Errorf("cmqclient: GetQueueAttributes: %w: deadLetterPolicy: %v", ErrBadResponse, err)
	}
	return info, nil
}

// SetQueueAttributes changes the attributes that are set
// (SetQueueAttributes); durations go as whole seconds, rounded up.
func (c *Client) SetQueueAttributes(ctx context.Context, name string, attrs cmq.QueueAttributes) error {
	if err := c.management("SetQueueAttributes"); err != nil {
		return err
	}
	_, err := c.call(ctx, "SetQueueAttributes", 0, attributeParams(name, attrs)...)
	return err
}

// RewindQueue rewinds the queue to start, sent in whole seconds
// (RewindQueue, startConsumeTime).
func (c *Client) RewindQueue(ctx context.Context, name string, start time.Time) error {
	if err := c.management("RewindQueue"); err != nil {
		return err
	}
	_, err := c.call(ctx, "RewindQueue", 0, param{Name: "queueName", Value: name},
		param{Name: "startConsumeTime", Value: strconv.FormatInt(start.Unix(), 10)})
	return err
}

// UnbindDeadLetterQueue removes the queue's dead-letter policy
// (UnbindDeadLetterQueue).
func (c *Client) UnbindDeadLetterQueue(ctx context.Context, name string) error {
	if err := c.management("UnbindDeadLetterQueue"); err != nil {
		return err
	}
	_, err := c.call(ctx, "UnbindDeadLetterQueue", 0, param{Name: "queueName", Value: name})
	return err
}

// SendMessage sends body, visible after delay (whole seconds, rounded up),
// and returns its id (SendMessage).
func (c *Client) SendMessage(ctx context.Context, queue, body string, delay time.Duration) (string, error) {
	r, err := c.call(ctx, "SendMessage", 0, param{Name: "queueName", Value: queue}, param{Name: "msgBody", Value: body},
		param{Name: "delaySeconds", Value: secondsText(delay)})
	if err != nil {
		return "", err
	}
	return r.MsgID, nil
}

// BatchSendMessage sends bodies and returns their ids in order
// (BatchSendMessage, msgBody.0, msgBody.1, …). An empty batch, which
// the wire cannot carry, is [cmq.ErrBatchSize] without a request.
func (c *Client) BatchSendMessage(ctx context.Context, queue string, bodies []string, delay time.Duration) ([]string, error) {
	if len(bodies) == 0 {
		return nil, emptyBatch(ctx)
	}
	ps := make([]param, 0, len(bodies)+2)
	ps = append(ps, param{Name: "queueName", Value: queue}, param{Name: "delaySeconds", Value: secondsText(delay)})
	ps = appendArray(ps, "msgBody", bodies)
	r, err := c.call(ctx, "BatchSendMessage", 0, ps...)
	if err != nil {
		return nil, err
	}
	if len(r.MsgList) != len(bodies) {
		return nil, fmt.Errorf("cmqclient: BatchSendMessage: %w: %d ids for %d messages (the messages were sent)", ErrBadResponse, len(r.MsgList), len(bodies))
	}
	ids := make([]string, len(r.MsgList))
	for i, m := range r.MsgList {
		ids[i] = m.MsgID
	}
	return ids, nil
}

// waitParams returns pollingWaitSeconds for wait (none for a negative
// wait: the queue's own) and the longest time the server may wait.
func (c *Client) waitParams(ps []param, wait time.Duration) ([]param, time.Duration) {
	if wait < 0 {
		return ps, c.c.QueueWait
	}
	return append(ps, param{Name: "pollingWaitSeconds", Value: secondsText(wait)}), time.Duration(seconds(wait)) * time.Second
}

// ReceiveMessage receives one message, waiting up to wait (whole seconds,
// rounded up; negative, such as [cmq.QueueWait], for the queue's wait)
// (ReceiveMessage). The request's deadline is the wait plus
// [Config].Timeout. Times in the message are whole seconds.
func (c *Client) ReceiveMessage(ctx context.Context, queue string, wait time.Duration) (cmq.Message, error) {
	ps, w := c.waitParams([]param{{Name: "queueName", Value: queue}}, wait)
	r, err := c.call(ctx, "ReceiveMessage", w, ps...)
	if err != nil {
		return cmq.Message{}, err
	}
	return r.message(), nil
}

// BatchReceiveMessage receives up to n messages, waiting as
// [Client.ReceiveMessage] does while none is visible
// (BatchReceiveMessage, numOfMsg).
func (c *Client) BatchReceiveMessage(ctx context.Context, queue string, n int, wait time.Duration) ([]cmq.Message, error) {
	ps, w := c.waitParams([]param{{Name: "queueName", Value: queue}, {Name: "numOfMsg", Value: strconv.Itoa(n)}}, wait)
	r, err := c.call(ctx, "BatchReceiveMessage", w, ps...)
	if err != nil {
		return nil, err
	}
	ms := make([]cmq.Message, len(r.MsgInfoList))
	for i := range r.MsgInfoList {
		ms[i] = r.MsgInfoList[i].message()
	}
	return ms, nil
}

// DeleteMessage deletes the message received with receiptHandle
// (DeleteMessage).
func (c *Client) DeleteMessage(ctx context.Context, queue, receiptHandle string) error {
	_, err := c.call(ctx, "DeleteMessage", 0, param{Name: "queueName", Value: queue}, param{Name: "receiptHandle", Value: receiptHandle})
	return err
}

// BatchDeleteMessage deletes the messages of receiptHandles
// (BatchDeleteMessage). As the broker's, it returns one error per handle
// (nil where the delete succeeded, from the response's errorList) with
// nil, [cmq.ErrBatchDeletePartial] or [cmq.ErrBatchDeleteFailed]; an error
// that fails the whole call comes with nil results. An empty batch is
// [cmq.ErrBatchSize] without a request.
func (c *Client) BatchDeleteMessage(ctx context.Context, queue string, receiptHandles []string) ([]error, error) {
	if len(receiptHandles) == 0 {
		return nil, emptyBatch(ctx)
	}
	ps := make([]param, 0, len(receiptHandles)+1)
	ps = append(ps, param{Name: "queueName", Value: queue})
	ps = appendArray(ps, "receiptHandle", receiptHandles)
	r, err := c.call(ctx, "BatchDeleteMessage", 0, ps...)
	if r == nil || err != nil && len(r.ErrorList) == 0 {
		return nil, err
	}
	results := make([]error, len(receiptHandles))
	for _, e := range r.ErrorList {
		// The first handle with this text that has no error yet: a handle
		// given twice is reported twice.
		for i, h := range receiptHandles {
			if h == e.ReceiptHandle && results[i] == nil {
				results[i] = wireError(int64(e.Code), e.Message)
				break
			}
		}
	}
	return results, err
}

// emptyBatch is the answer to an empty batch, which the wire cannot
// carry: [cmq.ErrBatchSize], as the broker answers, without a request (or
// ctx.Err() for a done ctx, as for any call).
func emptyBatch(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return cmq.ErrBatchSize
}

// appendArray appends name.0, name.1, … (CMQ accepts 0- and 1-based
// arrays; TDMQ's SDK sends 0-based ones).
func appendArray(ps []param, name string, vs []string) []param {
	for i, v := range vs {
		ps = append(ps, param{Name: name + "." + strconv.Itoa(i), Value: v})
	}
	return ps
}

// attributeParams encodes queueName and the attributes that are set, as
// cmqhttp parses them: durations in whole seconds (rounded up), the
// dead-letter policy as CMQ's JSON text.
func attributeParams(name string, a cmq.QueueAttributes) []param {
	ps := []param{{Name: "queueName", Value: name}}
	addInt := func(n string, v *int) {
		if v != nil {
			ps = append(ps, param{Name: n, Value: strconv.Itoa(*v)})
		}
	}
	addSecs := func(n string, d *time.Duration) {
		if d != nil {
			ps = append(ps, param{Name: n, Value: secondsText(*d)})
		}
	}
	addInt("maxMsgHeapNum", a.MaxMsgHeapNum)
	addSecs("pollingWaitSeconds", a.PollingWait)
	addSecs("visibilityTimeout", a.VisibilityTimeout)
	addInt("maxMsgSize", a.MaxMsgSize)
	addSecs("msgRetentionSeconds", a.MsgRetention)
	addSecs("rewindSeconds", a.RewindPeriod)
	if p := a.DeadLetterPolicy; p != nil {
		// A struct of a string and integers always marshals.
		b, _ := json.Marshal(wirePolicy{p.DeadLetterQueue, wireInt(p.Kind), wireInt(p.MaxReceiveCount), wireInt(seconds(p.MaxTimeToLive))})
		ps = append(ps, param{Name: "deadLetterPolicy", Value: string(b)})
	}
	return ps
}

// wirePolicy is CMQ's deadLetterPolicy JSON.
type wirePolicy struct {
	DeadLetterQueue string  `json:"deadLetterQueue"`
	Policy          wireInt `json:"policy"`
	MaxReceiveCount wireInt `json:"maxReceiveCount"`
	MaxTimeToLive   wireInt `json:"maxTimeToLive"`
}

// decodePolicy reads deadLetterPolicy: JSON text in a string (CMQ, cmqd)
// or an object; absent, null, "" or an object naming no queue is no policy.
func decodePolicy(raw json.RawMessage) (*cmq.DeadLetterPolicy, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if text == "" {
			return nil, nil
		}
		raw = json.RawMessage(text)
	}
	var w wirePolicy
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, err
	}
	if w.DeadLetterQueue == "" {
		return nil, nil
	}
	return &cmq.DeadLetterPolicy{
		DeadLetterQueue: w.DeadLetterQueue,
		Kind:            cmq.DeadLetterKind(w.Policy),
		MaxReceiveCount: int(w.MaxReceiveCount),
		MaxTimeToLive:   secs(w.MaxTimeToLive),
	}, nil
}

// secs maps whole seconds to a Duration.
func secs(s wireInt) time.Duration { return time.Duration(s) * time.Second }
