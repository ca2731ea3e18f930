package cmq_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencmq/cmq"
)

// Durable brokers, measured here beside the in-memory cycle (BenchmarkCycle)
// and, in the benchmarks module, beside goqite and a raw fsync
// (BenchmarkPeer):
//
//	go test -run '^$' -bench 'Durable' -benchtime 2s .

// durableLimits lets a benchmark queue hold any backlog, with no QPS limit.
func durableLimits() cmq.Limits {
	l := cmq.DefaultLimits()
	l.QPS = 0
	l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1_000_000_000, Default: 1_000_000_000}
	return l
}

// BenchmarkDurableConcurrent: 128 producers and 128 consumers on one
// durable queue, each call acknowledged only once its change is durable
// under the policy (under SyncAlways, concurrent calls share fsyncs). An
// iteration is one message sent, received and deleted; msgs/s counts them.
func BenchmarkDurableConcurrent(b *testing.B) {
	for _, policy := range []cmq.SyncPolicy{cmq.SyncAlways, cmq.SyncNone} {
		b.Run("sync="+policy.String(), func(b *testing.B) {
			ctx := context.Background()
			br, err := cmq.Open(ctx, b.TempDir(), cmq.WithLimits(durableLimits()), cmq.WithSync(policy))
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			q, err := br.CreateQueue(ctx, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			const side = 128
			b.ReportAllocs()
			var sent, done atomic.Int64
			// A pipeline of workers that share b.N messages, so b.N rather
			// than b.Loop, which counts iterations of one goroutine.
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			n := int64(b.N)
			{
				for range side {
					wg.Go(func() {
						for sent.Add(1) <= n {
							if _, err := q.Send(ctx, "0123456789abcdef", 0); err != nil {
								b.Error(err)
								return
							}
						}
					})
					wg.Go(func() {
						for done.Load() < n {
							m, err := q.Receive(ctx, 100*time.Millisecond)
							if errors.Is(err, cmq.ErrNoMessage) {
								continue
							}
							if err != nil {
								b.Error(err)
								return
							}
							if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
								b.Error(err)
								return
							}
							done.Add(1)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(done.Load())/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkDurableRecovery: Open of a log holding one million messages
// (100-byte bodies, a tenth of them received). ns/msg is the recovery time
// per message; heap-ratio the live heap after recovery over the live heap
// of the broker that wrote the log.
func BenchmarkDurableRecovery(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	dir := b.TempDir()
	br, err := cmq.Open(ctx, dir, cmq.WithLimits(durableLimits()), cmq.WithSync(cmq.SyncNone))
	if err != nil {
		b.Fatal(err)
	}
	q, err := br.CreateQueue(ctx, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, 16)
	for i := 0; i < n; i += 16 {
		for k := range bodies {
			bodies[k] = fmt.Sprintf("%0100d", i+k) // distinct, as real bodies are
		}
		if _, err := q.BatchSend(ctx, bodies, 0); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < n/10; i += 16 {
		if _, err := q.BatchReceive(ctx, 16, 0); err != nil {
			b.Fatal(err)
		}
	}
	before := liveHeap()
	if err := br.Close(); err != nil {
		b.Fatal(err)
	}
	q, br = nil, nil
	var after uint64
	for b.Loop() {
		br, err := cmq.Open(ctx, dir, cmq.WithLimits(durableLimits()), cmq.WithSync(cmq.SyncNone))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		after = liveHeap()
		br.Close()
		br = nil
		runtime.GC()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/msg")
	b.ReportMetric(float64(after)/float64(before), "heap-ratio")
}

// liveHeap returns the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
