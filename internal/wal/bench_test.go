package wal_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq/internal/wal"
)

// The benchmarks use the operating system's file system in b.TempDir().

var payload100 = make([]byte, 100)

// BenchmarkAppend: one 100-byte frame, policy none: the cost of the write
// under the log's mutex.
func BenchmarkAppend(b *testing.B) {
	l, err := wal.Open(b.TempDir(), wal.Options{Sync: wal.SyncNone})
	require.NoError(b, err)
	defer l.Close()
	b.ReportAllocs()
	b.SetBytes(100)
	for b.Loop() {
		if _, err := l.Append(payload100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendSync: 100-byte frames under SyncAlways, each Append
// followed by a Sync of its position, by 1 writer and by 256 concurrent
// writers (group commit).
func BenchmarkAppendSync(b *testing.B) {
	b.Run("writers=1", func(b *testing.B) {
		l, err := wal.Open(b.TempDir(), wal.Options{})
		require.NoError(b, err)
		defer l.Close()
		b.ReportAllocs()
		for b.Loop() {
			pos, err := l.Append(payload100)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Sync(pos); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("writers=256", func(b *testing.B) {
		l, err := wal.Open(b.TempDir(), wal.Options{})
		require.NoError(b, err)
		defer l.Close()
		b.ReportAllocs()
		b.SetParallelism(max(1, 256/runtimeProcs()))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				pos, err := l.Append(payload100)
				if err != nil {
					b.Error(err)
					return
				}
				if err := l.Sync(pos); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkReplay: Open (which verifies every frame) and Replay of a log
// of 1M 100-byte records.
func BenchmarkReplay(b *testing.B) {
	const n = 1 << 20
	d := b.TempDir()
	l, err := wal.Open(d, wal.Options{Sync: wal.SyncNone})
	require.NoError(b, err)
	for range n {
		_, err := l.Append(payload100)
		require.NoError(b, err)
	}
	require.NoError(b, l.Close())

	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l, err := wal.Open(d, wal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			l.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/record")
	})
	b.Run("replay", func(b *testing.B) {
		l, err := wal.Open(d, wal.Options{})
		require.NoError(b, err)
		defer l.Close()
		b.ReportAllocs()
		for b.Loop() {
			count := 0
			err := l.Replay(func(p []byte) error {
				count++
				return nil
			})
			if err != nil || count != n {
				b.Fatal(count, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/record")
	})
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
