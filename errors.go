package cmq

import (
	"errors"
	"fmt"
)

// Error is the one error type of this package. It carries the numeric code
// and module code that Tencent CMQ returns for the same failure, so a
// frontend can answer exactly as CMQ does: HTTP 200 with
// {"code": Code, "message": "(Module)Message"}.
//
// Every error returned by this package is either one of the Err… sentinels
// below or an *Error with the same Code and Module and a more specific
// Message. [Error.Is] matches by Code and Module, so
//
//	errors.Is(err, cmq.ErrQueueNotExist)
//
// holds for both. Context errors (a context done when a call starts, or
// ending a long poll) are returned as they are (errors.Is(err,
// context.Canceled) holds); [AsError] maps them to a CMQ code for
// frontends.
type Error struct {
	// Code is CMQ's error code, e.g. 4440. It is never 0.
	Code int
	// Module is CMQ's module code, e.g. 10100. Codes are shared by many
	// failures; the module code tells them apart.
	Module int
	// Message is CMQ's English text, e.g. "queue is not existed, or deleted",
	// sometimes with a detail such as the name of the offending parameter.
	Message string

	cause error // what AsError wrapped; nil for this package's own errors
}

// Unwrap returns the error [AsError] wrapped, or nil.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.cause
}

// Error returns "cmq: <message> (code <Code>, module <Module>)".
func (e *Error) Error() string {
	if e == nil {
		return "cmq: <nil>"
	}
	return fmt.Sprintf("cmq: %s (code %d, module %d)", e.Message, e.Code, e.Module)
}

// WireMessage returns the message as CMQ puts it on the wire:
// "(<Module>)<Message>", e.g. "(10200)no message". A nil *Error gives
// "<nil>".
func (e *Error) WireMessage() string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("(%d)%s", e.Module, e.Message)
}

// Is reports whether target is an *Error with the same Code and Module.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code && t.Module == e.Module
}

// withMessage returns a copy of e whose message is text; it still matches e.
func (e *Error) withMessage(format string, args ...any) *Error {
	return &Error{Code: e.Code, Module: e.Module, Message: fmt.Sprintf(format, args...)}
}

// Sentinels, grouped by where they are returned. Each is an *Error; compare
// with errors.Is.
var (
	// ErrInvalidParameter (4000/10110): a parameter value is wrong in a way
	// no more specific error describes.
	ErrInvalidParameter = &Error{Code: 4000, Module: 10110, Message: "request parameters error"}
	// ErrOutOfRange (4000/10350): an integer or duration is outside its
	// range in [Limits], or a string is too long. The message names the
	// parameter by its CMQ name.
	ErrOutOfRange = &Error{Code: 4000, Module: 10350, Message: "parameter value or length is out of range"}
	// ErrBatchSize (4000/10370): a batch is empty or larger than
	// [Limits].BatchSize.
	ErrBatchSize = &Error{Code: 4000, Module: 10370, Message: "parameter batch size is out of range"}
	// ErrInternal (6000/10050): a failure that is not the caller's fault,
	// such as a context error mapped by [AsError].
	ErrInternal = &Error{Code: 6000, Module: 10050, Message: "server internal error"}
	// ErrClosed (6000/10051): the Broker was closed. Every call after
	// [Broker.Close], and every long poll waiting when it was called,
	// returns it. CMQ has no such state; the module code is this package's.
	ErrClosed = &Error{Code: 6000, Module: 10051, Message: "broker is closed"}
	// ErrJournal (6000/10052): a durable broker could not open, read or
	// write its log (see [Open]). Once a write or sync has failed, every
	// later call returns it, wrapping the cause. CMQ has no such state;
	// the module code is this package's.
	ErrJournal = &Error{Code: 6000, Module: 10052, Message: "journal failed"}
)

// Queue management errors.
var (
	// ErrQueueNameFormat (4000/10020): a queue name is not 1 to
	// [Limits].QueueNameLength characters, a letter first, then letters,
	// digits or '-'.
	ErrQueueNameFormat = &Error{Code: 4000, Module: 10020, Message: "queue name format error"}
	// ErrQueueNotExist (4440/10100): no queue has that name, or the *Queue
	// was deleted.
	ErrQueueNotExist = &Error{Code: 4440, Module: 10100, Message: "queue is not existed, or deleted"}
	// ErrQueueExists (4460/4460): a queue with that name, compared
	// case-insensitively, already exists.
	ErrQueueExists = &Error{Code: 4460, Module: 4460, Message: "queue is already existed,case insensitive"}
	// ErrQueueLimit (4450/10220): the broker holds [Limits].Queues queues.
	ErrQueueLimit = &Error{Code: 4450, Module: 10220, Message: "number of queues has reached the limit"}
)

// Message errors.
var (
	// ErrEmptyMessage (4000/10120): a message body is empty.
	ErrEmptyMessage = &Error{Code: 4000, Module: 10120, Message: "message body can't be empty"}
	// ErrMessageTooLarge (4400/10230): a body is longer than the queue's
	// MaxMsgSize, in bytes.
	ErrMessageTooLarge = &Error{Code: 4400, Module: 10230, Message: "exceed maximum message size"}
	// ErrHeapFull (4410/10240): the queue retains MaxMsgHeapNum messages.
	ErrHeapFull = &Error{Code: 4410, Module: 10240, Message: "reach maximum retention number of message"}
	// ErrMemoryFull (4410/10053): the send would take the bytes the
	// broker's queues retain above [Limits].MemoryBytes. Nothing was sent;
	// retry once consumers have deleted messages. The code is that of
	// [ErrHeapFull] (a full store); CMQ has no broker-wide budget, so the
	// module code is this package's.
	ErrMemoryFull = &Error{Code: 4410, Module: 10053, Message: "broker memory budget is full"}
	// ErrThrottled (4420/10250): the queue's send, receive or delete token
	// bucket has fewer tokens than the call costs. Nothing was done.
	ErrThrottled = &Error{Code: 4420, Module: 10250, Message: "qps throttling"}
	// ErrInvalidReceiptHandle (4430/10260): the handle is malformed, belongs
	// to another queue or message, is not from the latest receive, or the
	// message's next visible time has passed.
	ErrInvalidReceiptHandle = &Error{Code: 4430, Module: 10260, Message: "receipt handle is invalid"}
	// ErrBatchTooLarge (4470/10300): the bodies of a batch add up to more
	// than [Limits].BatchBytes.
	ErrBatchTooLarge = &Error{Code: 4470, Module: 10300, Message: "total message size exceed 1MB"}
	// ErrBatchDeletePartial (6010/10150): some handles of a batch delete
	// failed; the per-handle errors say which.
	ErrBatchDeletePartial = &Error{Code: 6010, Module: 10150, Message: "delete message partially failed"}
	// ErrBatchDeleteFailed (6020/10290): every handle of a batch delete
	// failed.
	ErrBatchDeleteFailed = &Error{Code: 6020, Module: 10290, Message: "batch delete message failed"}
	// ErrNoMessage (7000/10200): nothing was visible when the receive's wait
	// ended. CMQ reports an empty queue this way; it is not a fault.
	ErrNoMessage = &Error{Code: 7000, Module: 10200, Message: "no message"}
)

// Rewind errors.
var (
	// ErrRewindDisabled (6050/10670): RewindQueue on a queue whose
	// RewindPeriod is 0.
	ErrRewindDisabled = &Error{Code: 6050, Module: 10670, Message: "your queue cannot be rewinded"}
	// ErrRewindTime (4000/10680): the rewind start is outside
	// [now - RewindPeriod, now].
	ErrRewindTime = &Error{Code: 4000, Module: 10680, Message: "invalid rewind time, you can get the vaild range of that via GetQueueAttributes"}
	// ErrRewindPeriod (4000/10700): RewindPeriod is longer than
	// MsgRetention.
	ErrRewindPeriod = &Error{Code: 4000, Module: 10700, Message: "rewindSeconds cannot be greater than msgRetentionSeconds"}
)

// Dead-letter errors.
var (
	// ErrDeadLetterPolicy (4000/10720): a [DeadLetterPolicy] field is out of
	// range (maxReceiveCount, maxTimeToLive).
	ErrDeadLetterPolicy = &Error{Code: 4000, Module: 10720, Message: "deadLetterPolicy params error,please check it"}
	// ErrDeadLetterQueueNotExist (4000/10730): the policy names a queue that
	// does not exist, or UnbindDeadLetterQueue on a queue that has no
	// dead-letter queue.
	ErrDeadLetterQueueNotExist = &Error{Code: 4000, Module: 10730, Message: "deadLetter queue not exist"}
	// ErrDeadLetterNested (4000/10740): the dead-letter queue has a
	// dead-letter queue of its own, the queue serves as a dead-letter queue
	// itself, or a queue names itself.
	ErrDeadLetterNested = &Error{Code: 4000, Module: 10740, Message: "deadLetter queue is not allowed to nest"}
	// ErrDeadLetterQueueInUse (4000/10750): DeleteQueue on a queue that
	// serves as a dead-letter queue.
	ErrDeadLetterQueueInUse = &Error{Code: 4000, Module: 10750, Message: "it is not allowed to be deleted when the queue is dead letter queue"}
	// ErrDeadLetterMissingQueue (4000/10760): the policy has no
	// dead-letter queue name.
	ErrDeadLetterMissingQueue = &Error{Code: 4000, Module: 10760, Message: "the deadLetterPolicy must has deadLetterQueue member, only be a string"}
	// ErrDeadLetterPolicyKind (4000/10770): the policy is neither 0 nor 1.
	ErrDeadLetterPolicyKind = &Error{Code: 4000, Module: 10770, Message: "the deadLetterPolicy must has policy member , only set 0 or 1"}
	// ErrDeadLetterTooManySources (4000/10780): the dead-letter queue
	// already serves [Limits].DeadLetterSources queues.
	ErrDeadLetterTooManySources = &Error{Code: 4000, Module: 10780, Message: "the deadLetter Queue bind too many times"}
)

// Topic and subscription errors. CMQ reuses module codes across its
// modules: [ErrMsgTagLimit] has the code and module of [ErrDeadLetterPolicy]
// and [ErrBindingKeyLimit] those of [ErrRewindTime], so errors.Is cannot
// tell those pairs apart (neither can a client reading the wire); the
// action that failed does.
var (
	// ErrTopicNameFormat (4000/10590): a topic name is not 1 to
	// [Limits].QueueNameLength characters, a letter first, then letters,
	// digits or '-'.
	ErrTopicNameFormat = &Error{Code: 4000, Module: 10590, Message: "topic name format error"}
	// ErrTopicNotExist (4440/10600): no topic has that name, or the *Topic
	// was deleted.
	ErrTopicNotExist = &Error{Code: 4440, Module: 10600, Message: "topic is not existed, or deleted"}
	// ErrTopicExists (4460/10601): a topic with that name, compared
	// case-insensitively, already exists. CMQ documents no code for it;
	// this package uses the queue's code and a module of its own.
	ErrTopicExists = &Error{Code: 4460, Module: 10601, Message: "topic is already existed,case insensitive"}
	// ErrTopicLimit (4450/10610): the broker holds [Limits].Topics topics.
	ErrTopicLimit = &Error{Code: 4450, Module: 10610, Message: "number of topics has reached the limit"}
	// ErrTopicHasSubscriptions (4000/10540): DeleteTopic on a topic that
	// still has subscriptions.
	ErrTopicHasSubscriptions = &Error{Code: 4000, Module: 10540, Message: "there exists subscriptions under this topic, please unsubscribe all of them before DeleteTopic"}
	// ErrSubscriptionNameFormat (4000/10620): a subscription name breaks
	// the naming rules of queues.
	ErrSubscriptionNameFormat = &Error{Code: 4000, Module: 10620, Message: "subscription name format error"}
	// ErrSubscriptionNotExist (4000/10560): the topic has no subscription
	// of that name, or the *Subscription was deleted.
	ErrSubscriptionNotExist = &Error{Code: 4000, Module: 10560, Message: "subscription is not existed"}
	// ErrSubscriptionExists (4490/10470): the topic has a subscription of
	// that name, compared case-insensitively.
	ErrSubscriptionExists = &Error{Code: 4490, Module: 10470, Message: "subscribtion is already existed"}
	// ErrSubscriptionLimit (4500/10480): the topic holds
	// [Limits].Subscriptions subscriptions.
	ErrSubscriptionLimit = &Error{Code: 4500, Module: 10480, Message: "number of subscription has reached the limit"}
	// ErrFilterTagLimit (4000/10490): more than [Limits].Tags filter tags.
	ErrFilterTagLimit = &Error{Code: 4000, Module: 10490, Message: "number of filterTag exceed limit"}
	// ErrEndpointFormat (4000/10500): an HTTP endpoint is not an http://
	// or https:// URL with a host, or a queue endpoint is not a queue name.
	ErrEndpointFormat = &Error{Code: 4000, Module: 10500, Message: "endpoint format error"}
	// ErrEndpointBlank (4510/10570): an HTTP endpoint contains a blank.
	ErrEndpointBlank = &Error{Code: 4510, Module: 10570, Message: "url connot contain any blank characters"}
	// ErrProtocol (4000/10510): the protocol is neither "http" nor "queue".
	ErrProtocol = &Error{Code: 4000, Module: 10510, Message: "undefined protocol"}
	// ErrNotifyStrategy (4000/10520): the strategy is neither
	// BACKOFF_RETRY nor EXPONENTIAL_DECAY_RETRY.
	ErrNotifyStrategy = &Error{Code: 4000, Module: 10520, Message: "undefined notify retry stragety"}
	// ErrContentFormat (4000/10530): the format is neither JSON nor
	// SIMPLIFIED.
	ErrContentFormat = &Error{Code: 4000, Module: 10530, Message: "undefined notify content format"}
	// ErrQueueContentFormat (4000/10640): a queue subscription asks for
	// the JSON format.
	ErrQueueContentFormat = &Error{Code: 4000, Module: 10640, Message: "notifyContentFormat of protocol queue must be SIMPLIFIED"}
	// ErrBindingKeyLimit (4000/10680): more than [Limits].BindingKeys
	// binding keys.
	ErrBindingKeyLimit = &Error{Code: 4000, Module: 10680, Message: "too many bindingKey"}
	// ErrBindingKeyMissing (4000/10710): a subscription to a topic that
	// filters by routing key has no binding key.
	ErrBindingKeyMissing = &Error{Code: 4000, Module: 10710, Message: "parameters lack of bindingKey"}
	// ErrDelimiters (4000/10691): a routing or binding key has more than
	// [Limits].RoutingKeyDots dots.
	ErrDelimiters = &Error{Code: 4000, Module: 10691, Message: "too many delimeters"}
	// ErrMsgTagLimit (4000/10720): a publish has more than [Limits].Tags
	// message tags.
	ErrMsgTagLimit = &Error{Code: 4000, Module: 10720, Message: "too many msgTag"}
	// ErrNoSubscription (6030/10650): a publish to a topic without
	// subscriptions. Nothing was published.
	ErrNoSubscription = &Error{Code: 6030, Module: 10650, Message: "topic has no subscription, please create a subscription before publishing message"}
	// ErrNoMatch (6030/10730): no subscription's filter matched the
	// message. Nothing was published.
	ErrNoMatch = &Error{Code: 6030, Module: 10730, Message: "no bindingKey or filterTag matches the routingKey or msgTag"}
)

// AsError returns err as an *Error, for frontends that must answer with a
// CMQ code: an *Error in err's chain is returned as it is; any other error,
// context.Canceled and context.DeadlineExceeded included, becomes
// [ErrInternal] with err's text, wrapping err (errors.Is(AsError(err), err)
// holds). AsError(nil) is nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	e = ErrInternal.withMessage("%s: %v", ErrInternal.Message, err)
	e.cause = err
	return e
}

// outOfRange returns ErrOutOfRange naming the CMQ parameter.
func outOfRange(param string) *Error {
	return ErrOutOfRange.withMessage("parameter %s value or length is out of range", param)
}
