package wal_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq/internal/wal"
	"github.com/opencmq/cmq/internal/wal/faultfs"
)

const dir = "/log"

// replayAll returns copies of every payload Replay yields.
func replayAll(t testing.TB, l *wal.Log) [][]byte {
	t.Helper()
	var got [][]byte
	require.NoError(t, l.Replay(func(p []byte) error {
		got = append(got, bytes.Clone(p))
		return nil
	}))
	return got
}

// randomPayloads returns n payloads of random sizes in [0, maxLen), each
// starting with its index so that any mix-up shows.
func randomPayloads(r *rand.Rand, n, maxLen int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		p := make([]byte, r.IntN(maxLen))
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		if len(p) >= 4 {
			copy(p, fmt.Appendf(nil, "%04d", i%10000))
		}
		ps[i] = p
	}
	return ps
}

func appendAll(t testing.TB, l *wal.Log, ps [][]byte) []wal.Pos {
	t.Helper()
	pos := make([]wal.Pos, len(ps))
	for i, p := range ps {
		var err error
		pos[i], err = l.Append(p)
		require.NoError(t, err)
	}
	return pos
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   wal.SyncPolicy
		segBytes int64
		n, max   int
	}{
		{"always, small segments", wal.SyncAlways, 1 << 10, 500, 300},
		{"none, one frame per segment", wal.SyncNone, 1, 50, 100},
		{"interval, default segments", wal.SyncEvery(time.Millisecond), 0, 2000, 1000},
		{"empty payloads", wal.SyncAlways, 100, 100, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := faultfs.New()
			r := rand.New(rand.NewPCG(1, 2))
			ps := randomPayloads(r, tc.n, tc.max)
			o := wal.Options{Sync: tc.policy, SegmentBytes: tc.segBytes, FS: fs}
			l, err := wal.Open(dir, o)
			require.NoError(t, err)
			assert.Empty(t, replayAll(t, l))
			pos := appendAll(t, l, ps)
			require.NoError(t, l.Sync(pos[len(pos)-1]))
			for i := 1; i < len(pos); i++ {
				require.True(t, pos[i-1].Less(pos[i]), "positions in order")
			}
			size := l.Size()
			require.NoError(t, l.Close())

			l, err = wal.Open(dir, o)
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })
			assert.Equal(t, size, l.Size())
			got := replayAll(t, l)
			require.Equal(t, len(ps), len(got))
			for i := range ps {
				require.True(t, bytes.Equal(ps[i], got[i]), "payload %d", i)
			}
			first, cur := l.Segments()
			assert.Equal(t, uint64(1), first)
			if tc.segBytes != 0 && tc.n > 10 {
				assert.Greater(t, cur, uint64(3), "several segments")
			}
			// Appending after a reopen goes on from the end.
			p, err := l.Append([]byte("after"))
			require.NoError(t, err)
			if tc.segBytes == 0 {
				assert.Equal(t, cur, p.Segment)
			}
			require.NoError(t, l.Close())
			l, err = wal.Open(dir, o)
			require.NoError(t, err)
			got = replayAll(t, l)
			require.Len(t, got, len(ps)+1)
			assert.Equal(t, "after", string(got[len(ps)]))
		})
	}
}

func TestOSRoundTrip(t *testing.T) {
	d := filepath.Join(t.TempDir(), "a", "b")
	l, err := wal.Open(d, wal.Options{SegmentBytes: 4096})
	require.NoError(t, err)
	ps := randomPayloads(rand.New(rand.NewPCG(3, 4)), 300, 200)
	pos := appendAll(t, l, ps)
	require.NoError(t, l.Sync(pos[len(pos)-1]))
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")

	l, err = wal.Open(d, wal.Options{SegmentBytes: 4096})
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, ps, nilToEmpty(replayAll(t, l)))
}

// nilToEmpty makes every nil payload an empty one, as randomPayloads makes
// them.
func nilToEmpty(ps [][]byte) [][]byte {
	for i := range ps {
		if ps[i] == nil {
			ps[i] = []byte{}
		}
	}
	return ps
}

func TestLock(t *testing.T) {
	t.Run("os", func(t *testing.T) {
		d := t.TempDir()
		l, err := wal.Open(d, wal.Options{})
		require.NoError(t, err)
		_, err = wal.Open(d, wal.Options{})
		require.ErrorIs(t, err, wal.ErrLocked)
		assert.Contains(t, err.Error(), d)
		require.NoError(t, l.Close())
		l, err = wal.Open(d, wal.Options{})
		require.NoError(t, err, "Close released the lock")
		require.NoError(t, l.Close())
	})
	t.Run("faultfs", func(t *testing.T) {
		fs := faultfs.New()
		l, err := wal.Open(dir, wal.Options{FS: fs})
		require.NoError(t, err)
		_, err = wal.Open(dir, wal.Options{FS: fs})
		require.ErrorIs(t, err, wal.ErrLocked)
		assert.Contains(t, err.Error(), dir)
		require.NoError(t, l.Close())
	})
}

func TestClosed(t *testing.T) {
	fs := faultfs.New()
	l, err := wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	pos, err := l.Append([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	_, err = l.Append([]byte("y"))
	assert.ErrorIs(t, err, wal.ErrClosed)
	_, err = l.Rotate()
	assert.ErrorIs(t, err, wal.ErrClosed)
	assert.ErrorIs(t, l.RemoveBefore(5), wal.ErrClosed)
	assert.ErrorIs(t, l.Replay(func([]byte) error { return nil }), wal.ErrClosed)
	assert.NoError(t, l.Sync(pos), "Close synced pos")
	assert.Equal(t, 1, fs.Count(faultfs.OpWrite)-1, "one write for the frame, one for the header")
}

func TestBadInput(t *testing.T) {
	fs := faultfs.New()
	_, err := wal.Open(dir, wal.Options{FS: fs, SegmentBytes: -1})
	require.Error(t, err)

	l, err := wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	defer l.Close()
	size := l.Size()
	_, err = l.Append(make([]byte, wal.MaxPayload+1))
	require.ErrorIs(t, err, wal.ErrTooLarge)
	assert.Equal(t, size, l.Size(), "nothing written")

	err = l.Sync(wal.Pos{Segment: 1, Offset: 1 << 40})
	require.ErrorIs(t, err, wal.ErrBadPos)
	err = l.Sync(wal.Pos{Segment: 2})
	require.ErrorIs(t, err, wal.ErrBadPos)

	stop := errors.New("stop")
	_, err = l.Append([]byte("a"))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	l, err = wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	defer l.Close()
	assert.ErrorIs(t, l.Replay(func([]byte) error { return stop }), stop)
}

func TestRotateAndRemove(t *testing.T) {
	fs := faultfs.New()
	l, err := wal.Open(dir, wal.Options{FS: fs, Sync: wal.SyncNone})
	require.NoError(t, err)
	var want [][]byte
	for i := range 5 {
		p := fmt.Appendf(nil, "segment %d", i+1)
		_, err := l.Append(p)
		require.NoError(t, err)
		want = append(want, p)
		syncs := fs.Count(faultfs.OpSync)
		seg, err := l.Rotate()
		require.NoError(t, err)
		assert.Equal(t, uint64(i+2), seg)
		assert.Equal(t, syncs+2, fs.Count(faultfs.OpSync), "sealed and new segment fsynced even under none")
	}
	size := l.Size()
	dirSyncs := fs.Count(faultfs.OpSyncDir)
	require.NoError(t, l.RemoveBefore(3))
	assert.Equal(t, dirSyncs+2, fs.Count(faultfs.OpSyncDir), "one directory fsync per removal")
	frame := int64(wal.FrameHeaderSize + len("segment 1"))
	assert.Equal(t, size-2*(wal.SegHeaderSize+frame), l.Size())
	first, cur := l.Segments()
	assert.Equal(t, uint64(3), first)
	assert.Equal(t, uint64(6), cur)
	require.NoError(t, l.RemoveBefore(100), "the current segment stays")
	first, cur = l.Segments()
	assert.Equal(t, [2]uint64{6, 6}, [2]uint64{first, cur})
	_, ok := fs.Bytes(filepath.Join(dir, wal.SegName(5)))
	assert.False(t, ok)
	require.NoError(t, l.Close())

	l, err = wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	defer l.Close()
	assert.Empty(t, replayAll(t, l))
	_, err = l.Append([]byte("more"))
	require.NoError(t, err)
}

func TestParseSyncPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want wal.SyncPolicy
		err  bool
	}{
		{"always", wal.SyncAlways, false},
		{"none", wal.SyncNone, false},
		{"100ms", wal.SyncEvery(100 * time.Millisecond), false},
		{"2s", wal.SyncEvery(2 * time.Second), false},
		{"0s", wal.SyncPolicy{}, true},
		{"-1s", wal.SyncPolicy{}, true},
		{"", wal.SyncPolicy{}, true},
		{"Always", wal.SyncPolicy{}, true},
		{"sometimes", wal.SyncPolicy{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := wal.ParseSyncPolicy(tc.in)
			if tc.err {
				require.Error(t, err)
				assert.Contains(t, err.Error(), fmt.Sprintf("%q", tc.in))
				p := wal.SyncNone
				require.Error(t, p.Set(tc.in))
				assert.Equal(t, wal.SyncNone, p, "Set changes nothing on error")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, got.String(), "String is the inverse")
		})
	}
	assert.Equal(t, wal.SyncAlways, wal.SyncPolicy{}, "the zero value is always")
	assert.Equal(t, wal.SyncAlways, wal.SyncEvery(0))
	assert.Equal(t, time.Second, wal.SyncEvery(time.Second).Interval())
	assert.Zero(t, wal.SyncNone.Interval())
}
