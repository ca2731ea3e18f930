package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// FS is the file system a [Log] works on. It is deliberately small so that
// a test can put a fault-injecting implementation in its place (package
// internal/wal/faultfs has one). Names are full paths made with
// filepath.Join. The zero [Options].FS means [OSFS].
type FS interface {
	// MkdirAll creates dir and its parents if they do not exist.
	MkdirAll(dir string) error
	// ReadDir returns the names (not paths) of the entries of dir, sorted.
	ReadDir(dir string) ([]string, error)
	// Open opens an existing file for reading and writing.
	Open(name string) (File, error)
	// Create creates a new, empty file for reading and writing. It fails
	// if the file exists.
	Create(name string) (File, error)
	// Remove deletes a file.
	Remove(name string) error
	// SyncDir makes the directory's entries durable: files created in or
	// removed from dir before the call survive a power loss.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on the file name (creating it if
	// needed) without waiting. If another holder has it, Lock returns an
	// error wrapping [ErrLocked]. Closing the returned Closer releases it.
	Lock(name string) (io.Closer, error)
}

// File is an open file of an [FS].
type File interface {
	io.ReaderAt
	// WriteAt writes len(p) bytes at offset off. A Log writes a frame, or
	// the frames of one round (SyncAlways), with one call.
	io.WriterAt
	// Sync makes everything written so far durable (fsync).
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Size returns the current size of the file.
	Size() (int64, error)
	io.Closer
}

// Allocator is implemented by a [File] that can reserve space ahead of
// its writes. Under SyncAlways a Log preallocates its current segment in
// steps with it, so that an fsync need not record the file's growth; a
// file that is not an Allocator grows with each write.
type Allocator interface {
	// Allocate extends the file to size bytes, if it is shorter, reserving
	// the blocks (the new bytes read as zero).
	Allocate(size int64) error
}

// Mapper is implemented by a [File] that can be mapped into memory, shared
// with the file: bytes written through the mapping are the file's bytes at
// once (in the kernel's page cache, so they survive the death of the
// process), and File.Sync makes them durable like written ones. Under
// SyncNone and SyncEvery a Log appends through the mapping of its current
// segment when the file is a Mapper, and with WriteAt otherwise (or when
// Map fails).
type Mapper interface {
	// Map maps the first size bytes of the file for reading and writing,
	// first extending the file to size bytes if it is shorter (the new
	// bytes read as zero). The file must not be mapped already, and it
	// must not be truncated or written past the mapping until Unmap.
	// A non-nil MapGuard brackets every write through the mapping.
	Map(size int64) ([]byte, MapGuard, error)
	// Unmap removes the mapping; the bytes written through it stay in the
	// file. The mapping must not be used afterwards. Closing the file
	// unmaps it too.
	Unmap() error
}

// MapGuard lets a fault-injecting FS see every write through a mapping: a
// writer calls BeginWrite before writing n bytes at off and, if it returned
// nil, EndWrite after. A BeginWrite error means nothing may be written.
// The operating system's mapping has none.
type MapGuard interface {
	BeginWrite(off, n int64) error
	EndWrite()
}

// OSFS is the operating system's file system: the FS a Log uses when
// [Options].FS is nil.
type OSFS struct{}

var _ FS = OSFS{}

// MkdirAll implements [FS].
func (OSFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// ReadDir implements [FS].
func (OSFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

// Open implements [FS].
func (OSFS) Open(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

// Create implements [FS].
func (OSFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

// Remove implements [FS].
func (OSFS) Remove(name string) error { return os.Remove(name) }

// SyncDir implements [FS].
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Lock implements [FS] with flock(LOCK_EX|LOCK_NB) where the platform has
// it, so the lock holds against other processes and against a second Open
// in the same process; it is released when the process dies.
func (OSFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	c, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s is in use by another log (lock %s: %v)", ErrLocked, filepath.Dir(name), name, err)
	}
	return c, nil
}

// osFile is a file of OSFS. Where the platform supports it (fs_mmap.go)
// it is a Mapper, and mem is its mapping.
type osFile struct {
	*os.File
	mem []byte
}

func (f *osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
