package wal_test

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/opencmq/cmq/internal/bubble"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq/internal/wal"
	"github.com/opencmq/cmq/internal/wal/faultfs"
)

// TestPowerLoss runs rounds of concurrent appenders on a fault FS, crashes
// it at a random moment of each round and reopens what survives. Under
// every policy the log opens, its content is a prefix of what was appended
// (per writer, in order, nothing invented) and what an earlier Open
// replayed is still there; under SyncAlways every payload whose Sync
// returned nil is there too.
func TestPowerLoss(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 40
	}
	for _, policy := range []wal.SyncPolicy{wal.SyncAlways, wal.SyncNone, wal.SyncEvery(time.Millisecond)} {
		t.Run(policy.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(policy.Interval())))
			var (
				fs       *faultfs.FS
				appended map[string]bool // every payload ever handed to Append
				acked    []string        // payloads whose Sync returned nil (SyncAlways)
				before   [][]byte        // what the last Open replayed
			)
			for round := range rounds {
				if round%10 == 0 { // a fresh log now and then keeps rounds short
					fs, appended, acked, before = faultfs.New(), map[string]bool{}, nil, nil
				}
				l, err := wal.Open(dir, wal.Options{FS: fs, Sync: policy, SegmentBytes: 4096})
				require.NoError(t, err, "round %d", round)
				got := replayAll(t, l)

				// What an earlier Open replayed is durable: still there, in front.
				require.GreaterOrEqual(t, len(got), len(before), "round %d", round)
				for i := range before {
					require.Equal(t, before[i], got[i], "round %d: replayed payload %d changed", round, i)
				}
				// Nothing invented; per writer, in order and without gaps.
				next := map[string]int{}
				present := map[string]bool{}
				for _, p := range got {
					require.True(t, appended[string(p)], "round %d: %q was never appended", round, p)
					var w string
					var seq int
					_, err := fmt.Sscanf(string(p), "%s %d", &w, &seq)
					require.NoError(t, err)
					require.Equal(t, next[w], seq, "round %d: writer %s out of order", round, w)
					next[w]++
					present[string(p)] = true
				}
				for _, a := range acked {
					require.True(t, present[a], "round %d: acknowledged %q lost", round, a)
				}
				before = got

				// A new workload, crashed at a random moment.
				const writers = 8
				var (
					wg       sync.WaitGroup
					mu       sync.Mutex
					appends  atomic.Int64
					crashNow = make(chan struct{})
					crashAt  = int64(1 + r.IntN(writers*30))
				)
				lists := make([][][]byte, writers)
				for w := range writers {
					n := r.IntN(40)
					for seq := range n {
						p := fmt.Appendf(nil, "r%dw%d %d %s", round, w, seq, bytes.Repeat([]byte{'a' + byte(w)}, r.IntN(200)))
						lists[w] = append(lists[w], p)
						appended[string(p)] = true
					}
				}
				for w := range writers {
					wg.Go(func() {
						for _, p := range lists[w] {
							pos, err := l.Append(p)
							if appends.Add(1) == crashAt {
								close(crashNow)
							}
							if err != nil {
								return
							}
							if err := l.Sync(pos); err != nil {
								return
							}
							if policy == wal.SyncAlways {
								mu.Lock()
								acked = append(acked, string(p))
								mu.Unlock()
							}
						}
					})
				}
				done := make(chan struct{})
				go func() { wg.Wait(); close(done) }()
				select {
				case <-crashNow:
				case <-done:
				}
				fs = fs.Crash(r)
				<-done
				l.Close() // fails: the old file system is gone
			}
		})
	}
}

// TestKill: the death of the process loses nothing Append returned, under
// every policy, without any Sync.
func TestKill(t *testing.T) {
	for _, policy := range []wal.SyncPolicy{wal.SyncAlways, wal.SyncNone, wal.SyncEvery(time.Hour)} {
		t.Run(policy.String(), func(t *testing.T) {
			fs := faultfs.New()
			l, err := wal.Open(dir, wal.Options{FS: fs, Sync: policy, SegmentBytes: 1000})
			require.NoError(t, err)
			ps := randomPayloads(rand.New(rand.NewPCG(8, 9)), 200, 100)
			const synced = 120
			pos := appendAll(t, l, ps[:synced])
			require.NoError(t, l.Sync(pos[synced-1]))
			appendAll(t, l, ps[synced:])
			fs = fs.Kill()
			l.Close()
			l, err = wal.Open(dir, wal.Options{FS: fs, Sync: policy})
			require.NoError(t, err)
			defer l.Close()
			got := nilToEmpty(replayAll(t, l))
			if policy == wal.SyncAlways {
				// Frames wait in the buffer for their round: those no Sync
				// covered may be lost, from some frame on.
				require.GreaterOrEqual(t, len(got), synced)
				assert.Equal(t, ps[:len(got)], got)
				return
			}
			assert.Equal(t, ps, got)
		})
	}
}

var errInjected = errors.New("injected fsync failure")

// failSyncOnce makes the next fsync of a segment fail.
func failSyncOnce(fs *faultfs.FS) {
	var once atomic.Bool
	fs.SetFault(func(op faultfs.Op, name string) error {
		if op == faultfs.OpSync && once.CompareAndSwap(false, true) {
			return errInjected
		}
		return nil
	})
}

func TestSyncFailure(t *testing.T) {
	for _, c := range []struct {
		name    string
		policy  wal.SyncPolicy
		trigger func(t *testing.T, l *wal.Log, pos wal.Pos) error // makes the log fsync
	}{
		{"always: Sync", wal.SyncAlways, func(t *testing.T, l *wal.Log, pos wal.Pos) error {
			return l.Sync(pos)
		}},
		{"interval: the timer", wal.SyncEvery(time.Second), func(t *testing.T, l *wal.Log, pos wal.Pos) error {
			time.Sleep(time.Second)
			synctest.Wait()
			return l.Sync(pos)
		}},
		{"none: Rotate", wal.SyncNone, func(t *testing.T, l *wal.Log, pos wal.Pos) error {
			_, err := l.Rotate()
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs := faultfs.New()
				l, err := wal.Open(dir, wal.Options{FS: fs, Sync: c.policy})
				require.NoError(t, err)
				first, err := l.Append([]byte("first"))
				require.NoError(t, err)
				require.NoError(t, l.Sync(first))

				failSyncOnce(fs)
				syncs := fs.Count(faultfs.OpSync)
				pos, err := l.Append([]byte("second"))
				require.NoError(t, err)
				err = c.trigger(t, l, pos)
				require.ErrorIs(t, err, wal.ErrFailed)
				require.ErrorIs(t, err, errInjected)
				assert.Contains(t, err.Error(), "fsync")
				assert.Equal(t, syncs+1, fs.Count(faultfs.OpSync))

				// Failed for good, and the fsync is never retried.
				_, err = l.Append([]byte("third"))
				assert.ErrorIs(t, err, wal.ErrFailed)
				assert.ErrorIs(t, l.Sync(first), wal.ErrFailed)
				assert.ErrorIs(t, l.Sync(pos), wal.ErrFailed)
				_, err = l.Rotate()
				assert.ErrorIs(t, err, wal.ErrFailed)
				assert.ErrorIs(t, l.RemoveBefore(2), wal.ErrFailed)
				time.Sleep(time.Hour)
				synctest.Wait()
				assert.ErrorIs(t, l.Close(), wal.ErrFailed)
				assert.Equal(t, syncs+1, fs.Count(faultfs.OpSync), "no retry")

				// Close released the lock; what reached the kernel is there.
				l, err = wal.Open(dir, wal.Options{FS: fs})
				require.NoError(t, err)
				assert.Equal(t, [][]byte{[]byte("first"), []byte("second")}, replayAll(t, l))
				require.NoError(t, l.Close())
			})
		})
	}
}

// TestWriteFailure: a failed write is taken back and returned; the log
// goes on.
func TestWriteFailure(t *testing.T) {
	for _, policy := range []wal.SyncPolicy{wal.SyncNone, wal.SyncEvery(time.Hour)} {
		t.Run(policy.String(), func(t *testing.T) {
			fs := faultfs.New()
			l, err := wal.Open(dir, wal.Options{FS: fs, Sync: policy})
			require.NoError(t, err)
			var fail atomic.Bool
			fs.SetFault(func(op faultfs.Op, name string) error {
				if op == faultfs.OpWrite && fail.Load() {
					return errInjected
				}
				return nil
			})
			_, err = l.Append([]byte("one"))
			require.NoError(t, err)
			fail.Store(true)
			size := l.Size()
			_, err = l.Append([]byte("lost"))
			require.ErrorIs(t, err, errInjected)
			require.NotErrorIs(t, err, wal.ErrFailed)
			assert.Equal(t, size, l.Size())
			fail.Store(false)
			pos, err := l.Append([]byte("two"))
			require.NoError(t, err)
			require.NoError(t, l.Sync(pos))
			require.NoError(t, l.Close())
			l, err = wal.Open(dir, wal.Options{FS: fs})
			require.NoError(t, err)
			defer l.Close()
			assert.Equal(t, [][]byte{[]byte("one"), []byte("two")}, replayAll(t, l))
		})
	}
}

// TestRoundWriteFailure: under SyncAlways a failed write of a round's
// buffered frames fails the log for good, like a failed fsync: the Sync
// waiting for it, and every later call, get ErrFailed; nothing of the
// round reaches the file.
func TestRoundWriteFailure(t *testing.T) {
	fs := faultfs.New()
	l, err := wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	pos, err := l.Append([]byte("one"))
	require.NoError(t, err)
	require.NoError(t, l.Sync(pos))
	fs.SetFault(func(op faultfs.Op, name string) error {
		if op == faultfs.OpWrite {
			return errInjected
		}
		return nil
	})
	pos, err = l.Append([]byte("lost"))
	require.NoError(t, err, "buffered: nothing is written yet")
	err = l.Sync(pos)
	require.ErrorIs(t, err, wal.ErrFailed)
	require.ErrorIs(t, err, errInjected)
	_, err = l.Append([]byte("after"))
	require.ErrorIs(t, err, wal.ErrFailed)
	require.ErrorIs(t, l.Close(), wal.ErrFailed)
	fs.SetFault(nil)
	l, err = wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, [][]byte{[]byte("one")}, replayAll(t, l))
}

// TestGroupCommit: under SyncAlways, with fsyncs that take time, 64
// concurrent writers share fsyncs: far fewer fsyncs than Syncs, and every
// Sync still returns only after an fsync that covers it.
func TestGroupCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		idle := bubble.Goroutines()
		fs := faultfs.New()
		l, err := wal.Open(dir, wal.Options{FS: fs})
		require.NoError(t, err)
		fs.SetFault(func(op faultfs.Op, name string) error {
			if op == faultfs.OpSync {
				time.Sleep(200 * time.Microsecond)
			}
			return nil
		})
		base := fs.Count(faultfs.OpSync)
		const writers, each = 64, 50
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					pos, err := l.Append(fmt.Appendf(nil, "w%d %d", w, i))
					if !assert.NoError(t, err) {
						return
					}
					if !assert.NoError(t, l.Sync(pos)) {
						return
					}
					// The fsync that covered pos has finished.
					assert.False(t, wal.Synced(l).Less(pos))
				}
			})
		}
		wg.Wait()
		fsyncs := fs.Count(faultfs.OpSync) - base
		t.Logf("%d Syncs, %d fsyncs", writers*each, fsyncs)
		assert.Less(t, fsyncs*10, writers*each, "fsyncs shared")
		assert.GreaterOrEqual(t, fsyncs, each, "each writer waited for its own fsync each time")
		// Rounds that followed one another ran in a goroutine of the log's:
		// it is gone once nobody waits.
		synctest.Wait()
		assert.Equal(t, idle, bubble.Goroutines(), "nothing runs while the log is idle")
		require.NoError(t, l.Close())
	})
}

// TestSyncInterval: under SyncEvery(d) the timer fsyncs d after the first
// unsynced append, and exists only while unsynced frames exist.
func TestSyncInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 100 * time.Millisecond
		fs := faultfs.New()
		l, err := wal.Open(dir, wal.Options{FS: fs, Sync: wal.SyncEvery(d)})
		require.NoError(t, err)
		base := fs.Count(faultfs.OpSync)
		step := func(sleep time.Duration) {
			time.Sleep(sleep)
			synctest.Wait()
		}

		assert.False(t, wal.TimerArmed(l), "idle: no timer")
		step(time.Hour)
		assert.Equal(t, base, fs.Count(faultfs.OpSync), "idle: no fsync")

		pos, err := l.Append([]byte("a"))
		require.NoError(t, err)
		assert.True(t, wal.TimerArmed(l))
		require.NoError(t, l.Sync(pos), "returns at once")
		assert.True(t, wal.Synced(l).Less(pos))
		step(d / 2)
		pos, err = l.Append([]byte("b"))
		require.NoError(t, err)
		step(d/2 - time.Nanosecond)
		assert.Equal(t, base, fs.Count(faultfs.OpSync), "not before d")
		step(time.Nanosecond)
		assert.Equal(t, base+1, fs.Count(faultfs.OpSync), "at d after the first append")
		assert.False(t, wal.Synced(l).Less(pos), "one fsync covers both")
		assert.False(t, wal.TimerArmed(l), "synced: no timer")
		step(time.Hour)
		assert.Equal(t, base+1, fs.Count(faultfs.OpSync))

		// Frames appended while the fsync runs re-arm the timer.
		fs.SetFault(func(op faultfs.Op, name string) error {
			if op == faultfs.OpSync {
				time.Sleep(10 * time.Millisecond)
			}
			return nil
		})
		_, err = l.Append([]byte("c"))
		require.NoError(t, err)
		step(d + 5*time.Millisecond) // the fsync is running
		pos, err = l.Append([]byte("d"))
		require.NoError(t, err)
		step(5 * time.Millisecond) // it finished, without "d"
		assert.Equal(t, base+2, fs.Count(faultfs.OpSync))
		assert.True(t, wal.Synced(l).Less(pos))
		assert.True(t, wal.TimerArmed(l), "armed again by the append")
		step(d - 5*time.Millisecond - time.Nanosecond)
		assert.Equal(t, base+2, fs.Count(faultfs.OpSync), "d after the append, not before")
		step(time.Nanosecond + 10*time.Millisecond)
		assert.Equal(t, base+3, fs.Count(faultfs.OpSync))
		assert.False(t, wal.Synced(l).Less(pos))
		assert.False(t, wal.TimerArmed(l))

		// Close with the timer pending stops it and fsyncs itself.
		_, err = l.Append([]byte("e"))
		require.NoError(t, err)
		require.NoError(t, l.Close())
		assert.Equal(t, base+4, fs.Count(faultfs.OpSync))
		step(time.Hour)
		assert.Equal(t, base+4, fs.Count(faultfs.OpSync), "the timer stopped")
	})
}

// TestCloseWakesWaiters: Syncs waiting for a group commit when Close runs
// return (nil: Close's fsync covered them), and nothing is left running.
func TestCloseWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := faultfs.New()
		l, err := wal.Open(dir, wal.Options{FS: fs})
		require.NoError(t, err)
		fs.SetFault(func(op faultfs.Op, name string) error {
			if op == faultfs.OpSync {
				time.Sleep(time.Millisecond)
			}
			return nil
		})
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				pos, err := l.Append(fmt.Appendf(nil, "%d", i))
				if err != nil {
					assert.ErrorIs(t, err, wal.ErrClosed)
					return
				}
				assert.NoError(t, l.Sync(pos))
			})
		}
		synctest.Wait()
		require.NoError(t, l.Close())
		wg.Wait()
	})
}

// TestRemoveCrash: a power loss at any step of RemoveBefore leaves a log
// that opens, with consecutive segments: a suffix of the payloads that
// holds at least every segment that was to stay.
func TestRemoveCrash(t *testing.T) {
	const segs = 8
	for k := 1; ; k++ {
		fs := faultfs.New()
		l, err := wal.Open(dir, wal.Options{FS: fs, SegmentBytes: 1})
		require.NoError(t, err)
		var ps [][]byte
		for i := range segs {
			p := fmt.Appendf(nil, "payload %d", i)
			pos, err := l.Append(p)
			require.NoError(t, err)
			require.NoError(t, l.Sync(pos))
			ps = append(ps, p)
		}
		ops := 0
		var crashed *faultfs.FS
		r := rand.New(rand.NewPCG(uint64(k), 10))
		fs.SetFault(func(op faultfs.Op, name string) error {
			if op == faultfs.OpRemove || op == faultfs.OpSyncDir {
				if ops++; ops == k {
					crashed = fs.Crash(r)
				}
			}
			return nil
		})
		err = l.RemoveBefore(segs - 2) // keeps segments 6, 7, 8
		l.Close()
		if crashed == nil {
			require.NoError(t, err)
			require.Greater(t, k, 2*(segs-3), "every step was crashed at")
			return
		}
		l, err = wal.Open(dir, wal.Options{FS: crashed})
		require.NoError(t, err, "crash at step %d", k)
		got := replayAll(t, l)
		require.GreaterOrEqual(t, len(got), 3)
		assert.Equal(t, ps[len(ps)-len(got):], got, "crash at step %d", k)
		require.NoError(t, l.Close())
	}
}

// TestRemoveBeforeSyncs: under SyncNone and SyncEvery, RemoveBefore makes
// everything appended durable before it removes a segment: a power loss
// right after it loses nothing of what replaced the removed segments.
func TestRemoveBeforeSyncs(t *testing.T) {
	for _, policy := range []wal.SyncPolicy{wal.SyncNone, wal.SyncEvery(time.Hour)} {
		t.Run(policy.String(), func(t *testing.T) {
			for seed := range uint64(20) {
				fs := faultfs.New()
				l, err := wal.Open(dir, wal.Options{FS: fs, Sync: policy})
				require.NoError(t, err)
				appendAll(t, l, [][]byte{[]byte("replaced")})
				cur, err := l.Rotate()
				require.NoError(t, err)
				ps := randomPayloads(rand.New(rand.NewPCG(seed, 1)), 50, 100)
				appendAll(t, l, ps)
				require.NoError(t, l.RemoveBefore(cur))
				fs = fs.Crash(rand.New(rand.NewPCG(seed, 2)))
				l.Close()
				l, err = wal.Open(dir, wal.Options{FS: fs})
				require.NoError(t, err)
				assert.Equal(t, ps, nilToEmpty(replayAll(t, l)), "seed %d", seed)
				l.Close()
			}
		})
	}
}

// TestRotateFailureReleasesWaiters: a Sync that gathered for the next
// round while an Append waited to start a new segment returns once that
// Append's rotation has made its frame durable, even though creating the
// new segment then failed (a non-sticky error, such as too many open
// files).
func TestRotateFailureReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := faultfs.New()
		l, err := wal.Open(dir, wal.Options{FS: fs, SegmentBytes: 4096})
		require.NoError(t, err)
		var failCreate atomic.Bool
		fs.SetFault(func(op faultfs.Op, name string) error {
			if op == faultfs.OpSync {
				time.Sleep(10 * time.Millisecond)
			}
			if op == faultfs.OpCreate && failCreate.Load() {
				return errInjected
			}
			return nil
		})
		go func() { // a round in flight, in its fsync
			p, _ := l.Append([]byte("a"))
			l.Sync(p)
		}()
		synctest.Wait()
		synced := make(chan error, 1)
		go func() { // not covered by it: gathers for the next round
			p, _ := l.Append([]byte("b"))
			synced <- l.Sync(p)
		}()
		synctest.Wait()
		failCreate.Store(true)
		_, err = l.Append(make([]byte, 4080)) // waits for the round, rotates, fails to create
		require.ErrorIs(t, err, errInjected)
		synctest.Wait()
		select {
		case err := <-synced:
			require.NoError(t, err)
		default:
			t.Fatal("the gathered Sync is still waiting although its frame is durable")
		}
		failCreate.Store(false)
		require.NoError(t, l.Close())
	})
}

// TestBufferOverflow: under SyncAlways, Append writes the buffered frames
// itself once they pass a MiB, without waiting for a Sync: they are then
// in the kernel and survive the death of the process.
func TestBufferOverflow(t *testing.T) {
	fs := faultfs.New()
	l, err := wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	writes := fs.Count(faultfs.OpWrite)
	ps := make([][]byte, 200)
	for i := range ps {
		ps[i] = bytes.Repeat([]byte{byte(i)}, 8<<10)
	}
	appendAll(t, l, ps) // 1.6 MiB, no Sync
	assert.Equal(t, writes+1, fs.Count(faultfs.OpWrite), "one write, of the first MiB and a frame")
	fs = fs.Kill()
	l.Close()
	l, err = wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	defer l.Close()
	got := nilToEmpty(replayAll(t, l))
	require.GreaterOrEqual(t, len(got), 1<<20/(8<<10), "the frames of the first MiB")
	assert.Equal(t, ps[:len(got)], got)
}
