package cmq_test

import (
	"math"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- Limits: DefaultLimits, WithLimits and Validate. ---

func TestDefaultLimits(t *testing.T) {
	l := cmq.DefaultLimits()
	tests := []struct {
		name      string
		got, want any
	}{
		{"Queues", l.Queues, 1000},
		{"QueueNameLength", l.QueueNameLength, 64},
		{"BatchSize", l.BatchSize, 16},
		{"BatchBytes", l.BatchBytes, 1 << 20},
		{"QPS", l.QPS, 5000},
		{"DeadLetterSources", l.DeadLetterSources, 6},
		{"Delay", l.Delay, cmq.Range[time.Duration]{Min: 0, Max: 3600 * time.Second, Default: 0}},
		{"MsgHeapNum", l.MsgHeapNum, cmq.Range[int]{Min: 1_000_000, Max: 1_000_000_000, Default: 100_000_000}},
		{"PollingWait", l.PollingWait, cmq.Range[time.Duration]{Min: 0, Max: 30 * time.Second, Default: 0}},
		{"VisibilityTimeout", l.VisibilityTimeout, cmq.Range[time.Duration]{Min: time.Second, Max: 43200 * time.Second, Default: 30 * time.Second}},
		{"MsgSize", l.MsgSize, cmq.Range[int]{Min: 1024, Max: 1_048_576, Default: 65_536}},
		{"MsgRetention", l.MsgRetention, cmq.Range[time.Duration]{Min: 60 * time.Second, Max: 1_296_000 * time.Second, Default: 345_600 * time.Second}},
		{"MaxReceiveCount.Min", l.MaxReceiveCount.Min, 1},
		{"MaxReceiveCount.Max", l.MaxReceiveCount.Max, 1000},
		{"MaxTimeToLive.Min", l.MaxTimeToLive.Min, 300 * time.Second},
		{"MaxTimeToLive.Max", l.MaxTimeToLive.Max, 43200 * time.Second},
		{"ListLimit", l.ListLimit, cmq.Range[int]{Min: 1, Max: 50, Default: 20}},
		{"MemoryBytes", l.MemoryBytes, int64(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
	assert.NoError(t, l.Validate())
	assert.Equal(t, l, cmq.DefaultLimits(), "DefaultLimits returns a fresh equal value")
}

func TestWithLimitsReplacesDefaults(t *testing.T) {
	want := cmq.DefaultLimits()
	want.Queues = 7
	want.QPS = 0
	want.BatchSize = 4
	want.MsgSize = cmq.Range[int]{Min: 1, Max: 10, Default: 5}
	b := newBroker(t, cmq.WithLimits(want))
	assert.Equal(t, want, b.Limits())

	// The last WithLimits wins.
	other := cmq.DefaultLimits()
	other.Queues = 9
	b = newBroker(t, cmq.WithLimits(want), cmq.WithLimits(other))
	assert.Equal(t, other, b.Limits())

	// Queues take their defaults from the limits.
	b = newBroker(t, cmq.WithLimits(want))
	q := newQueue(t, b, "q", cmq.QueueAttributes{})
	info, err := q.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 5, info.MaxMsgSize)
	_, err = q.BatchSend(t.Context(), []string{"1", "2", "3", "4", "5"}, 0)
	assert.ErrorIs(t, err, cmq.ErrBatchSize, "BatchSize 4 applies")
}

func TestWithLimitsRejectsInvalid(t *testing.T) {
	tests := []struct {
		field  string
		change func(l *cmq.Limits)
	}{
		{"Queues", func(l *cmq.Limits) { l.Queues = 0 }},
		{"QueueNameLength", func(l *cmq.Limits) { l.QueueNameLength = 0 }},
		{"BatchSize", func(l *cmq.Limits) { l.BatchSize = 0 }},
		{"BatchBytes", func(l *cmq.Limits) { l.BatchBytes = 0 }},
		{"QPS", func(l *cmq.Limits) { l.QPS = -1 }},
		{"DeadLetterSources", func(l *cmq.Limits) { l.DeadLetterSources = 0 }},
		{"Delay", func(l *cmq.Limits) { l.Delay.Min = -time.Second }},
		{"Delay", func(l *cmq.Limits) { l.Delay.Max = -1 }},
		{"Delay", func(l *cmq.Limits) { l.Delay.Default = l.Delay.Max + 1 }},
		{"MsgHeapNum", func(l *cmq.Limits) { l.MsgHeapNum.Min = 0; l.MsgHeapNum.Default = 0 }},
		{"MsgHeapNum", func(l *cmq.Limits) { l.MsgHeapNum.Default = l.MsgHeapNum.Min - 1 }},
		{"MsgHeapNum", func(l *cmq.Limits) { l.MsgHeapNum.Max = l.MsgHeapNum.Min - 1 }},
		{"PollingWait", func(l *cmq.Limits) { l.PollingWait.Min = -1 }},
		{"PollingWait", func(l *cmq.Limits) { l.PollingWait.Default = l.PollingWait.Max + 1 }},
		{"VisibilityTimeout", func(l *cmq.Limits) { l.VisibilityTimeout.Min = 0 }},
		{"VisibilityTimeout", func(l *cmq.Limits) { l.VisibilityTimeout.Default = 0 }},
		{"MsgSize", func(l *cmq.Limits) { l.MsgSize = cmq.Range[int]{Min: 0, Max: 10, Default: 5} }},
		{"MsgSize", func(l *cmq.Limits) { l.MsgSize.Max = l.MsgSize.Default - 1 }},
		{"MsgRetention", func(l *cmq.Limits) { l.MsgRetention.Min = 0 }},
		{"MsgRetention", func(l *cmq.Limits) { l.MsgRetention.Default = l.MsgRetention.Max + 1 }},
		{"MaxReceiveCount", func(l *cmq.Limits) { l.MaxReceiveCount = cmq.Range[int]{Min: 0, Max: 5, Default: 1} }},
		{"MaxReceiveCount", func(l *cmq.Limits) { l.MaxReceiveCount.Default = 0 }},
		{"MaxTimeToLive", func(l *cmq.Limits) { l.MaxTimeToLive.Min = 0 }},
		{"MaxTimeToLive", func(l *cmq.Limits) { l.MaxTimeToLive.Default = l.MaxTimeToLive.Max + 1 }},
		{"ListLimit", func(l *cmq.Limits) { l.ListLimit = cmq.Range[int]{Min: 0, Max: 50, Default: 20} }},
		{"ListLimit", func(l *cmq.Limits) { l.ListLimit.Default = 51 }},
		{"Queues", func(l *cmq.Limits) { *l = cmq.Limits{} }}, // the zero Limits
		// Durations so long that now plus one would overflow.
		{"Delay", func(l *cmq.Limits) { l.Delay.Max = cmq.MaxDuration + 1 }},
		{"PollingWait", func(l *cmq.Limits) { l.PollingWait.Max = math.MaxInt64 }},
		{"VisibilityTimeout", func(l *cmq.Limits) { l.VisibilityTimeout.Max = cmq.MaxDuration + 1 }},
		{"MsgRetention", func(l *cmq.Limits) { l.MsgRetention.Max = cmq.MaxDuration + 1 }},
		{"MaxTimeToLive", func(l *cmq.Limits) { l.MaxTimeToLive.Max = cmq.MaxDuration + 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			l := limitsWith(tt.change)
			err := l.Validate()
			require.Error(t, err)
			want := "cmq: invalid Limits." + tt.field + " (code 4000, module 10110)"
			assert.EqualError(t, err, want)
			assert.ErrorIs(t, err, cmq.ErrInvalidParameter)

			b, err := cmq.NewBroker(cmq.WithLimits(l))
			assert.Nil(t, b)
			assert.EqualError(t, err, want)
			assert.ErrorIs(t, err, cmq.ErrInvalidParameter)
		})
	}
}

func TestLimitsValidateEdges(t *testing.T) {
	tests := []struct {
		name   string
		change func(l *cmq.Limits)
	}{
		{"QPS 0 means no limit", func(l *cmq.Limits) { l.QPS = 0 }},
		{"all counts 1", func(l *cmq.Limits) {
			l.Queues, l.QueueNameLength, l.BatchSize, l.BatchBytes, l.DeadLetterSources = 1, 1, 1, 1, 1
		}},
		{"every duration up to MaxDuration", func(l *cmq.Limits) {
			l.Delay.Max, l.PollingWait.Max, l.VisibilityTimeout.Max = cmq.MaxDuration, cmq.MaxDuration, cmq.MaxDuration
			l.MsgRetention.Max, l.MaxTimeToLive.Max = cmq.MaxDuration, cmq.MaxDuration
		}},
		{"single-point ranges", func(l *cmq.Limits) {
			l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1, Default: 1}
			l.PollingWait = cmq.Range[time.Duration]{}
			l.Delay = cmq.Range[time.Duration]{}
			l.VisibilityTimeout = cmq.Range[time.Duration]{Min: 1, Max: 1, Default: 1}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := limitsWith(tt.change)
			assert.NoError(t, l.Validate())
			b := newBroker(t, cmq.WithLimits(l))
			assert.Equal(t, l, b.Limits())
		})
	}
}
