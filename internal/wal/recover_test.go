package wal_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq/internal/wal"
	"github.com/opencmq/cmq/internal/wal/faultfs"
)

// fixture is a closed log on a fault FS: two sealed segments and a last
// one, with the payloads and the frame offsets of each segment.
type fixture struct {
	fs     *faultfs.FS
	ps     [][]byte  // every payload, in order
	segs   [][]int64 // per segment: start offset of each frame, then the end
	counts []int     // payloads per segment
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{fs: faultfs.New()}
	l, err := wal.Open(dir, wal.Options{FS: fx.fs})
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(5, 6))
	for s := range 3 {
		offs := []int64{wal.SegHeaderSize}
		for i := range 5 {
			p := fmt.Appendf(nil, "segment %d payload %d %s", s+1, i, strings.Repeat("x", r.IntN(40)))
			pos, err := l.Append(p)
			require.NoError(t, err)
			fx.ps = append(fx.ps, p)
			offs = append(offs, pos.Offset)
		}
		fx.segs = append(fx.segs, offs)
		fx.counts = append(fx.counts, 5)
		if s < 2 {
			_, err := l.Rotate()
			require.NoError(t, err)
		}
	}
	require.NoError(t, l.Close())
	return fx
}

func segPath(n int) string { return filepath.Join(dir, wal.SegName(uint64(n))) }

func (fx *fixture) bytes(t *testing.T, seg int) []byte {
	b, ok := fx.fs.Bytes(segPath(seg))
	require.True(t, ok)
	return b
}

// open opens the log, capturing its log lines.
func (fx *fixture) open(t *testing.T) (*wal.Log, *bytes.Buffer, error) {
	var logs bytes.Buffer
	h := slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	l, err := wal.Open(dir, wal.Options{FS: fx.fs, Logger: slog.New(h)})
	if l != nil {
		t.Cleanup(func() { l.Close() })
	}
	return l, &logs, err
}

func TestTornTail(t *testing.T) {
	base := newFixture(t)
	last := base.bytes(t, 3)
	offs := base.segs[2]
	start, end := offs[len(offs)-2], offs[len(offs)-1]
	require.Equal(t, int64(len(last)), end)
	want := base.ps[:len(base.ps)-1]

	type variant struct {
		name string
		tail func(cut int64) []byte // the last segment after the damage
	}
	variants := []variant{
		{"cut", func(cut int64) []byte { return last[:cut] }},
		{"cut then zeros", func(cut int64) []byte {
			return append(bytes.Clone(last[:cut]), make([]byte, end-cut+100)...)
		}},
		{"cut then a few zeros", func(cut int64) []byte {
			return append(bytes.Clone(last[:cut]), make([]byte, 3)...)
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			for cut := start; cut < end; cut++ {
				fs := faultfs.New()
				for s := 1; s <= 2; s++ {
					fs.SetBytes(segPath(s), base.bytes(t, s))
				}
				damaged := v.tail(cut)
				fs.SetBytes(segPath(3), damaged)
				fx := &fixture{fs: fs}
				l, logs, err := fx.open(t)
				require.NoError(t, err, "cut at %d", cut)
				got := replayAll(t, l)
				require.Equal(t, want, got, "cut at %d", cut)
				if int64(len(damaged)) > start {
					assert.Equal(t, 1, strings.Count(logs.String(), "\n"), "one log line, cut at %d: %s", cut, logs)
					assert.Contains(t, logs.String(), fmt.Sprintf("file=%s offset=%d bytes=%d", segPath(3), start, int64(len(damaged))-start))
				} else {
					assert.Empty(t, logs.String(), "a clean end is no torn tail")
				}
				cutBytes, _ := fs.Bytes(segPath(3))
				require.Equal(t, last[:start], cutBytes, "the file was cut at the frame")

				// Appending afterwards works and replays.
				pos, err := l.Append([]byte("after the cut"))
				require.NoError(t, err)
				require.NoError(t, l.Sync(pos))
				require.NoError(t, l.Close())
				l, _, err = fx.open(t)
				require.NoError(t, err)
				got = replayAll(t, l)
				require.Equal(t, append(slices.Clone(want), []byte("after the cut")), got)
				require.NoError(t, l.Close())
			}
		})
	}
}

func TestZeroFilledTail(t *testing.T) {
	for _, zeros := range []int{1, 11, 12, 13, 4096} {
		t.Run(fmt.Sprint(zeros), func(t *testing.T) {
			fx := newFixture(t)
			last := fx.bytes(t, 3)
			fx.fs.SetBytes(segPath(3), append(last, make([]byte, zeros)...))
			l, logs, err := fx.open(t)
			require.NoError(t, err)
			assert.Equal(t, fx.ps, replayAll(t, l))
			assert.Contains(t, logs.String(), fmt.Sprintf("offset=%d bytes=%d", len(last), zeros))
			got, _ := fx.fs.Bytes(segPath(3))
			assert.Equal(t, last, got)
		})
	}
}

func TestTornSegmentHeader(t *testing.T) {
	base := newFixture(t)
	hdr := wal.SegHeader(4)
	for n := 0; n < wal.SegHeaderSize; n++ {
		for _, zeros := range []int{0, 7, 100} {
			fx := &fixture{fs: faultfs.New()}
			for s := 1; s <= 3; s++ {
				fx.fs.SetBytes(segPath(s), base.bytes(t, s))
			}
			fx.fs.SetBytes(segPath(4), append(bytes.Clone(hdr[:n]), make([]byte, zeros)...))
			l, _, err := fx.open(t)
			require.NoError(t, err, "header cut at %d, %d zeros", n, zeros)
			assert.Equal(t, base.ps, replayAll(t, l))
			got, _ := fx.fs.Bytes(segPath(4))
			assert.Equal(t, hdr[:], got, "header rewritten")
			_, err = l.Append([]byte("x"))
			require.NoError(t, err)
			require.NoError(t, l.Close())
		}
	}
}

func TestCorruption(t *testing.T) {
	base := newFixture(t)
	type tc struct {
		name   string
		seg    int   // segment to damage
		at     int64 // byte to flip
		offset int64 // offset the error must name
	}
	var cases []tc
	for s, offs := range base.segs {
		frames := len(offs) - 1
		for i := range frames {
			if s == 2 && i == frames-1 {
				continue // the very last frame: see TestLastFrameDamage
			}
			lo, hi := offs[i], offs[i+1]
			// Every header byte, and a sample of payload bytes.
			for at := lo; at < hi; at++ {
				if at-lo < wal.FrameHeaderSize || (at-lo)%3 == 0 || at == hi-1 {
					cases = append(cases, tc{fmt.Sprintf("segment %d frame %d byte %d", s+1, i, at-lo), s + 1, at, lo})
				}
			}
		}
	}
	for at := range int64(wal.SegHeaderSize) {
		cases = append(cases, tc{fmt.Sprintf("sealed segment header byte %d", at), 1, at, 0})
	}
	require.Greater(t, len(cases), 300)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := &fixture{fs: faultfs.New()}
			for s := 1; s <= 3; s++ {
				b := base.bytes(t, s)
				if s == c.seg {
					b[c.at] ^= 1 << (c.at % 8)
				}
				fx.fs.SetBytes(segPath(s), b)
			}
			_, _, err := fx.open(t)
			require.ErrorIs(t, err, wal.ErrCorrupt)
			assert.Contains(t, err.Error(), segPath(c.seg))
			assert.Contains(t, err.Error(), fmt.Sprintf("offset %d:", c.offset))
			var ce *wal.CorruptError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, wal.CorruptError{File: segPath(c.seg), Offset: c.offset, Reason: ce.Reason}, *ce)
			// Nothing changed: the damage is still there, for a human.
			for s := 1; s <= 3; s++ {
				b, _ := fx.fs.Bytes(segPath(s))
				want := base.bytes(t, s)
				if s == c.seg {
					want[c.at] ^= 1 << (c.at % 8)
				}
				require.Equal(t, want, b)
			}
		})
	}
}

func TestLastFrameDamage(t *testing.T) {
	base := newFixture(t)
	offs := base.segs[2]
	start := offs[len(offs)-2]
	for _, c := range []struct {
		name    string
		damage  func(b []byte) []byte
		corrupt bool
	}{
		// A damaged payload at the very end cannot be told from a torn
		// write: it is cut.
		{"payload byte flipped", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, false},
		{"checksum flipped", func(b []byte) []byte { b[start+8] ^= 1; return b }, false},
		// A length that does not check, with the rest of the frame after it,
		// is damage.
		{"length flipped", func(b []byte) []byte { b[start] ^= 1; return b }, true},
		{"length check flipped", func(b []byte) []byte { b[start+5] ^= 1; return b }, true},
		{"data after the cut frame", func(b []byte) []byte {
			b[len(b)-1] ^= 1
			return append(b, 0, 0, 1)
		}, true},
		{"garbage appended", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{0xAB}, 40)...) }, true},
		{"sealed segment with zeros after", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := &fixture{fs: faultfs.New()}
			for s := 1; s <= 3; s++ {
				b := base.bytes(t, s)
				switch {
				case c.damage == nil && s == 2:
					b = append(b, 0, 0, 0, 0)
				case c.damage != nil && s == 3:
					b = c.damage(b)
				}
				fx.fs.SetBytes(segPath(s), b)
			}
			l, _, err := fx.open(t)
			if c.corrupt {
				require.ErrorIs(t, err, wal.ErrCorrupt)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, base.ps[:len(base.ps)-1], replayAll(t, l))
		})
	}
}

func TestMissingSegment(t *testing.T) {
	base := newFixture(t)
	fx := &fixture{fs: faultfs.New()}
	fx.fs.SetBytes(segPath(1), base.bytes(t, 1))
	fx.fs.SetBytes(segPath(3), base.bytes(t, 3))
	_, _, err := fx.open(t)
	require.ErrorIs(t, err, wal.ErrCorrupt)
	assert.Contains(t, err.Error(), segPath(2))

	// A segment holding the header of another.
	fx = &fixture{fs: faultfs.New()}
	fx.fs.SetBytes(segPath(1), base.bytes(t, 2))
	_, _, err = fx.open(t)
	require.ErrorIs(t, err, wal.ErrCorrupt)
	assert.Contains(t, err.Error(), "header of segment 2")

	// Other files in the directory are left alone.
	fx = &fixture{fs: faultfs.New()}
	fx.fs.SetBytes(filepath.Join(dir, "notes.txt"), []byte("hello"))
	fx.fs.SetBytes(filepath.Join(dir, "1.wal"), []byte("hello"))
	l, _, err := fx.open(t)
	require.NoError(t, err)
	assert.Empty(t, replayAll(t, l))
}
