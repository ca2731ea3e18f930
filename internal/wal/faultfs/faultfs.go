// Package faultfs is an in-memory wal.FS for tests: it counts operations,
// fails the ones a test chooses, and can crash, producing the state a power
// loss could leave behind.
//
// # Loss model
//
// The FS records, for every file, the content it had at its last successful
// Sync, and for every directory, the entries it had at its last SyncDir.
// [FS.Crash] returns a new FS holding what survives a power loss:
//
//   - A directory entry created or removed since the last SyncDir of its
//     directory is, at random, as it is now or as it was then (a file
//     created and never SyncDir'ed may vanish; a removed one may come back).
//   - For each surviving file, every byte before the first byte changed
//     since its last Sync survives, plus a random prefix of the bytes
//     written or truncated since (writes reach the disk in offset order,
//     which is how a Log writes); bytes of the synced content past that
//     prefix are kept as they were; and when the prefix stops short of the
//     end of the file, the file may go on with a random number of zero
//     bytes (the size was extended but the data blocks were not written).
//   - A Sync that fails (see [FS.SetFault]) makes nothing durable.
//   - Locks are released; the crashed FS refuses every call with ErrCrashed.
//
// [FS.Kill] models the death of the process instead: the kernel keeps every
// byte written, synced or not.
//
// # Mappings
//
// Files are [wal.Mapper]s. The mapping is the file's in-memory content
// itself, so writes through it are visible to reads at once, as with a
// shared mapping. Every write through it is bracketed by the returned
// [wal.MapGuard], which counts it as an OpWrite (and may fail it, see
// [FS.SetFault]), holds the FS's lock during the write and records which
// bytes changed, so the loss model treats bytes written through a mapping
// exactly like bytes written with WriteAt: Kill keeps them all; Crash keeps
// the synced content plus a random prefix of the unsynced bytes, possibly
// followed by zeros (the preallocated, unwritten rest of the file). While
// a file is mapped, Truncate and a WriteAt past the mapping fail (on a real
// system they would detach the mapping or make it fault).
package faultfs

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/opencmq/cmq/internal/wal"
)

// Op names an operation of the FS, for counts and faults.
type Op string

// The operations.
const (
	OpCreate   Op = "create"
	OpOpen     Op = "open"
	OpWrite    Op = "write"
	OpSync     Op = "sync"
	OpSyncDir  Op = "syncdir"
	OpTruncate Op = "truncate"
	OpRemove   Op = "remove"
	OpMap      Op = "map"
)

// ErrCrashed is returned by every call on an FS after Crash or Kill, and on
// its files.
var ErrCrashed = errors.New("faultfs: file system crashed")

// FS is an in-memory wal.FS. The zero value is not usable: call New.
// It is safe for concurrent use.
type FS struct {
	mu      sync.Mutex
	dirs    map[string]bool
	names   map[string]*inode // directory entries now
	durable map[string]*inode // directory entries at the last SyncDir
	locks   map[string]bool
	crashed bool
	counts  map[Op]int
	fault   func(op Op, name string) error
}

type inode struct {
	data []byte
	hi   int // data[hi:] is all zero bytes
	// The content at the last successful Sync is durable followed by zero
	// bytes up to durSize (kept short, so that a preallocated file does
	// not cost a copy of its padding per Sync).
	durable []byte
	durSize int
	dirty   int  // data[:dirty] is unchanged since then (and equals that content)
	mapped  bool // a mapping of data exists
}

// durableAt returns the durable content from k on.
func (ino *inode) durableAt(k int) []byte {
	if k >= ino.durSize {
		return nil
	}
	b := slices.Clone(ino.durable[min(k, len(ino.durable)):])
	return append(b, make([]byte, ino.durSize-max(k, len(ino.durable)))...)
}

func newInode(b []byte) *inode {
	return &inode{data: b, hi: len(b), durable: slices.Clone(b), durSize: len(b), dirty: len(b)}
}

var (
	_ wal.FS     = (*FS)(nil)
	_ wal.Mapper = (*file)(nil)
)

// New returns an empty FS.
func New() *FS {
	return &FS{
		dirs:    map[string]bool{},
		names:   map[string]*inode{},
		durable: map[string]*inode{},
		locks:   map[string]bool{},
		counts:  map[Op]int{},
	}
}

// SetFault installs f, called (without the FS's lock) before every
// operation op on file name; a non-nil result fails the operation, which
// then changes nothing. Nil removes it.
func (fs *FS) SetFault(f func(op Op, name string) error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.fault = f
}

// Count returns how many times op was called (failed calls included).
func (fs *FS) Count(op Op) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.counts[op]
}

// begin counts op, checks the FS and runs the fault hook; it returns with
// fs.mu held on success.
func (fs *FS) begin(op Op, name string) error {
	fs.mu.Lock()
	fs.counts[op]++
	if fs.crashed {
		fs.mu.Unlock()
		return ErrCrashed
	}
	f := fs.fault
	if f == nil {
		return nil
	}
	fs.mu.Unlock()
	if err := f(op, name); err != nil {
		return &os.PathError{Op: string(op), Path: name, Err: err}
	}
	fs.mu.Lock()
	if fs.crashed {
		fs.mu.Unlock()
		return ErrCrashed
	}
	return nil
}

// MkdirAll implements wal.FS.
func (fs *FS) MkdirAll(dir string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.crashed {
		return ErrCrashed
	}
	for d := filepath.Clean(dir); !fs.dirs[d]; d = filepath.Dir(d) {
		fs.dirs[d] = true
	}
	return nil
}

// ReadDir implements wal.FS.
func (fs *FS) ReadDir(dir string) ([]string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.crashed {
		return nil, ErrCrashed
	}
	dir = filepath.Clean(dir)
	if !fs.dirs[dir] {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: iofs.ErrNotExist}
	}
	var names []string
	for p := range fs.names {
		if filepath.Dir(p) == dir {
			names = append(names, filepath.Base(p))
		}
	}
	slices.Sort(names)
	return names, nil
}

// Open implements wal.FS.
func (fs *FS) Open(name string) (wal.File, error) {
	name = filepath.Clean(name)
	if err := fs.begin(OpOpen, name); err != nil {
		return nil, err
	}
	defer fs.mu.Unlock()
	ino := fs.names[name]
	if ino == nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: iofs.ErrNotExist}
	}
	return &file{fs: fs, name: name, ino: ino}, nil
}

// Create implements wal.FS.
func (fs *FS) Create(name string) (wal.File, error) {
	name = filepath.Clean(name)
	if err := fs.begin(OpCreate, name); err != nil {
		return nil, err
	}
	defer fs.mu.Unlock()
	if fs.names[name] != nil {
		return nil, &os.PathError{Op: "create", Path: name, Err: iofs.ErrExist}
	}
	if !fs.dirs[filepath.Dir(name)] {
		return nil, &os.PathError{Op: "create", Path: name, Err: iofs.ErrNotExist}
	}
	ino := &inode{}
	fs.names[name] = ino
	return &file{fs: fs, name: name, ino: ino}, nil
}

// Remove implements wal.FS.
func (fs *FS) Remove(name string) error {
	name = filepath.Clean(name)
	if err := fs.begin(OpRemove, name); err != nil {
		return err
	}
	defer fs.mu.Unlock()
	if fs.names[name] == nil {
		return &os.PathError{Op: "remove", Path: name, Err: iofs.ErrNotExist}
	}
	delete(fs.names, name)
	return nil
}

// SyncDir implements wal.FS.
func (fs *FS) SyncDir(dir string) error {
	dir = filepath.Clean(dir)
	if err := fs.begin(OpSyncDir, dir); err != nil {
		return err
	}
	defer fs.mu.Unlock()
	for p := range fs.durable {
		if filepath.Dir(p) == dir && fs.names[p] == nil {
			delete(fs.durable, p)
		}
	}
	for p, ino := range fs.names {
		if filepath.Dir(p) == dir {
			fs.durable[p] = ino
		}
	}
	return nil
}

type lock struct {
	fs   *FS
	name string
	once sync.Once
}

func (l *lock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		delete(l.fs.locks, l.name)
		l.fs.mu.Unlock()
	})
	return nil
}

// Lock implements wal.FS: one holder per name within this FS.
func (fs *FS) Lock(name string) (io.Closer, error) {
	name = filepath.Clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.crashed {
		return nil, ErrCrashed
	}
	if fs.locks[name] {
		return nil, fmt.Errorf("%w: %s is in use by another log (lock %s held)", wal.ErrLocked, filepath.Dir(name), name)
	}
	fs.locks[name] = true
	return &lock{fs: fs, name: name}, nil
}

// Kill returns the state the death of the process leaves: every directory
// entry and every byte written, synced or not. The FS itself then fails
// every call with ErrCrashed.
func (fs *FS) Kill() *FS {
	return fs.crash(nil)
}

// Crash returns the state a power loss could leave, drawn with r (see the
// package documentation for the loss model). The FS itself then fails every
// call with ErrCrashed.
func (fs *FS) Crash(r *rand.Rand) *FS {
	return fs.crash(r)
}

func (fs *FS) crash(r *rand.Rand) *FS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.crashed = true
	n := New()
	for d := range fs.dirs {
		n.dirs[d] = true
	}
	paths := map[string]bool{}
	for p := range fs.names {
		paths[p] = true
	}
	for p := range fs.durable {
		paths[p] = true
	}
	// Sorted, so that a seed reproduces a crash.
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range paths {
			if !yield(p) {
				return
			}
		}
	}) {
		ino := fs.names[p]
		if r != nil && ino != fs.durable[p] && r.IntN(2) == 0 {
			ino = fs.durable[p]
		}
		if ino == nil {
			continue
		}
		img := slices.Clone(ino.data)
		if r != nil {
			img = ino.image(r)
		}
		n.names[p] = newInode(img)
		n.durable[p] = n.names[p]
	}
	return n
}

// image returns what a power loss leaves of the file.
func (ino *inode) image(r *rand.Rand) []byte {
	// A prefix of the written bytes: past hi there are only zeros, which
	// the zero extension below covers.
	k := ino.dirty + r.IntN(max(ino.hi, ino.dirty)-ino.dirty+1)
	img := slices.Clone(ino.data[:k])
	if ino.durSize > k {
		return append(img, ino.durableAt(k)...)
	}
	if k < len(ino.data) && r.IntN(2) == 0 {
		img = append(img, make([]byte, r.IntN(len(ino.data)-k+1))...)
	}
	return img
}

// Bytes returns a copy of the current content of the file name (for tests
// that inspect or damage files), or false if there is none.
func (fs *FS) Bytes(name string) ([]byte, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ino := fs.names[filepath.Clean(name)]
	if ino == nil {
		return nil, false
	}
	return slices.Clone(ino.data), true
}

// SetBytes replaces the content of the file name, creating it, as a durable
// fact (synced, entry included): the way tests plant damaged files.
func (fs *FS) SetBytes(name string, b []byte) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	name = filepath.Clean(name)
	for d := filepath.Dir(name); !fs.dirs[d]; d = filepath.Dir(d) {
		fs.dirs[d] = true
	}
	ino := newInode(slices.Clone(b))
	fs.names[name] = ino
	fs.durable[name] = ino
}

type file struct {
	fs     *FS
	name   string
	ino    *inode
	closed bool
	mapped bool // this file holds the inode's mapping
}

func (f *file) check() error {
	if f.fs.crashed {
		return ErrCrashed
	}
	if f.closed {
		return &os.PathError{Op: "use", Path: f.name, Err: iofs.ErrClosed}
	}
	return nil
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "read", Path: f.name, Err: iofs.ErrInvalid}
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.begin(OpWrite, f.name); err != nil {
		return 0, err
	}
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: iofs.ErrInvalid}
	}
	ino := f.ino
	end := int(off) + len(p)
	if ino.mapped && end > len(ino.data) {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: errMapped}
	}
	ino.dirty = min(ino.dirty, int(off), len(ino.data))
	if end > len(ino.data) {
		ino.data = append(ino.data, make([]byte, end-len(ino.data))...)
	}
	copy(ino.data[off:], p)
	ino.hi = max(ino.hi, end)
	return len(p), nil
}

func (f *file) Sync() error {
	if err := f.fs.begin(OpSync, f.name); err != nil {
		return err
	}
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	ino := f.ino
	k := min(ino.dirty, len(ino.durable), ino.hi)
	ino.durable = append(ino.durable[:k], ino.data[k:max(k, ino.hi)]...)
	ino.durSize = len(ino.data)
	ino.dirty = len(ino.data)
	return nil
}

func (f *file) Truncate(size int64) error {
	if err := f.fs.begin(OpTruncate, f.name); err != nil {
		return err
	}
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: iofs.ErrInvalid}
	}
	ino := f.ino
	if ino.mapped {
		return &os.PathError{Op: "truncate", Path: f.name, Err: errMapped}
	}
	ino.truncate(int(size))
	return nil
}

func (ino *inode) truncate(size int) {
	if size < len(ino.data) {
		ino.data = ino.data[:size]
		ino.dirty = min(ino.dirty, size)
		ino.hi = min(ino.hi, size)
	} else {
		ino.dirty = min(ino.dirty, len(ino.data))
		n := len(ino.data)
		ino.data = slices.Grow(ino.data, size-n)[:size]
		clear(ino.data[n:]) // a shrunk slice keeps its old bytes
	}
}

var errMapped = errors.New("faultfs: file is mapped")

// Map implements wal.Mapper: the mapping is the file's content itself
// (see the package documentation). OpMap faults fail it.
func (f *file) Map(size int64) ([]byte, wal.MapGuard, error) {
	if err := f.fs.begin(OpMap, f.name); err != nil {
		return nil, nil, err
	}
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	ino := f.ino
	if size <= 0 || ino.mapped {
		return nil, nil, &os.PathError{Op: "map", Path: f.name, Err: iofs.ErrInvalid}
	}
	if int(size) > len(ino.data) {
		ino.truncate(int(size))
	}
	ino.mapped = true
	f.mapped = true
	return ino.data[:size:size], guard{f}, nil
}

// Unmap implements wal.Mapper.
func (f *file) Unmap() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.unmap()
	return nil
}

func (f *file) unmap() {
	if f.mapped {
		f.mapped = false
		f.ino.mapped = false
	}
}

// guard brackets the writes through a file's mapping.
type guard struct{ f *file }

// BeginWrite counts an OpWrite, runs the fault hook and takes the FS's
// lock, which EndWrite releases.
func (g guard) BeginWrite(off, n int64) error {
	f := g.f
	if err := f.fs.begin(OpWrite, f.name); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		f.fs.mu.Unlock()
		return err
	}
	if !f.mapped || off < 0 || int(off+n) > len(f.ino.data) {
		f.fs.mu.Unlock()
		return &os.PathError{Op: "write", Path: f.name, Err: iofs.ErrInvalid}
	}
	f.ino.dirty = min(f.ino.dirty, int(off))
	f.ino.hi = max(f.ino.hi, int(off+n))
	return nil
}

// EndWrite releases the FS's lock.
func (g guard) EndWrite() { g.f.fs.mu.Unlock() }

func (f *file) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	return int64(len(f.ino.data)), nil
}

func (f *file) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: iofs.ErrClosed}
	}
	f.closed = true
	f.unmap()
	return nil
}
