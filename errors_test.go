package cmq_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- Errors: sentinels, codes, wire messages, AsError. ---

// sentinels lists every exported sentinel of errors.go with CMQ's code and
// module. TestSentinelTableComplete keeps it complete.
var sentinels = []struct {
	name         string
	err          *cmq.Error
	code, module int
}{
	{"ErrInvalidParameter", cmq.ErrInvalidParameter, 4000, 10110},
	{"ErrOutOfRange", cmq.ErrOutOfRange, 4000, 10350},
	{"ErrBatchSize", cmq.ErrBatchSize, 4000, 10370},
	{"ErrInternal", cmq.ErrInternal, 6000, 10050},
	{"ErrClosed", cmq.ErrClosed, 6000, 10051},
	{"ErrJournal", cmq.ErrJournal, 6000, 10052},
	{"ErrQueueNameFormat", cmq.ErrQueueNameFormat, 4000, 10020},
	{"ErrQueueNotExist", cmq.ErrQueueNotExist, 4440, 10100},
	{"ErrQueueExists", cmq.ErrQueueExists, 4460, 4460},
	{"ErrQueueLimit", cmq.ErrQueueLimit, 4450, 10220},
	{"ErrEmptyMessage", cmq.ErrEmptyMessage, 4000, 10120},
	{"ErrMessageTooLarge", cmq.ErrMessageTooLarge, 4400, 10230},
	{"ErrHeapFull", cmq.ErrHeapFull, 4410, 10240},
	{"ErrMemoryFull", cmq.ErrMemoryFull, 4410, 10053},
	{"ErrThrottled", cmq.ErrThrottled, 4420, 10250},
	{"ErrInvalidReceiptHandle", cmq.ErrInvalidReceiptHandle, 4430, 10260},
	{"ErrBatchTooLarge", cmq.ErrBatchTooLarge, 4470, 10300},
	{"ErrBatchDeletePartial", cmq.ErrBatchDeletePartial, 6010, 10150},
	{"ErrBatchDeleteFailed", cmq.ErrBatchDeleteFailed, 6020, 10290},
	{"ErrNoMessage", cmq.ErrNoMessage, 7000, 10200},
	{"ErrRewindDisabled", cmq.ErrRewindDisabled, 6050, 10670},
	{"ErrRewindTime", cmq.ErrRewindTime, 4000, 10680},
	{"ErrRewindPeriod", cmq.ErrRewindPeriod, 4000, 10700},
	{"ErrDeadLetterPolicy", cmq.ErrDeadLetterPolicy, 4000, 10720},
	{"ErrDeadLetterQueueNotExist", cmq.ErrDeadLetterQueueNotExist, 4000, 10730},
	{"ErrDeadLetterNested", cmq.ErrDeadLetterNested, 4000, 10740},
	{"ErrDeadLetterQueueInUse", cmq.ErrDeadLetterQueueInUse, 4000, 10750},
	{"ErrDeadLetterMissingQueue", cmq.ErrDeadLetterMissingQueue, 4000, 10760},
	{"ErrDeadLetterPolicyKind", cmq.ErrDeadLetterPolicyKind, 4000, 10770},
	{"ErrDeadLetterTooManySources", cmq.ErrDeadLetterTooManySources, 4000, 10780},
	{"ErrTopicNameFormat", cmq.ErrTopicNameFormat, 4000, 10590},
	{"ErrTopicNotExist", cmq.ErrTopicNotExist, 4440, 10600},
	{"ErrTopicExists", cmq.ErrTopicExists, 4460, 10601},
	{"ErrTopicLimit", cmq.ErrTopicLimit, 4450, 10610},
	{"ErrTopicHasSubscriptions", cmq.ErrTopicHasSubscriptions, 4000, 10540},
	{"ErrSubscriptionNameFormat", cmq.ErrSubscriptionNameFormat, 4000, 10620},
	{"ErrSubscriptionNotExist", cmq.ErrSubscriptionNotExist, 4000, 10560},
	{"ErrSubscriptionExists", cmq.ErrSubscriptionExists, 4490, 10470},
	{"ErrSubscriptionLimit", cmq.ErrSubscriptionLimit, 4500, 10480},
	{"ErrFilterTagLimit", cmq.ErrFilterTagLimit, 4000, 10490},
	{"ErrEndpointFormat", cmq.ErrEndpointFormat, 4000, 10500},
	{"ErrEndpointBlank", cmq.ErrEndpointBlank, 4510, 10570},
	{"ErrProtocol", cmq.ErrProtocol, 4000, 10510},
	{"ErrNotifyStrategy", cmq.ErrNotifyStrategy, 4000, 10520},
	{"ErrContentFormat", cmq.ErrContentFormat, 4000, 10530},
	{"ErrQueueContentFormat", cmq.ErrQueueContentFormat, 4000, 10640},
	{"ErrBindingKeyLimit", cmq.ErrBindingKeyLimit, 4000, 10680},
	{"ErrBindingKeyMissing", cmq.ErrBindingKeyMissing, 4000, 10710},
	{"ErrDelimiters", cmq.ErrDelimiters, 4000, 10691},
	{"ErrMsgTagLimit", cmq.ErrMsgTagLimit, 4000, 10720},
	{"ErrNoSubscription", cmq.ErrNoSubscription, 6030, 10650},
	{"ErrNoMatch", cmq.ErrNoMatch, 6030, 10730},
}

// sameWire lists the pairs of sentinels to which CMQ gives the same code
// and module; errors.Is cannot tell them apart.
var sameWire = map[[2]string]bool{
	{"ErrMsgTagLimit", "ErrDeadLetterPolicy"}: true,
	{"ErrDeadLetterPolicy", "ErrMsgTagLimit"}: true,
	{"ErrBindingKeyLimit", "ErrRewindTime"}:   true,
	{"ErrRewindTime", "ErrBindingKeyLimit"}:   true,
}

// TestSentinelTableComplete parses errors.go and checks that the table
// above names every exported Err… variable there, and nothing else.
func TestSentinelTableComplete(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	require.NoError(t, err)
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if n.IsExported() && strings.HasPrefix(n.Name, "Err") {
					declared = append(declared, n.Name)
				}
			}
		}
	}
	var listed []string
	for _, s := range sentinels {
		listed = append(listed, s.name)
	}
	slices.Sort(declared)
	slices.Sort(listed)
	require.NotEmpty(t, declared)
	assert.Equal(t, declared, listed)
}

func TestSentinels(t *testing.T) {
	for _, s := range sentinels {
		t.Run(s.name, func(t *testing.T) {
			e := s.err
			require.NotNil(t, e)
			assert.Equal(t, s.code, e.Code)
			assert.Equal(t, s.module, e.Module)
			assert.NotEmpty(t, e.Message)
			assert.Equal(t, strings.TrimSpace(e.Message), e.Message)
			assert.Equal(t, fmt.Sprintf("cmq: %s (code %d, module %d)", e.Message, s.code, s.module), e.Error())
			assert.Equal(t, fmt.Sprintf("(%d)%s", s.module, e.Message), e.WireMessage())

			// errors.Is: a copy with another message, wrapped; not another code.
			assert.NotErrorIs(t, e, &cmq.Error{Code: e.Code + 1, Module: e.Module, Message: e.Message})
			cp := &cmq.Error{Code: e.Code, Module: e.Module, Message: "something more specific"}
			assert.ErrorIs(t, cp, e)
			assert.ErrorIs(t, e, cp)
			assert.ErrorIs(t, fmt.Errorf("op: %w", cp), e)
			assert.NotErrorIs(t, &cmq.Error{Code: e.Code, Module: e.Module + 1, Message: e.Message}, e, "same code, other module")
			assert.NotErrorIs(t, &cmq.Error{Code: e.Code + 1, Module: e.Module, Message: e.Message}, e, "same module, other code")
			assert.NotErrorIs(t, errors.New(e.Error()), e, "the same text is not the same error")
			for _, o := range sentinels {
				switch {
				case o.name == s.name:
				case sameWire[[2]string{s.name, o.name}]:
					assert.ErrorIs(t, e, o.err, o.name)
				default:
					assert.NotErrorIs(t, e, o.err, o.name)
				}
			}
		})
	}
}

func TestErrorWireMessageExamples(t *testing.T) {
	assert.Equal(t, "(10200)no message", cmq.ErrNoMessage.WireMessage())
	assert.Equal(t, "(10100)queue is not existed, or deleted", cmq.ErrQueueNotExist.WireMessage())
	assert.Equal(t, "(4460)queue is already existed,case insensitive", cmq.ErrQueueExists.WireMessage())
	assert.Equal(t, "cmq: no message (code 7000, module 10200)", cmq.ErrNoMessage.Error())
}

// TestErrorsFromRealFailures checks that errors with a more specific
// message still match their sentinel and no other.
func TestErrorsFromRealFailures(t *testing.T) {
	b := newBroker(t)
	_, err := b.CreateQueue(t.Context(), "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Duration(0))})
	require.Error(t, err)
	var e *cmq.Error
	require.ErrorAs(t, err, &e)
	assert.NotSame(t, cmq.ErrOutOfRange, e)
	assert.NotEqual(t, cmq.ErrOutOfRange.Message, e.Message, "the message names the parameter")
	assert.Contains(t, e.Message, "visibilityTimeout")
	assert.ErrorIs(t, err, cmq.ErrOutOfRange)
	assert.ErrorIs(t, fmt.Errorf("create: %w", err), cmq.ErrOutOfRange)
	assert.NotErrorIs(t, err, cmq.ErrBatchSize, "same code 4000, other module")
	assert.NotErrorIs(t, err, cmq.ErrQueueNameFormat)
	assert.Equal(t, "(10350)parameter visibilityTimeout value or length is out of range", e.WireMessage())

	_, err = b.CreateQueue(t.Context(), "q", cmq.QueueAttributes{DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", MaxReceiveCount: 0}})
	assert.ErrorIs(t, err, cmq.ErrDeadLetterPolicy)
	assert.NotErrorIs(t, err, cmq.ErrOutOfRange)
}

func TestAsError(t *testing.T) {
	assert.Nil(t, cmq.AsError(nil))

	// An *Error comes back as it is, also from inside a chain.
	assert.Same(t, cmq.ErrNoMessage, cmq.AsError(cmq.ErrNoMessage))
	specific := &cmq.Error{Code: 4000, Module: 10350, Message: "parameter delaySeconds value or length is out of range"}
	assert.Same(t, specific, cmq.AsError(specific))
	wrapped := fmt.Errorf("receive: %w", cmq.ErrQueueNotExist)
	assert.Same(t, cmq.ErrQueueNotExist, cmq.AsError(wrapped))
	twice := fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", specific))
	assert.Same(t, specific, cmq.AsError(twice))
	joined := errors.Join(errors.New("first"), cmq.ErrThrottled)
	assert.Same(t, cmq.ErrThrottled, cmq.AsError(joined))

	// Any other error becomes ErrInternal with its text.
	tests := []struct {
		name string
		err  error
	}{
		{"context.Canceled", context.Canceled},
		{"context.DeadlineExceeded", context.DeadlineExceeded},
		{"wrapped context error", fmt.Errorf("wait: %w", context.Canceled)},
		{"plain error", errors.New("disk on fire")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cmq.AsError(tt.err)
			require.NotNil(t, e)
			assert.Equal(t, 6000, e.Code)
			assert.Equal(t, 10050, e.Module)
			assert.Equal(t, "server internal error: "+tt.err.Error(), e.Message)
			assert.ErrorIs(t, e, cmq.ErrInternal)
			assert.NotErrorIs(t, e, cmq.ErrClosed)
			assert.Equal(t, "(10050)server internal error: "+tt.err.Error(), e.WireMessage())
			assert.ErrorIs(t, e, tt.err, "the cause is kept")
			assert.Equal(t, tt.err, errors.Unwrap(e))
		})
	}
}

func TestErrorIsNonError(t *testing.T) {
	assert.False(t, cmq.ErrNoMessage.Is(errors.New("no message")))
	assert.False(t, cmq.ErrNoMessage.Is(nil))
	var nilErr *cmq.Error
	assert.False(t, errors.Is(cmq.ErrNoMessage, nilErr), "a typed nil target")
	assert.False(t, nilErr.Is(cmq.ErrNoMessage))
	assert.Equal(t, "cmq: <nil>", nilErr.Error())
	assert.Equal(t, "<nil>", nilErr.WireMessage(), "nil-safe, like Error")
	assert.NoError(t, nilErr.Unwrap())
	assert.False(t, errors.Is(context.Canceled, cmq.ErrInternal))
}
