package cmqclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opencmq/cmq"
)

// wireInt is an integer given as a JSON number or as a string holding one
// (CMQ's generic examples show "code": "0").
type wireInt int64

func (n *wireInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %.40s", string(b))
	}
	*n = wireInt(v)
	return nil
}

// wireMessage is one received message on the wire.
type wireMessage struct {
	MsgID            string  `json:"msgId"`
	MsgBody          string  `json:"msgBody"`
	ReceiptHandle    string  `json:"receiptHandle"`
	EnqueueTime      wireInt `json:"enqueueTime"`
	FirstDequeueTime wireInt `json:"firstDequeueTime"`
	NextVisibleTime  wireInt `json:"nextVisibleTime"`
	DequeueCount     wireInt `json:"dequeueCount"`
}

func (m *wireMessage) message() cmq.Message {
	return cmq.Message{
		ID:               m.MsgID,
		Body:             m.MsgBody,
		ReceiptHandle:    m.ReceiptHandle,
		EnqueueTime:      unixTime(m.EnqueueTime),
		FirstDequeueTime: unixTime(m.FirstDequeueTime),
		NextVisibleTime:  unixTime(m.NextVisibleTime),
		DequeueCount:     int(m.DequeueCount),
	}
}

type wireQueue struct {
	QueueID   string `json:"queueId"`
	QueueName string `json:"queueName"`
}

type wireItemError struct {
	Code          wireInt `json:"code"`
	Message       string  `json:"message"`
	ReceiptHandle string  `json:"receiptHandle"`
}

// response holds every field any queue action answers with. JSON keys
// match case-insensitively, so "Message" (TDMQ) and "message" (CMQ), and
// "rewindmsgNum" and "rewindMsgNum", land in the same field.
type response struct {
	Code      *wireInt `json:"code"`
	Message   string   `json:"message"`
	RequestID string   `json:"requestId"`

	QueueID    string      `json:"queueId"`
	QueueName  string      `json:"queueName"`
	TotalCount wireInt     `json:"totalCount"`
	QueueList  []wireQueue `json:"queueList"`

	MsgID   string `json:"msgId"`
	MsgList []struct {
		MsgID string `json:"msgId"`
	} `json:"msgList"`

	// ReceiveMessage's fields (msgId is above).
	MsgBody          string  `json:"msgBody"`
	ReceiptHandle    string  `json:"receiptHandle"`
	EnqueueTime      wireInt `json:"enqueueTime"`
	FirstDequeueTime wireInt `json:"firstDequeueTime"`
	NextVisibleTime  wireInt `json:"nextVisibleTime"`
	DequeueCount     wireInt `json:"dequeueCount"`

	MsgInfoList []wireMessage   `json:"msgInfoList"`
	ErrorList   []wireItemError `json:"errorList"`

	// GetQueueAttributes.
	MaxMsgHeapNum       wireInt         `json:"maxMsgHeapNum"`
	PollingWaitSeconds  wireInt         `json:"pollingWaitSeconds"`
	VisibilityTimeout   wireInt         `json:"visibilityTimeout"`
	MaxMsgSize          wireInt         `json:"maxMsgSize"`
	MsgRetentionSeconds wireInt         `json:"msgRetentionSeconds"`
	RewindSeconds       wireInt         `json:"rewindSeconds"`
	CreateTime          wireInt         `json:"createTime"`
	LastModifyTime      wireInt         `json:"lastModifyTime"`
	ActiveMsgNum        wireInt         `json:"activeMsgNum"`
	InactiveMsgNum      wireInt         `json:"inactiveMsgNum"`
	DelayMsgNum         wireInt         `json:"delayMsgNum"`
	RewindMsgNum        wireInt         `json:"rewindMsgNum"`
	MinMsgTime          wireInt         `json:"minMsgTime"`
	DeadLetterPolicy    json.RawMessage `json:"deadLetterPolicy"`
}

func (r *response) message() cmq.Message {
	m := wireMessage{r.MsgID, r.MsgBody, r.ReceiptHandle, r.EnqueueTime, r.FirstDequeueTime, r.NextVisibleTime, r.DequeueCount}
	return m.message()
}

// decode parses a response body. A body that is not a JSON object with a
// code is not a CMQ answer: [ErrBadResponse].
func decode(body []byte) (*response, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %v: %s", ErrBadResponse, err, excerpt(body))
	}
	if r.Code == nil {
		return nil, fmt.Errorf("%w: no code: %s", ErrBadResponse, excerpt(body))
	}
	return &r, nil
}

// excerpt quotes the start of a body for an error message.
func excerpt(b []byte) string {
	const n = 64
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "…"
	}
	return strconv.Quote(string(b))
}

// unixTime maps Unix seconds to a time, 0 to the zero Time.
func unixTime(s wireInt) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0)
}

// seconds returns d in whole seconds, rounded away from zero: a wait, a
// delay or a timeout is never shortened, and a negative duration stays
// negative (the server refuses it as the broker would).
func seconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	switch r := d % time.Second; {
	case r > 0:
		s++
	case r < 0:
		s--
	}
	return s
}

func secondsText(d time.Duration) string { return strconv.FormatInt(seconds(d), 10) }

// sentinels are package cmq's errors, for mapping a wire code back to a
// module when the wire message does not carry one.
var sentinels = []*cmq.Error{
	cmq.ErrInvalidParameter, cmq.ErrOutOfRange, cmq.ErrBatchSize, cmq.ErrInternal, cmq.ErrClosed, cmq.ErrJournal,
	cmq.ErrQueueNameFormat, cmq.ErrQueueNotExist, cmq.ErrQueueExists, cmq.ErrQueueLimit,
	cmq.ErrEmptyMessage, cmq.ErrMessageTooLarge, cmq.ErrHeapFull, cmq.ErrThrottled,
	cmq.ErrInvalidReceiptHandle, cmq.ErrBatchTooLarge, cmq.ErrBatchDeletePartial,
	cmq.ErrBatchDeleteFailed, cmq.ErrNoMessage,
	cmq.ErrRewindDisabled, cmq.ErrRewindTime, cmq.ErrRewindPeriod,
	cmq.ErrDeadLetterPolicy, cmq.ErrDeadLetterQueueNotExist, cmq.ErrDeadLetterNested,
	cmq.ErrDeadLetterQueueInUse, cmq.ErrDeadLetterMissingQueue, cmq.ErrDeadLetterPolicyKind,
	cmq.ErrDeadLetterTooManySources,
}

// wireError maps a code and a wire message "(<module>)<text>" to a
// *cmq.Error. When the message has no module and exactly one of package
// cmq's sentinels has the code, its module is used, so that
// errors.Is(err, cmq.ErrNoMessage) holds for "no message" with code 7000
// too. The sentinel itself is returned when the text is its own.
func wireError(code int64, msg string) *cmq.Error {
	module, text := 0, msg
	if strings.HasPrefix(msg, "(") {
		if i := strings.IndexByte(msg, ')'); i > 1 {
			if m, err := strconv.Atoi(msg[1:i]); err == nil {
				module, text = m, msg[i+1:]
			}
		}
	}
	var only *cmq.Error
	for _, s := range sentinels {
		if int64(s.Code) != code || module != 0 && s.Module != module {
			continue
		}
		if module != 0 {
			only = s
			break
		}
		if only != nil { // the code alone is ambiguous
			only = nil
			break
		}
		only = s
	}
	if only != nil {
		if text == only.Message || text == "" {
			return only
		}
		module = only.Module
	}
	if text == "" {
		text = "error code " + strconv.FormatInt(code, 10)
	}
	return &cmq.Error{Code: int(code), Module: module, Message: text}
}

// Sentinels of this package; compare with errors.Is.
var (
	// ErrUnsupported: the endpoint has no such action (a management action
	// on TDMQ-CMQ's data-flow endpoint). The error names the action. No
	// request was sent. It also matches errors.ErrUnsupported, so code
	// written against cmq.Service need not import this package to test
	// for it.
	ErrUnsupported error = unsupportedError{}
	// ErrBadResponse: the endpoint answered with something that is not a
	// CMQ response (not JSON, no code, a field of the wrong type, a
	// truncated or oversized body). The action may have taken effect.
	ErrBadResponse = errors.New("not a CMQ response")
)

type unsupportedError struct{}

func (unsupportedError) Error() string { return "action not supported by this endpoint" }

func (unsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }
