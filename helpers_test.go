package cmq_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Helpers shared by the test files of package cmq_test.

// newBroker returns a Broker built with opts; it fails the test on error.
// Time-dependent tests call it inside their synctest bubble.
func newBroker(t *testing.T, opts ...cmq.Option) *cmq.Broker {
	t.Helper()
	b, err := cmq.NewBroker(opts...)
	require.NoError(t, err)
	require.NotNil(t, b)
	return b
}

// limitsWith returns DefaultLimits changed by f.
func limitsWith(f func(l *cmq.Limits)) cmq.Limits {
	l := cmq.DefaultLimits()
	f(&l)
	return l
}

// newQueue creates the queue name in b with attrs; it fails the test on
// error.
func newQueue(t *testing.T, b *cmq.Broker, name string, attrs cmq.QueueAttributes) *cmq.Queue {
	t.Helper()
	q, err := b.CreateQueue(t.Context(), name, attrs)
	require.NoError(t, err)
	require.NotNil(t, q)
	return q
}

// counts are the message counts of QueueInfo.
type counts struct{ Active, Inactive, Delayed, Rewind int }

func countsOf(t *testing.T, q *cmq.Queue) counts {
	t.Helper()
	info, err := q.Attributes(t.Context())
	require.NoError(t, err)
	return counts{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum, info.RewindMsgNum}
}

// assertTime asserts that got is exactly want (to the nanosecond).
func assertTime(t *testing.T, want, got time.Time, msgAndArgs ...any) bool {
	t.Helper()
	return assert.Truef(t, want.Equal(got), "want time %v, got %v %v", want, got, fmt.Sprint(msgAndArgs...))
}

// assertCode asserts that err is a *cmq.Error with code and module.
func assertCode(t *testing.T, err error, code, module int) {
	t.Helper()
	var e *cmq.Error
	if assert.ErrorAs(t, err, &e) {
		assert.Equal(t, code, e.Code, "code")
		assert.Equal(t, module, e.Module, "module")
	}
}

// The ext helpers, first written for the lease, rewind and dead-letter
// tests, differ from the ones above: extBroker closes its broker when the
// test ends, and extCode wants the *cmq.Error itself, not wrapped.

// extBroker returns a Broker built with opts. Time-dependent tests call it
// inside their synctest bubble.
func extBroker(t *testing.T, opts ...cmq.Option) *cmq.Broker {
	t.Helper()
	b, err := cmq.NewBroker(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// extQueue creates the queue name in b with attrs.
func extQueue(t *testing.T, b *cmq.Broker, name string, attrs cmq.QueueAttributes) *cmq.Queue {
	t.Helper()
	q, err := b.CreateQueue(t.Context(), name, attrs)
	require.NoError(t, err)
	return q
}

// extCounts are the message counts of a QueueInfo.
type extCounts struct{ Active, Inactive, Delayed, Rewind int }

func extCountsOf(t *testing.T, q *cmq.Queue) extCounts {
	t.Helper()
	info, err := q.Attributes(t.Context())
	require.NoError(t, err)
	return extCounts{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum, info.RewindMsgNum}
}

// extCode asserts that err is a *cmq.Error with CMQ's code and module.
func extCode(t *testing.T, err error, code, module int) {
	t.Helper()
	e, ok := err.(*cmq.Error)
	if assert.Truef(t, ok, "want *cmq.Error %d/%d, got %T %v", code, module, err, err) {
		assert.Equal(t, [2]int{code, module}, [2]int{e.Code, e.Module}, "code/module of %v", err)
	}
}

// extReceive receives one message without waiting.
func extReceive(t *testing.T, q *cmq.Queue) cmq.Message {
	t.Helper()
	m, err := q.Receive(t.Context(), 0)
	require.NoError(t, err)
	return m
}

// extNoMessage asserts that nothing is receivable from q now.
func extNoMessage(t *testing.T, q *cmq.Queue) {
	t.Helper()
	m, err := q.Receive(t.Context(), 0)
	assert.ErrorIs(t, err, cmq.ErrNoMessage, "received %q", m.Body)
}
