package faultfs_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq/internal/wal"
	"github.com/opencmq/cmq/internal/wal/faultfs"
)

const name = "/d/f"

func newFile(t *testing.T, fs *faultfs.FS, syncDir bool) wal.File {
	t.Helper()
	require.NoError(t, fs.MkdirAll("/d"))
	f, err := fs.Create(name)
	require.NoError(t, err)
	if syncDir {
		require.NoError(t, fs.SyncDir("/d"))
	}
	return f
}

func write(t *testing.T, f wal.File, b []byte) {
	t.Helper()
	size, err := f.Size()
	require.NoError(t, err)
	n, err := f.WriteAt(b, size)
	require.NoError(t, err)
	require.Equal(t, len(b), n)
}

// TestCrashKeepsSynced: across many crashes, a file holds its synced bytes,
// then a prefix of the unsynced ones, then possibly zeros, and never more
// than was written; every possible prefix length shows up.
func TestCrashKeepsSynced(t *testing.T) {
	synced, unsynced := []byte("synced-part|"), []byte("unsynced-part")
	lengths := map[int]bool{}
	zeros := 0
	for seed := range uint64(2000) {
		fs := faultfs.New()
		f := newFile(t, fs, true)
		write(t, f, synced)
		require.NoError(t, f.Sync())
		write(t, f, unsynced)
		got, ok := fs.Crash(rand.New(rand.NewPCG(seed, 0))).Bytes(name)
		require.True(t, ok)
		require.True(t, bytes.HasPrefix(got, synced), "seed %d: %q", seed, got)
		rest := got[len(synced):]
		k := 0
		for k < len(rest) && k < len(unsynced) && rest[k] == unsynced[k] {
			k++
		}
		lengths[k] = true
		require.Equal(t, make([]byte, len(rest)-k), rest[k:], "seed %d: only zeros after the prefix: %q", seed, got)
		require.LessOrEqual(t, len(got), len(synced)+len(unsynced))
		if len(rest) > k {
			zeros++
		}
	}
	assert.Len(t, lengths, len(unsynced)+1, "every prefix length")
	assert.Positive(t, zeros, "zero-filled tails happen")
}

func TestKillKeepsEverything(t *testing.T) {
	fs := faultfs.New()
	f := newFile(t, fs, false)
	write(t, f, []byte("never synced"))
	got, ok := fs.Kill().Bytes(name)
	require.True(t, ok)
	assert.Equal(t, "never synced", string(got))
}

func TestDirectoryEntries(t *testing.T) {
	for _, c := range []struct {
		name       string
		run        func(t *testing.T, fs *faultfs.FS)
		present    bool // can the file be there after a crash
		absent     bool // can it be missing
		wantOnKill bool
	}{
		{"created, directory synced", func(t *testing.T, fs *faultfs.FS) { newFile(t, fs, true) }, true, false, true},
		{"created, directory not synced", func(t *testing.T, fs *faultfs.FS) { newFile(t, fs, false) }, true, true, true},
		{"removed, directory synced", func(t *testing.T, fs *faultfs.FS) {
			newFile(t, fs, true)
			require.NoError(t, fs.Remove(name))
			require.NoError(t, fs.SyncDir("/d"))
		}, false, true, false},
		{"removed, directory not synced", func(t *testing.T, fs *faultfs.FS) {
			newFile(t, fs, true)
			require.NoError(t, fs.Remove(name))
		}, true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			seen := map[bool]bool{}
			for seed := range uint64(200) {
				fs := faultfs.New()
				c.run(t, fs)
				_, ok := fs.Crash(rand.New(rand.NewPCG(seed, 1))).Bytes(name)
				seen[ok] = true
			}
			assert.Equal(t, c.present, seen[true], "present after some crash")
			assert.Equal(t, c.absent, seen[false], "absent after some crash")
			fs := faultfs.New()
			c.run(t, fs)
			_, ok := fs.Kill().Bytes(name)
			assert.Equal(t, c.wantOnKill, ok)
		})
	}
}

func TestTruncateThenCrash(t *testing.T) {
	for seed := range uint64(300) {
		fs := faultfs.New()
		f := newFile(t, fs, true)
		write(t, f, []byte("0123456789"))
		require.NoError(t, f.Sync())
		require.NoError(t, f.Truncate(4))
		write(t, f, []byte("ab"))
		got, _ := fs.Crash(rand.New(rand.NewPCG(seed, 2))).Bytes(name)
		// The first 4 bytes are safe; after them, the new bytes in order
		// where they reached the disk, the old ones where they did not.
		ok := false
		for _, want := range []string{"0123456789", "0123a56789", "0123ab6789"} {
			ok = ok || string(got) == want
		}
		require.True(t, ok, "seed %d: %q", seed, got)
	}
}

func TestFaults(t *testing.T) {
	fs := faultfs.New()
	f := newFile(t, fs, true)
	boom := errors.New("boom")
	fs.SetFault(func(op faultfs.Op, n string) error {
		if op == faultfs.OpSync {
			return boom
		}
		return nil
	})
	write(t, f, []byte("data"))
	require.ErrorIs(t, f.Sync(), boom)
	assert.Equal(t, 1, fs.Count(faultfs.OpSync))
	assert.Equal(t, 1, fs.Count(faultfs.OpWrite))
	// A failed Sync made nothing durable.
	lost := false
	for seed := range uint64(50) {
		got, _ := fs.Crash(rand.New(rand.NewPCG(seed, 3))).Bytes(name)
		lost = lost || len(got) < 4
	}
	assert.True(t, lost)

	crashed := faultfs.New()
	f = newFile(t, crashed, true)
	crashed.Kill()
	_, err := f.WriteAt([]byte("x"), 0)
	assert.ErrorIs(t, err, faultfs.ErrCrashed)
	assert.ErrorIs(t, f.Sync(), faultfs.ErrCrashed)
	_, err = crashed.Open(name)
	assert.ErrorIs(t, err, faultfs.ErrCrashed)
}

func TestFiles(t *testing.T) {
	fs := faultfs.New()
	f := newFile(t, fs, true)
	_, err := fs.Create(name)
	require.Error(t, err, "Create of an existing file")
	_, err = fs.Open("/d/missing")
	require.Error(t, err)
	_, err = fs.ReadDir("/nowhere")
	require.Error(t, err)

	write(t, f, []byte("hello"))
	b := make([]byte, 10)
	n, err := f.ReadAt(b, 2)
	assert.Equal(t, 3, n)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, "llo", string(b[:n]))
	names, err := fs.ReadDir("/d")
	require.NoError(t, err)
	assert.Equal(t, []string{"f"}, names)

	l1, err := fs.Lock("/d/LOCK")
	require.NoError(t, err)
	_, err = fs.Lock("/d/LOCK")
	require.ErrorIs(t, err, wal.ErrLocked)
	require.NoError(t, l1.Close())
	l2, err := fs.Lock("/d/LOCK")
	require.NoError(t, err)
	require.NoError(t, l2.Close())

	require.NoError(t, f.Close())
	_, err = f.ReadAt(b, 0)
	assert.Error(t, err, "closed")
}

// mapped returns a file holding "synced|" (synced), mapped to 64 bytes,
// with "unsynced" written through the mapping after it.
func mapped(t *testing.T, fs *faultfs.FS) (wal.File, []byte) {
	t.Helper()
	f := newFile(t, fs, true)
	write(t, f, []byte("synced|"))
	require.NoError(t, f.Sync())
	mem, g, err := f.(wal.Mapper).Map(64)
	require.NoError(t, err)
	require.Len(t, mem, 64)
	writes := fs.Count(faultfs.OpWrite)
	require.NoError(t, g.BeginWrite(7, 8))
	copy(mem[7:], "unsynced")
	g.EndWrite()
	require.Equal(t, writes+1, fs.Count(faultfs.OpWrite), "counted as a write")
	return f, mem
}

// TestMapping: writes through a mapping are the file's content at once,
// count as writes, survive Kill, and under Crash follow the loss model of
// written bytes; Truncate fails while the file is mapped.
func TestMapping(t *testing.T) {
	fs := faultfs.New()
	f, _ := mapped(t, fs)
	size, err := f.Size()
	require.NoError(t, err)
	assert.Equal(t, int64(64), size, "extended")
	assert.Error(t, f.Truncate(7), "truncate while mapped")
	b := make([]byte, 15)
	_, err = f.ReadAt(b, 0)
	require.NoError(t, err)
	assert.Equal(t, "synced|unsynced", string(b), "visible at once")
	require.NoError(t, f.(wal.Mapper).Unmap())
	require.NoError(t, f.Truncate(15), "unmapped")
	got, _ := fs.Kill().Bytes(name)
	assert.Equal(t, "synced|unsynced", string(got), "Kill keeps everything")

	// Crash: the synced bytes, a prefix of the mapped ones, then zeros.
	prefixes := map[int]bool{}
	for seed := range uint64(500) {
		fs := faultfs.New()
		mapped(t, fs)
		got, ok := fs.Crash(rand.New(rand.NewPCG(seed, 1))).Bytes(name)
		require.True(t, ok)
		require.True(t, bytes.HasPrefix(got, []byte("synced|")), "seed %d: %q", seed, got)
		rest := got[7:]
		k := 0
		for k < len(rest) && k < 8 && rest[k] == "unsynced"[k] {
			k++
		}
		prefixes[k] = true
		require.Equal(t, make([]byte, len(rest)-k), rest[k:], "seed %d", seed)
		require.LessOrEqual(t, len(got), 64)
	}
	assert.Len(t, prefixes, 9, "every prefix of the mapped write")

	// A synced mapping survives a crash whole.
	fs = faultfs.New()
	f, _ = mapped(t, fs)
	require.NoError(t, f.Sync())
	got, _ = fs.Crash(rand.New(rand.NewPCG(1, 1))).Bytes(name)
	assert.Equal(t, append([]byte("synced|unsynced"), make([]byte, 64-15)...), got)
}
