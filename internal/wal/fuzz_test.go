package wal_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/opencmq/cmq/internal/wal"
	"github.com/opencmq/cmq/internal/wal/faultfs"
)

// FuzzOpen takes arbitrary bytes as the content of the last segment (and,
// with sealed set, of a sealed one followed by a valid last segment). Open
// and Replay never panic, never allocate much more than the file holds
// (a damaged length cannot make them allocate up to MaxPayload), and
// either fail with ErrCorrupt or replay frames that, appended to a fresh
// log, round-trip.
func FuzzOpen(f *testing.F) {
	valid := wal.SegHeader(1)
	seg := valid[:]
	for _, p := range []string{"", "a", "hello, world", string(make([]byte, 300))} {
		seg = wal.AppendFrame(seg, []byte(p))
	}
	f.Add(seg, false)
	f.Add(seg, true)
	f.Add(seg[:len(seg)-5], false)
	f.Add(append(bytes.Clone(seg), make([]byte, 40)...), false)
	huge := bytes.Clone(valid[:])
	huge = binary.LittleEndian.AppendUint32(huge, wal.MaxPayload)
	huge = binary.LittleEndian.AppendUint32(huge, ^uint32(wal.MaxPayload))
	huge = append(huge, 1, 2, 3, 4, 5, 6)
	f.Add(huge, false)
	f.Add([]byte{}, false)
	f.Add(valid[:7], false)

	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		fs := faultfs.New()
		if sealed {
			fs.SetBytes(segPath(1), data)
			last := wal.SegHeader(2)
			fs.SetBytes(segPath(2), wal.AppendFrame(last[:], []byte("last")))
		} else {
			fs.SetBytes(segPath(1), data)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		l, err := wal.Open(dir, wal.Options{FS: fs})
		var got [][]byte
		if err == nil {
			err = l.Replay(func(p []byte) error {
				got = append(got, bytes.Clone(p))
				return nil
			})
			if err != nil {
				t.Fatalf("Open succeeded, Replay failed: %v", err)
			}
			l.Close()
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20+8*uint64(len(data)) {
			t.Fatalf("allocated %d bytes for a %d-byte file", alloc, len(data))
		}
		if err != nil {
			if !errors.Is(err, wal.ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
			return
		}

		// What was replayed round-trips through a fresh log.
		fs = faultfs.New()
		l, err = wal.Open(dir, wal.Options{FS: fs, SegmentBytes: 64})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range got {
			if _, err := l.Append(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, err = wal.Open(dir, wal.Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		i := 0
		err = l.Replay(func(p []byte) error {
			if i >= len(got) || !bytes.Equal(p, got[i]) {
				t.Fatalf("payload %d differs after the round trip", i)
			}
			i++
			return nil
		})
		if err != nil || i != len(got) {
			t.Fatalf("round trip: %d of %d payloads, %v", i, len(got), err)
		}
	})
}
