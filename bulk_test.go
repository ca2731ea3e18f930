package cmq_test

import (
	"flag"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/require"
)

// --- Bulk work beside other calls: a measurement, not a unit test. ---

var bulkMessages = flag.Int("bulk", 0, "TestBulkMove: move this many messages past a dead-letter time-to-live (e.g. 3000000) and measure the calls beside it")

// bulkBroker returns a broker whose queue src holds n messages, with no
// QPS limit, batches of 1000 and a time-to-live that may be 1 ms, and the
// empty queues dlq and other.
func bulkBroker(t *testing.T, n int) (*cmq.Broker, *cmq.Queue) {
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
		l.QPS = 0
		l.BatchSize = 1000
		l.MaxTimeToLive.Min = time.Millisecond
	})))
	src := newQueue(t, b, "src", cmq.QueueAttributes{})
	newQueue(t, b, "dlq", cmq.QueueAttributes{})
	newQueue(t, b, "other", cmq.QueueAttributes{})
	bodies := slices.Repeat([]string{"m"}, 1000)
	for i := 0; i < n; i += len(bodies) {
		_, err := src.BatchSend(t.Context(), bodies[:min(len(bodies), n-i)], 0)
		require.NoError(t, err)
	}
	return b, src
}

// startMove gives src a time-to-live of 1 ms, which every message is past:
// the returned channel is closed when SetAttributes, which moves them, has
// returned.
func startMove(t *testing.T, src *cmq.Queue) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: time.Millisecond}
		err := src.SetAttributes(t.Context(), cmq.QueueAttributes{DeadLetterPolicy: p})
		if err != nil {
			t.Log("SetAttributes:", err)
		}
	}()
	return done
}

func bulkPercentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestBulkMove measures, with go test -run TestBulkMove -bulk 3000000:
// how long a move of that many messages takes, the latency of a lookup
// plus send on an unrelated queue while it runs, and how long Close takes
// when called in the middle of such a move.
func TestBulkMove(t *testing.T) {
	n := *bulkMessages
	if n == 0 {
		t.Skip("a measurement: run with -bulk 3000000")
	}
	t.Run("move alone", func(t *testing.T) {
		b, src := bulkBroker(t, n)
		defer b.Close()
		begin := time.Now()
		<-startMove(t, src)
		t.Logf("move of %d messages, nothing beside: %v", n, time.Since(begin).Round(time.Millisecond))
	})
	t.Run("unrelated queue during the move", func(t *testing.T) {
		b, src := bulkBroker(t, n)
		defer b.Close()
		begin := time.Now()
		done := startMove(t, src)
		var lat []time.Duration
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			t0 := time.Now()
			q, err := b.Queue("other")
			require.NoError(t, err)
			_, err = q.Send(t.Context(), "hello", 0)
			require.NoError(t, err)
			lat = append(lat, time.Since(t0))
		}
		move := time.Since(begin)
		info, err := src.Attributes(t.Context())
		require.NoError(t, err)
		require.Zero(t, info.ActiveMsgNum, "all moved")
		d, err := b.Queue("dlq")
		require.NoError(t, err)
		require.Equal(t, n, countsOf(t, d).Active)
		t.Logf("move of %d messages: %v; lookup+send on another queue: %d calls, p50 %v, p99 %v, p99.9 %v, max %v",
			n, move.Round(time.Millisecond), len(lat), bulkPercentile(lat, 0.5), bulkPercentile(lat, 0.99), bulkPercentile(lat, 0.999), bulkPercentile(lat, 1))
	})
	t.Run("Close during the move", func(t *testing.T) {
		var closes []time.Duration
		for round := range 5 {
			b, src := bulkBroker(t, n)
			done := startMove(t, src)
			time.Sleep(time.Duration(20+20*round) * time.Millisecond) // into the move
			t0 := time.Now()
			require.NoError(t, b.Close())
			closes = append(closes, time.Since(t0))
			<-done
		}
		strs := make([]string, len(closes))
		for i, c := range closes {
			strs[i] = strconv.FormatFloat(float64(c.Microseconds())/1000, 'f', 2, 64) + "ms"
		}
		t.Logf("Close during a move of %d messages: %v", n, strs)
	})
}

// rewindBroker returns bulkBroker's broker whose queue src holds n
// messages, all received and still invisible (a visibility timeout of an
// hour), and the instant to rewind to: every message was sent at or after
// it.
func rewindBroker(t *testing.T, n int) (*cmq.Broker, *cmq.Queue, time.Time) {
	start := time.Now().Truncate(time.Second)
	b, src := bulkBroker(t, n)
	require.NoError(t, src.SetAttributes(t.Context(), cmq.QueueAttributes{
		RewindPeriod: cmq.Ptr(time.Hour), VisibilityTimeout: cmq.Ptr(time.Hour)}))
	for got := 0; got < n; {
		ms, err := src.BatchReceive(t.Context(), 1000, 0)
		require.NoError(t, err)
		got += len(ms)
	}
	return b, src, start
}

// startRewind rewinds src to start: the returned channel is closed when
// Rewind has returned.
func startRewind(t *testing.T, src *cmq.Queue, start time.Time) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := src.Rewind(t.Context(), start); err != nil {
			t.Log("Rewind:", err)
		}
	}()
	return done
}

// TestBulkRewind measures, with go test -run TestBulkRewind -bulk 3000000:
// how long a rewind of that many received messages takes, the latency of
// a lookup plus send on an unrelated queue and of a send to the queue
// being rewound while it runs, and how long Close takes when called in
// the middle of such a rewind.
func TestBulkRewind(t *testing.T) {
	n := *bulkMessages
	if n == 0 {
		t.Skip("a measurement: run with -bulk 3000000")
	}
	t.Run("rewind alone", func(t *testing.T) {
		b, src, start := rewindBroker(t, n)
		defer b.Close()
		begin := time.Now()
		<-startRewind(t, src, start)
		t.Logf("rewind of %d messages, nothing beside: %v", n, time.Since(begin).Round(time.Millisecond))
		require.Equal(t, n, countsOf(t, src).Active)
	})
	for _, tc := range []struct {
		name  string
		queue string
	}{
		{"unrelated queue during the rewind", "other"},
		{"same queue during the rewind", "src"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, src, start := rewindBroker(t, n)
			defer b.Close()
			begin := time.Now()
			done := startRewind(t, src, start)
			var lat []time.Duration
			for running := true; running; {
				select {
				case <-done:
					running = false
				default:
				}
				t0 := time.Now()
				q, err := b.Queue(tc.queue)
				require.NoError(t, err)
				_, err = q.Send(t.Context(), "hello", 0)
				require.NoError(t, err)
				lat = append(lat, time.Since(t0))
			}
			rewind := time.Since(begin)
			require.GreaterOrEqual(t, countsOf(t, src).Active, n, "all rewound")
			t.Logf("rewind of %d messages: %v; lookup+send on %s: %d calls, p50 %v, p99 %v, p99.9 %v, max %v",
				n, rewind.Round(time.Millisecond), tc.queue, len(lat), bulkPercentile(lat, 0.5), bulkPercentile(lat, 0.99), bulkPercentile(lat, 0.999), bulkPercentile(lat, 1))
		})
	}
	t.Run("Close during the rewind", func(t *testing.T) {
		var closes []time.Duration
		for round := range 5 {
			b, src, start := rewindBroker(t, n)
			done := startRewind(t, src, start)
			time.Sleep(time.Duration(20+20*round) * time.Millisecond) // into the rewind
			t0 := time.Now()
			require.NoError(t, b.Close())
			closes = append(closes, time.Since(t0))
			<-done
		}
		strs := make([]string, len(closes))
		for i, c := range closes {
			strs[i] = strconv.FormatFloat(float64(c.Microseconds())/1000, 'f', 2, 64) + "ms"
		}
		t.Logf("Close during a rewind of %d messages: %v", n, strs)
	})
}
