package wal_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq/internal/wal"
	"github.com/opencmq/cmq/internal/wal/faultfs"
)

// fileSize returns the size of segment n's file.
func fileSize(t *testing.T, fs *faultfs.FS, n int) int {
	t.Helper()
	b, ok := fs.Bytes(segPath(n))
	require.True(t, ok, "segment %d", n)
	return len(b)
}

// TestMappedKill: under SyncNone and SyncEvery, appends through the
// mapping of a preallocated segment survive the death of the process without any fsync, and the reopened
// log holds exactly those frames: its zero padding is the end of the
// segment, cut without being called a torn write.
func TestMappedKill(t *testing.T) {
	for _, policy := range []wal.SyncPolicy{wal.SyncNone, wal.SyncEvery(time.Hour)} {
		t.Run(policy.String(), func(t *testing.T) {
			fs := faultfs.New()
			l, err := wal.Open(dir, wal.Options{FS: fs, Sync: policy})
			require.NoError(t, err)
			syncs := fs.Count(faultfs.OpSync)
			ps := randomPayloads(rand.New(rand.NewPCG(11, 12)), 100, 100)
			pos := appendAll(t, l, ps)
			assert.Equal(t, syncs, fs.Count(faultfs.OpSync), "no fsync")
			assert.Greater(t, fileSize(t, fs, 1), int(pos[len(pos)-1].Offset), "preallocated")
			assert.Equal(t, pos[len(pos)-1].Offset, l.Size())

			fs = fs.Kill()
			l.Close()
			fx := &fixture{fs: fs}
			l, logs, err := fx.open(t)
			require.NoError(t, err)
			assert.Equal(t, ps, nilToEmpty(replayAll(t, l)))
			assert.Equal(t, pos[len(pos)-1].Offset, l.Size())
			assert.Equal(t, int(l.Size()), fileSize(t, fs, 1), "padding cut")
			assert.NotContains(t, logs.String(), "torn")
			assert.Contains(t, logs.String(), "zero padding")

			// Appends go on in the same segment, after the last frame.
			p, err := l.Append([]byte("after"))
			require.NoError(t, err)
			assert.Equal(t, wal.Pos{Segment: 1, Offset: pos[len(pos)-1].Offset + wal.FrameHeaderSize + 5}, p)
			require.NoError(t, l.Close())
			assert.Equal(t, int(p.Offset), fileSize(t, fs, 1), "Close cuts the padding")
			l, _, err = fx.open(t)
			require.NoError(t, err)
			assert.Equal(t, append(ps, []byte("after")), nilToEmpty(replayAll(t, l)))
		})
	}
}

// TestMappedRotation: a frame that does not fit in the rest of the segment
// starts a new one; a frame larger than a segment gets a segment sized for
// it; sealed segments are cut to their used length, and Size counts frames,
// not padding.
func TestMappedRotation(t *testing.T) {
	const segBytes = 256
	for _, tc := range []struct {
		name     string
		sizes    []int
		segments []uint64 // segment of each frame
	}{
		{"fits", []int{100, 100}, []uint64{1, 1}},
		{"does not fit", []int{100, 100, 100}, []uint64{1, 1, 2}},
		{"exactly fits", []int{segBytes - wal.SegHeaderSize - wal.FrameHeaderSize, 1}, []uint64{1, 2}},
		{"huge", []int{10, 5000, 10}, []uint64{1, 2, 3}},
		{"huge first", []int{5000, 5000}, []uint64{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := faultfs.New()
			o := wal.Options{FS: fs, Sync: wal.SyncNone, SegmentBytes: segBytes}
			l, err := wal.Open(dir, o)
			require.NoError(t, err)
			var ps [][]byte
			for i, n := range tc.sizes {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				pos, err := l.Append(p)
				require.NoError(t, err)
				assert.Equal(t, tc.segments[i], pos.Segment, "frame %d", i)
				ps = append(ps, p)
			}
			_, cur := l.Segments()
			var total int
			for s := 1; s < int(cur); s++ {
				total += fileSize(t, fs, s) // sealed: no padding
			}
			require.NoError(t, l.Close())
			total += fileSize(t, fs, int(cur))
			assert.Equal(t, int64(total), l.Size())
			l, err = wal.Open(dir, o)
			require.NoError(t, err)
			defer l.Close()
			assert.Equal(t, int64(total), l.Size())
			assert.Equal(t, ps, replayAll(t, l))
		})
	}
}

// TestSealedPadding: a sealed segment that ends in zero padding (a crash
// between the steps of sealing) opens; fewer zeros than a frame header are
// still corruption (TestLastFrameDamage).
func TestSealedPadding(t *testing.T) {
	for _, zeros := range []int{wal.FrameHeaderSize, 100, 1 << 16} {
		t.Run(fmt.Sprint(zeros), func(t *testing.T) {
			base := newFixture(t)
			fx := &fixture{fs: faultfs.New()}
			for s := 1; s <= 3; s++ {
				b := base.bytes(t, s)
				if s == 2 {
					b = append(b, make([]byte, zeros)...)
				}
				fx.fs.SetBytes(segPath(s), b)
			}
			l, _, err := fx.open(t)
			require.NoError(t, err)
			assert.Equal(t, base.ps, replayAll(t, l))
		})
	}
}

// TestMapFailure: a file that cannot be mapped is written with WriteAt,
// one write per frame, and reads back the same.
func TestMapFailure(t *testing.T) {
	fs := faultfs.New()
	fs.SetFault(func(op faultfs.Op, name string) error {
		if op == faultfs.OpMap {
			return errInjected
		}
		return nil
	})
	l, err := wal.Open(dir, wal.Options{FS: fs, Sync: wal.SyncNone, SegmentBytes: 1000})
	require.NoError(t, err)
	writes := fs.Count(faultfs.OpWrite)
	ps := randomPayloads(rand.New(rand.NewPCG(13, 14)), 50, 100)
	pos := appendAll(t, l, ps)
	_, cur := l.Segments()
	assert.Equal(t, writes+len(ps)+int(cur)-1, fs.Count(faultfs.OpWrite), "a write per frame and per new segment header")
	assert.Equal(t, int(pos[len(pos)-1].Offset), fileSize(t, fs, int(cur)), "not preallocated")
	require.NoError(t, l.Close())
	fs.SetFault(nil)
	l, err = wal.Open(dir, wal.Options{FS: fs})
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, ps, nilToEmpty(replayAll(t, l)))
}
