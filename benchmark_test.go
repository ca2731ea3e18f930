package cmq_test

// Benchmarks of the queue itself, with the two baselines every figure in
// BENCHMARKS.md is compared with: a buffered channel and a mutex-guarded
// slice FIFO. The comparison with goqite lives in the nested module
// benchmarks/, so that this module does not depend on SQLite.
//
// Run them all with benchmarks/run.sh; a single one with, for example,
//
//	go test -run '^$' -bench 'Cycle/single/queued=1000$' -benchtime 1s .
//
// Brokers here have no QPS limit and a huge heap limit, so that what is
// measured is the queue and not its token buckets.

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// benchBody is the body of every message: one shared string, so that the
// memory measured is the queue's own, beyond the body.
const benchBody = "0123456789abcdef"

const batch = 16

// benchBroker returns a broker that measures the queue: no QPS limit, a heap
// limit far above any benchmark, room for a million queues, and long polls
// of up to an hour so that waiters never time out during a run.
func benchBroker(b *testing.B) *cmq.Broker {
	b.Helper()
	l := cmq.DefaultLimits()
	l.QPS = 0
	l.Queues = 1_000_000
	l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1_000_000_000, Default: 1_000_000_000}
	l.PollingWait.Max = time.Hour
	br, err := cmq.NewBroker(cmq.WithLimits(l))
	require.NoError(b, err)
	b.Cleanup(func() { _ = br.Close() })
	return br
}

// fill sends n messages to q in batches.
func fill(b *testing.B, q *cmq.Queue, n int) {
	b.Helper()
	bodies := slices.Repeat([]string{benchBody}, batch)
	for n > 0 {
		k := min(n, batch)
		_, err := q.BatchSend(b.Context(), bodies[:k], 0)
		require.NoError(b, err)
		n -= k
	}
}

// receiveAll receives n messages from q and does not delete them.
func receiveAll(b *testing.B, q *cmq.Queue, n int) {
	b.Helper()
	for n > 0 {
		ms, err := q.BatchReceive(context.Background(), min(n, batch), 0)
		require.NoError(b, err)
		n -= len(ms)
	}
}

// cycle sends, receives and deletes one message.
func cycle(b *testing.B, ctx context.Context, q *cmq.Queue) {
	if _, err := q.Send(ctx, benchBody, 0); err != nil {
		b.Fatal(err)
	}
	m, err := q.Receive(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
		b.Fatal(err)
	}
}

// batchCycle sends, receives and deletes 16 messages, 16 at a time.
func batchCycle(b *testing.B, ctx context.Context, q *cmq.Queue, bodies, handles []string) {
	if _, err := q.BatchSend(ctx, bodies, 0); err != nil {
		b.Fatal(err)
	}
	ms, err := q.BatchReceive(ctx, batch, 0)
	if err != nil {
		b.Fatal(err)
	}
	if len(ms) != batch {
		b.Fatalf("received %d messages, want %d", len(ms), batch)
	}
	for i := range ms {
		handles[i] = ms[i].ReceiptHandle
	}
	if _, err := q.BatchDelete(ctx, handles); err != nil {
		b.Fatal(err)
	}
}

// reportPerMessage reports ns/msg for a loop that handled perOp messages
// per iteration, and cpu-ns/msg: the process's CPU time since cpu0 (the
// garbage collector's included) per message, which other processes on the
// machine disturb less than wall time.
func reportPerMessage(b *testing.B, perOp int, cpu0 time.Duration) {
	msgs := float64(b.N * perOp)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/msgs, "cpu-ns/msg")
}

// BenchmarkCycle is the send + receive + delete cycle on one goroutine,
// one message at a time (single) and 16 at a time (batch16), on a queue
// that already holds a backlog: queued messages are visible and ahead of
// the new one; in-flight messages were received and not deleted, with a
// visibility timeout of 12 hours. The backlog stays the same size through
// the run. ns/msg is the cost of one message's whole cycle.
func BenchmarkCycle(b *testing.B) {
	backlogs := []struct {
		name             string
		queued, inflight int
	}{
		{"queued=0", 0, 0},
		{"queued=1000", 1000, 0},
		{"queued=100000", 100_000, 0},
		{"queued=1000000", 1_000_000, 0},
		{"inflight=100000", 0, 100_000},
	}
	for _, mode := range []string{"single", "batch16"} {
		for _, bl := range backlogs {
			b.Run(mode+"/"+bl.name, func(b *testing.B) {
				br := benchBroker(b)
				q, err := br.CreateQueue(b.Context(), "cycle", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(12 * time.Hour)})
				require.NoError(b, err)
				fill(b, q, bl.inflight)
				receiveAll(b, q, bl.inflight)
				fill(b, q, bl.queued)
				ctx := context.Background()
				bodies := slices.Repeat([]string{benchBody}, batch)
				handles := make([]string, batch)
				b.ReportAllocs()
				cpu0 := cpuTime()
				if mode == "single" {
					for b.Loop() {
						cycle(b, ctx, q)
					}
					reportPerMessage(b, 1, cpu0)
				} else {
					for b.Loop() {
						batchCycle(b, ctx, q, bodies, handles)
					}
					reportPerMessage(b, batch, cpu0)
				}
				info, err := q.Attributes(ctx)
				require.NoError(b, err)
				require.Equal(b, bl.queued, info.ActiveMsgNum)
				require.Equal(b, bl.inflight, info.InactiveMsgNum)
			})
		}
	}
}

// BenchmarkBaseline is what the cycle is compared with: a buffered channel
// and a mutex-guarded slice FIFO, each holding 1,000 items like the queue
// in Cycle/single/queued=1000, one item sent and received per iteration.
func BenchmarkBaseline(b *testing.B) {
	b.Run("chan", func(b *testing.B) {
		ch := make(chan string, 2048)
		for range 1000 {
			ch <- benchBody
		}
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			ch <- benchBody
			<-ch
		}
		reportPerMessage(b, 1, cpu0)
	})
	b.Run("mutex-slice", func(b *testing.B) {
		var f fifo
		for range 1000 {
			f.push(benchBody)
		}
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			f.push(benchBody)
			f.pop()
		}
		reportPerMessage(b, 1, cpu0)
	})
	b.Run("chan-parallel", func(b *testing.B) {
		ch := make(chan string, 2048)
		b.ReportAllocs()
		b.SetParallelism(4)
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ch <- benchBody
				<-ch
			}
		})
		reportPerMessage(b, 1, cpu0)
	})
}

// fifo is a slice used as a ring buffer behind a mutex: the simplest
// thread-safe queue.
type fifo struct {
	mu   sync.Mutex
	buf  []string
	head int
	n    int
}

func (f *fifo) push(s string) {
	f.mu.Lock()
	if f.n == len(f.buf) {
		buf := make([]string, max(16, 2*len(f.buf)))
		for i := range f.n {
			buf[i] = f.buf[(f.head+i)%len(f.buf)]
		}
		f.buf, f.head = buf, 0
	}
	f.buf[(f.head+f.n)%len(f.buf)] = s
	f.n++
	f.mu.Unlock()
}

func (f *fifo) pop() string {
	f.mu.Lock()
	s := f.buf[f.head]
	f.buf[f.head] = ""
	f.head = (f.head + 1) % len(f.buf)
	f.n--
	f.mu.Unlock()
	return s
}

// BenchmarkParallel runs the cycle from 4 goroutines per CPU at once, each
// goroutine both producer and consumer: on one shared queue (every
// operation contends for its lock), and on 64 queues, one per goroutine
// (no contention but the broker's clock and the allocator). A receive never
// finds the queue empty: every goroutine sends before it receives.
func BenchmarkParallel(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run("queues="+strconv.Itoa(n), func(b *testing.B) {
			br := benchBroker(b)
			qs := make([]*cmq.Queue, n)
			for i := range qs {
				var err error
				qs[i], err = br.CreateQueue(b.Context(), "par"+strconv.Itoa(i), cmq.QueueAttributes{})
				require.NoError(b, err)
			}
			var next atomic.Int64
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(4)
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				q := qs[int(next.Add(1)-1)%n]
				for pb.Next() {
					cycle(b, ctx, q)
				}
			})
			reportPerMessage(b, 1, cpu0)
		})
	}
}

// BenchmarkWakeup measures long polling. waiters goroutines wait in
// Receive; each iteration sends one message and waits for the receiver it
// woke. wake-p50/p99-ns is the time from Send's return to the woken
// Receive's return; send-p50-ns is the cost of that Send; cpu-ns/op is the
// process's CPU time (user + system) per iteration, which would be in
// milliseconds if a send woke all 10,000 waiters.
func BenchmarkWakeup(b *testing.B) {
	for _, waiters := range []int{1, 10_000} {
		b.Run("waiters="+strconv.Itoa(waiters), func(b *testing.B) {
			benchWakeup(b, waiters)
		})
	}
}

func benchWakeup(b *testing.B, waiters int) {
	br := benchBroker(b)
	q, err := br.CreateQueue(b.Context(), "wake", cmq.QueueAttributes{})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	woken := make(chan time.Time, waiters)
	entering := make(chan struct{}, waiters)
	var other atomic.Int64 // returns without a message before cancel
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			for {
				entering <- struct{}{}
				m, err := q.Receive(ctx, time.Hour)
				at := time.Now()
				if err != nil {
					if ctx.Err() == nil {
						other.Add(1)
					}
					return
				}
				woken <- at
				if err := q.Delete(b.Context(), m.ReceiptHandle); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for range waiters {
		<-entering
	}
	// Let every waiter park. A waiter that had not parked yet would take
	// the message at once and make the wake-up look faster.
	spin(100 * time.Millisecond)

	latency := make([]time.Duration, 0, 1<<16)
	sendCost := make([]time.Duration, 0, 1<<16)
	cpu0 := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, err := q.Send(b.Context(), benchBody, 0); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		at := <-woken
		latency = append(latency, at.Sub(t1))
		sendCost = append(sendCost, t1.Sub(t0))
		// The woken receiver calls Receive again. With one waiter it must
		// park before the next send; with 10,000 the next send wakes the
		// longest-parked one anyway, but both wait the same, so that each
		// send finds the process equally idle.
		<-entering
		spin(50 * time.Microsecond)
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	cancel()
	wg.Wait()
	if n := other.Load(); n != 0 {
		b.Fatalf("%d receives returned without a message", n)
	}
	if n := len(woken); n != 0 {
		b.Fatalf("%d receives returned with no send to wake them", n)
	}
	b.ReportMetric(percentile(latency, 50), "wake-p50-ns")
	b.ReportMetric(percentile(latency, 99), "wake-p99-ns")
	b.ReportMetric(percentile(sendCost, 50), "send-p50-ns")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// spin busy-waits for d of real time. Benchmarks measure real time; no
// test uses this.
func spin(d time.Duration) {
	for t := time.Now(); time.Since(t) < d; {
	}
}

func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*p/100)].Nanoseconds())
}

// cpuTime returns the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemory fills a queue with 100,000 messages that share one body
// and reports the heap they take, per message: the cost of a queued
// message beyond its body.
func BenchmarkMemory(b *testing.B) {
	const n = 100_000
	for _, mode := range []string{"queued", "inflight"} {
		b.Run(mode+"=100000", func(b *testing.B) {
			br := benchBroker(b)
			var perMsg float64
			for b.Loop() {
				before := heapInUse()
				q, err := br.CreateQueue(b.Context(), "mem", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(12 * time.Hour)})
				require.NoError(b, err)
				for range n {
					if _, err := q.Send(b.Context(), benchBody, 0); err != nil {
						b.Fatal(err)
					}
				}
				if mode == "inflight" {
					for range n {
						if _, err := q.Receive(context.Background(), 0); err != nil {
							b.Fatal(err)
						}
					}
				}
				after := heapInUse()
				perMsg = float64(after-before) / n
				runtime.KeepAlive(q)
				require.NoError(b, br.DeleteQueue(b.Context(), "mem"))
			}
			b.ReportMetric(perMsg, "bytes/msg")
		})
	}
}

// BenchmarkQueues measures queue creation (create: ns/op per queue) and a
// broker with 100,000 idle queues (idle=100000): the cost to create them,
// the heap they hold, the goroutines they add (must be none) and the CPU
// the process uses in 200 ms of idleness with them (cpu-ns, the runtime's
// own background work included; empty-cpu-ns is the same window before the
// queues exist).
func BenchmarkQueues(b *testing.B) {
	b.Run("create", func(b *testing.B) {
		br := benchBroker(b)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if _, err := br.CreateQueue(b.Context(), "q"+strconv.Itoa(i), cmq.QueueAttributes{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("idle=100000", func(b *testing.B) {
		const n = 100_000
		names := make([]string, n)
		for i := range names {
			names[i] = "q" + strconv.Itoa(i)
		}
		var create, perQueue, idleCPU, emptyCPU float64
		var added int
		for b.Loop() {
			cpu0 := cpuTime()
			time.Sleep(200 * time.Millisecond) // the same idleness with no queue
			emptyCPU = float64((cpuTime() - cpu0).Nanoseconds())
			goroutines := runtime.NumGoroutine()
			before := heapInUse()
			br := benchBroker(b)
			t0 := time.Now()
			for _, name := range names {
				if _, err := br.CreateQueue(b.Context(), name, cmq.QueueAttributes{}); err != nil {
					b.Fatal(err)
				}
			}
			create = float64(time.Since(t0).Nanoseconds()) / n
			perQueue = float64(heapInUse()-before) / n
			added = runtime.NumGoroutine() - goroutines
			cpu0 = cpuTime()
			time.Sleep(200 * time.Millisecond) // real idleness: this measures CPU use
			idleCPU = float64((cpuTime() - cpu0).Nanoseconds())
			require.NoError(b, br.Close())
		}
		if added != 0 {
			b.Fatalf("100,000 idle queues added %d goroutines", added)
		}
		b.ReportMetric(create, "create-ns/queue")
		b.ReportMetric(perQueue, "bytes/queue")
		b.ReportMetric(float64(added), "goroutines")
		b.ReportMetric(idleCPU, "idle-cpu-ns/200ms")
		b.ReportMetric(emptyCPU, "empty-cpu-ns/200ms")
	})
}
