package cmqhttp

import (
	"context"

	"github.com/opencmq/cmq"
)

// The answers of the API, one type per action, as their JSON is written:
// the common fields of [Response] and the action's fields side by side at
// the top level. Times are Unix seconds (0 for none), durations whole
// seconds. DeleteQueue, RewindQueue and DeleteMessage, and every failure
// except a partial BatchDeleteMessage, answer a bare [Response]. Clients
// written in Go may decode answers into these types.

// Response holds the fields every answer has.
type Response struct {
	// Code is 0 on success, CMQ's error code otherwise.
	Code int `json:"code"`
	// Message is empty on success, "(module)text" otherwise.
	Message string `json:"message"`
	// RequestID is 32 hexadecimal digits, fresh for every request.
	RequestID string `json:"requestId"`
	// ClientRequestID echoes the request's clientRequestId, as TDMQ-CMQ
	// does: 0 when it is absent or not an unsigned integer.
	ClientRequestID uint64 `json:"clientRequestId"`
}

// answer is what an action returns: a response type that embeds Response.
type answer interface{ common() *Response }

func (r *Response) common() *Response { return r }

// CreateQueueResponse answers CreateQueue.
type CreateQueueResponse struct {
	Response
	QueueID string `json:"queueId"`
}

// QueueListItem is one queue of a list.
type QueueListItem struct {
	QueueID   string `json:"queueId"`
	QueueName string `json:"queueName"`
}

// ListQueueResponse answers ListQueue.
type ListQueueResponse struct {
	Response
	// TotalCount counts every queue that matches, not only those listed.
	TotalCount int             `json:"totalCount"`
	QueueList  []QueueListItem `json:"queueList"`
}

// ListDeadLetterSourceQueuesResponse answers ListDeadLetterSourceQueues.
type ListDeadLetterSourceQueuesResponse struct {
	Response
	TotalCount int             `json:"totalCount"`
	QueueList  []QueueListItem `json:"queueList"`
}

// QueueSettings are a queue's settable attributes.
type QueueSettings struct {
	QueueID             string `json:"queueId"`
	MaxMsgHeapNum       int    `json:"maxMsgHeapNum"`
	PollingWaitSeconds  int64  `json:"pollingWaitSeconds"`
	VisibilityTimeout   int64  `json:"visibilityTimeout"`
	MaxMsgSize          int    `json:"maxMsgSize"`
	MsgRetentionSeconds int64  `json:"msgRetentionSeconds"`
	RewindSeconds       int64  `json:"rewindSeconds"`
	// DeadLetterPolicy is the policy as CMQ's JSON text, absent when the
	// queue has none.
	DeadLetterPolicy string `json:"deadLetterPolicy,omitempty"`
}

// SetQueueAttributesResponse answers SetQueueAttributes with the settings
// in force afterwards.
type SetQueueAttributesResponse struct {
	Response
	QueueSettings
}

// GetQueueAttributesResponse answers GetQueueAttributes. The rewind count
// comes under both spellings the SDKs read.
type GetQueueAttributesResponse struct {
	Response
	QueueSettings
	QueueName      string `json:"queueName"`
	CreateTime     int64  `json:"createTime"`
	LastModifyTime int64  `json:"lastModifyTime"`
	ActiveMsgNum   int    `json:"activeMsgNum"`
	InactiveMsgNum int    `json:"inactiveMsgNum"`
	DelayMsgNum    int    `json:"delayMsgNum"`
	RewindmsgNum   int    `json:"rewindmsgNum"` // Python, C++
	RewindMsgNum   int    `json:"rewindMsgNum"` // Java, NETkiddy
	MinMsgTime     int64  `json:"minMsgTime"`
}

// UnbindDeadLetterQueueResponse answers UnbindDeadLetterQueue.
type UnbindDeadLetterQueueResponse struct {
	Response
	QueueID string `json:"queueId"`
}

// SendMessageResponse answers SendMessage.
type SendMessageResponse struct {
	Response
	MsgID string `json:"msgId"`
}

// SentMessage is one message of a batch send.
type SentMessage struct {
	MsgID string `json:"msgId"`
}

// BatchSendMessageResponse answers BatchSendMessage, ids in request order.
type BatchSendMessageResponse struct {
	Response
	MsgList []SentMessage `json:"msgList"`
}

// ReceivedMessage is one received message.
type ReceivedMessage struct {
	MsgBody          string `json:"msgBody"`
	MsgID            string `json:"msgId"`
	ReceiptHandle    string `json:"receiptHandle"`
	EnqueueTime      int64  `json:"enqueueTime"`
	FirstDequeueTime int64  `json:"firstDequeueTime"`
	NextVisibleTime  int64  `json:"nextVisibleTime"`
	DequeueCount     int    `json:"dequeueCount"`
}

// ReceiveMessageResponse answers ReceiveMessage.
type ReceiveMessageResponse struct {
	Response
	ReceivedMessage
	q *cmq.Queue // where the message came from, to give it back
}

// BatchReceiveMessageResponse answers BatchReceiveMessage.
type BatchReceiveMessageResponse struct {
	Response
	MsgInfoList []ReceivedMessage `json:"msgInfoList"`
	q           *cmq.Queue
}

// handOver is an answer that hands messages over: if it cannot be
// delivered, giveBack makes them visible again at once. maxSize bounds its
// JSON, so that its memory can be reserved before it is encoded.
type handOver interface {
	answer
	giveBack()
	maxSize() int64
}

func (r *ReceiveMessageResponse) maxSize() int64 {
	return answerOverhead + messageMaxSize(r.ReceivedMessage)
}

func (r *BatchReceiveMessageResponse) maxSize() int64 {
	n := int64(answerOverhead)
	for _, m := range r.MsgInfoList {
		n += messageMaxSize(m)
	}
	return n
}

// answerOverhead bounds the JSON of an answer's common fields, and
// messageOverhead that of a received message's fields other than its body.
const answerOverhead, messageOverhead = 512, 512

// messageMaxSize bounds the JSON of m: a byte below 0x20 takes at most 6
// bytes ("\u0001"), '"' and '\\' take 2, and U+2028 and U+2029 (which
// begin with 0xE2) take 6 instead of 3.
func messageMaxSize(m ReceivedMessage) int64 {
	n := int64(messageOverhead + len(m.MsgID) + len(m.ReceiptHandle))
	for i := 0; i < len(m.MsgBody); i++ {
		switch c := m.MsgBody[i]; {
		case c < 0x20:
			n += 6
		case c == '"' || c == '\\':
			n += 2
		case c == 0xE2:
			n += 4
		default:
			n++
		}
	}
	return n
}

func (r *ReceiveMessageResponse) giveBack() { giveBack(r.q, r.ReceivedMessage) }

func (r *BatchReceiveMessageResponse) giveBack() { giveBack(r.q, r.MsgInfoList...) }

// giveBack makes received messages visible again, as if their visibility
// timeout had ended; their dequeue count stays as the receive left it.
// A handle no longer valid (the message was deleted or received again) is
// skipped.
func giveBack(q *cmq.Queue, ms ...ReceivedMessage) {
	for _, m := range ms {
		_, _ = q.ChangeVisibility(context.Background(), m.ReceiptHandle, 0)
	}
}

// DeleteError is one failed handle of a batch delete.
type DeleteError struct {
	Code          int    `json:"code"`
	Message       string `json:"message"`
	ReceiptHandle string `json:"receiptHandle"`
}

// BatchDeleteMessageResponse answers BatchDeleteMessage: code 0, or 6010
// (some failed) or 6020 (all failed) with the failures in ErrorList.
type BatchDeleteMessageResponse struct {
	Response
	ErrorList []DeleteError `json:"errorList,omitempty"`
}
