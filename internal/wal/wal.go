package wal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Options configure a Log. The zero value is valid: SyncAlways, 64 MiB
// segments, the operating system's file system, no logging.
type Options struct {
	// Sync says when appended frames are made durable. Zero: SyncAlways.
	Sync SyncPolicy
	// SegmentBytes is the size past which the current segment is sealed
	// and a new one started: Append starts a new segment rather than
	// grow a non-empty one past it (a frame larger than it gets a segment
	// of its own). Zero: DefaultSegmentBytes (64 MiB). Negative: Open fails.
	SegmentBytes int64
	// FS is the file system. Nil: OSFS. Tests pass a fault-injecting one.
	FS FS
	// Logger receives one warning line per torn tail cut at Open (file,
	// offset, bytes cut). Nil: discard.
	Logger *slog.Logger
}

// Pos is the position just past a frame: the segment that holds it and
// the byte offset of its end in that segment. Positions order by Segment,
// then Offset. The zero Pos is before every frame.
type Pos struct {
	Segment uint64
	Offset  int64
}

// Less reports whether p is before q.
func (p Pos) Less(q Pos) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

type segment struct {
	num  uint64
	size int64
}

// Log is a write-ahead log: a directory of segment files holding opaque
// payloads in frames, appended in order and replayed in order. All methods
// are safe for concurrent use.
//
// A Log holds an exclusive lock on its directory until Close. The zero Log
// is not usable: Open returns one.
type Log struct {
	fs      FS
	dir     string
	policy  SyncPolicy
	segMax  int64
	logger  *slog.Logger
	lock    io.Closer
	replay  []segment  // the segments and their valid sizes at Open
	removeM sync.Mutex // serializes RemoveBefore

	mu       sync.Mutex
	cond     sync.Cond      // on mu: a sync finished or the log closed
	f        File           // the current segment
	seg      uint64         // its number
	off      int64          // its used length: the end of the last frame
	mem      []byte         // f's mapping while mapped, f[0:len(mem)]
	guard    MapGuard       // of mem, or nil
	noMap    bool           // f is not a Mapper or Map failed: write(2)
	sealed   []segment      // sealed segments, oldest first
	sealedN  int64          // their total size
	synced   Pos            // everything up to here is durable
	wmu      sync.Mutex     // buffered: taken with mu held, so that buffered frames are written in order
	flight   *round         // the round in flight, or nil
	next     *round         // the round to start when a flight ends, gathering waiters; or nil
	blocked  int            // callers in waitIdle: no new round starts meanwhile
	chains   sync.WaitGroup // a goroutine while rounds follow one another; Close waits
	buffered bool           // SyncAlways: frames wait in pend for their round's write
	pend     []byte         // buffered: frames not yet written, from pendAt to off
	pendAt   int64
	spare    []byte // buffered: a buffer for pend, from a finished round
	alloc    int64  // the size the current segment may have been extended to (preallocated); the file is no longer than max(alloc, off)
	err      error  // sticky failure; wraps ErrFailed
	closed   bool
	buf      []byte // frame buffer, reused
	timer    *time.Timer
	armed    bool           // timer pending (SyncEvery)
	ticks    sync.WaitGroup // one per arming; Close waits
}

// Open opens the log in dir, creating dir and the first segment if needed.
// It locks dir (a second Open of the same dir, in this process or another,
// fails with ErrLocked until Close), then reads and verifies every segment:
//
//   - A bad or incomplete frame at the very end of the last segment is a
//     torn write: the file is cut there, one line is logged, and Open
//     goes on. "At the very end" means an incomplete frame header, a frame
//     whose declared end is past the end of the file, or a frame that
//     fails its check followed by nothing but zero bytes.
//   - A zero frame header followed by nothing but zeros is the end of a
//     segment (preallocated padding): cut in the last segment, tolerated
//     in a sealed one.
//   - Anything else that fails to check (a bad frame with data after it,
//     any bad frame or trailing bytes in a sealed segment, a bad segment
//     header, a missing segment) makes Open fail with a *CorruptError
//     (errors.Is(err, ErrCorrupt)) naming the file and byte offset.
//
// Open fsyncs the last segment, so everything Replay yields is durable.
func Open(dir string, o Options) (*Log, error) {
	if o.SegmentBytes < 0 {
		return nil, fmt.Errorf("wal: SegmentBytes %d is negative", o.SegmentBytes)
	}
	l := &Log{fs: o.FS, dir: dir, policy: o.Sync, segMax: o.SegmentBytes, logger: o.Logger, buffered: o.Sync.every == 0}
	if l.fs == nil {
		l.fs = OSFS{}
	}
	if l.segMax == 0 {
		l.segMax = DefaultSegmentBytes
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	l.cond.L = &l.mu
	if err := l.fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	lock, err := l.fs.Lock(filepath.Join(dir, "LOCK"))
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("wal: lock %s: %w", dir, err)
	}
	l.lock = lock
	if err := l.recover(); err != nil {
		if l.f != nil {
			l.f.Close()
		}
		lock.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) path(n uint64) string { return filepath.Join(l.dir, segName(n)) }

// recover lists, verifies and opens the segments.
func (l *Log) recover() error {
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("wal: open %s: %w", l.dir, err)
	}
	var nums []uint64
	for _, name := range names {
		if n, ok := parseSegName(name); ok {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	if len(nums) == 0 {
		f, err := l.createSegment(1)
		if err != nil {
			return err
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			f.Close()
			return fmt.Errorf("wal: sync %s: %w", l.dir, err)
		}
		l.f, l.seg, l.off, l.pendAt = f, 1, segHeaderSize, segHeaderSize
		l.synced = Pos{l.seg, l.off}
		l.replay = []segment{{1, segHeaderSize}}
		return nil
	}
	for i, n := range nums {
		if i > 0 && n != nums[i-1]+1 {
			return &CorruptError{File: l.path(nums[i-1] + 1), Reason: fmt.Sprintf("segment missing between %d and %d", nums[i-1], n)}
		}
	}
	for i, n := range nums {
		last := i == len(nums)-1
		f, err := l.fs.Open(l.path(n))
		if err != nil {
			return fmt.Errorf("wal: open: %w", err)
		}
		size, err := l.verify(f, n, last)
		if err != nil {
			f.Close()
			return err
		}
		l.replay = append(l.replay, segment{n, size})
		if !last {
			f.Close()
			l.sealed = append(l.sealed, segment{n, size})
			l.sealedN += size
			continue
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("wal: sync %s: %w", l.path(n), err)
		}
		l.f, l.seg, l.off, l.pendAt = f, n, size, size
		l.synced = Pos{n, size}
	}
	return nil
}

// verify checks segment n and returns its valid size, cutting a torn tail
// if last.
func (l *Log) verify(f File, n uint64, last bool) (int64, error) {
	name := l.path(n)
	size, err := f.Size()
	if err != nil {
		return 0, fmt.Errorf("wal: open %s: %w", name, err)
	}
	h, err := readAll(f, 0, min(size, segHeaderSize))
	if err != nil {
		return 0, fmt.Errorf("wal: read %s: %w", name, err)
	}
	if why := checkSegHeader(h, n); why != "" {
		if !last {
			return 0, &CorruptError{File: name, Offset: 0, Reason: why}
		}
		all, err := readAll(f, 0, size)
		if err != nil {
			return 0, fmt.Errorf("wal: read %s: %w", name, err)
		}
		if !tornSegHeader(all, n) {
			return 0, &CorruptError{File: name, Offset: 0, Reason: why}
		}
		hdr := segHeader(n)
		if err := f.Truncate(0); err != nil {
			return 0, fmt.Errorf("wal: cut %s: %w", name, err)
		}
		if _, err := f.WriteAt(hdr[:], 0); err != nil {
			return 0, fmt.Errorf("wal: write %s: %w", name, err)
		}
		l.logger.Warn("wal: rewrote the torn header of the last segment", "file", name, "offset", 0, "bytes", size)
		return segHeaderSize, nil
	}
	r := newFrameReader(f, size, nil)
	for {
		_, err := r.next()
		if err == nil {
			continue
		}
		if err == io.EOF {
			return size, nil
		}
		var bad *badFrame
		if !errors.As(err, &bad) {
			return 0, fmt.Errorf("wal: read %s: %w", name, err)
		}
		pad, err := zeroPadding(f, bad.off, size)
		if err != nil {
			return 0, fmt.Errorf("wal: read %s: %w", name, err)
		}
		if pad && !last {
			// A crash between the steps of sealing a preallocated
			// segment; Replay reads up to bad.off.
			l.logger.Info("wal: zero padding after the last frame of a sealed segment", "file", name, "offset", bad.off, "bytes", size-bad.off)
			return bad.off, nil
		}
		if pad {
			// The unused end of the preallocated last segment: not a
			// torn write. Cut it; the first Append extends the file
			// again, with zeros.
			if err := f.Truncate(bad.off); err != nil {
				return 0, fmt.Errorf("wal: cut %s: %w", name, err)
			}
			l.logger.Info("wal: cut the zero padding of the last segment", "file", name, "offset", bad.off, "bytes", size-bad.off)
			return bad.off, nil
		}
		if !last {
			return 0, &CorruptError{File: name, Offset: bad.off, Reason: bad.reason + " in a sealed segment"}
		}
		rest, err := readAll(f, bad.off, size-bad.off)
		if err != nil {
			return 0, fmt.Errorf("wal: read %s: %w", name, err)
		}
		if !tornFrame(rest) {
			return 0, &CorruptError{File: name, Offset: bad.off, Reason: bad.reason + ", with data after it"}
		}
		if err := f.Truncate(bad.off); err != nil {
			return 0, fmt.Errorf("wal: cut %s: %w", name, err)
		}
		l.logger.Warn("wal: cut a torn tail", "file", name, "offset", bad.off, "bytes", size-bad.off, "reason", bad.reason)
		return bad.off, nil
	}
}

// createSegment creates segment n with its header and fsyncs it.
func (l *Log) createSegment(n uint64) (File, error) {
	name := l.path(n)
	f, err := l.fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("wal: create segment: %w", err)
	}
	h := segHeader(n)
	if _, err := f.WriteAt(h[:], 0); err != nil {
		f.Close()
		l.fs.Remove(name)
		return nil, fmt.Errorf("wal: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, l.fail("fsync", name, err)
	}
	return f, nil
}

// Replay calls fn with every payload that was in the log when Open
// returned, in order, once each; frames appended since are not included.
// The payload slice is only valid during the call: fn must copy what it
// keeps. If fn returns an error, Replay stops and returns it. Replay reads
// the segments again and checks every frame again; a frame that changed
// since Open gives a *CorruptError. Replay must not run concurrently with
// RemoveBefore of the segments it reads.
func (l *Log) Replay(fn func(payload []byte) error) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	var buf []byte
	for _, s := range l.replay {
		name := l.path(s.num)
		f, err := l.fs.Open(name)
		if err != nil {
			return fmt.Errorf("wal: replay: %w", err)
		}
		r := newFrameReader(f, s.size, buf)
		err = replaySegment(r, fn)
		buf = r.buf
		f.Close()
		var bad *badFrame
		if errors.As(err, &bad) {
			return &CorruptError{File: name, Offset: bad.off, Reason: bad.reason + " (changed since Open)"}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func replaySegment(r *frameReader, fn func([]byte) error) error {
	for {
		p, err := r.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
}

// Append adds payload as one frame at the end of the log and returns the
// position just past it. A frame that does not fit in the rest of the
// segment starts a new one. Frames are in the log in the order in which
// their Appends added them, under the log's mutex (an Append that must
// first wait for a round in flight, to start a new segment, lets others
// go before it).
//
// Under SyncNone and SyncEvery, Append copies the frame into the shared
// mapping of the current segment (or, if the file cannot be mapped,
// writes it with a single write): when Append returns the frame is in the
// kernel and survives the death of the process. Under SyncAlways it copies
// the frame into the log's buffer (writing the buffer itself once it holds
// a MiB); the Sync that covers the frame writes it and fsyncs. Append
// never fsyncs, except when it starts a new segment (see Rotate).
//
// A payload over MaxPayload gives ErrTooLarge and writes nothing. If a
// direct write fails, the segment is cut back to where the frame began and
// the error returned; if that fails too, or a buffered write fails, the
// log fails (ErrFailed).
func (l *Log) Append(payload []byte) (Pos, error) {
	if len(payload) > MaxPayload {
		return Pos{}, fmt.Errorf("%w: %d bytes, the bound is %d", ErrTooLarge, len(payload), MaxPayload)
	}
	frame := int64(frameHeaderSize + len(payload))
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return Pos{}, err
	}
	waited := false
	for l.off > segHeaderSize && l.off+frame > l.segMax {
		if l.flight != nil { // rotate closes the file the fsync uses
			l.waitIdle()
			if err := l.usable(); err != nil {
				return Pos{}, err
			}
			waited = true
			continue // another Append may have rotated meanwhile
		}
		if err := l.rotate(); err != nil {
			return Pos{}, err
		}
	}
	if waited {
		l.kick() // while this Append waited, a gathered round may not have started
	}
	if l.buffered {
		l.pend = appendFrame(l.pend, payload)
		l.off += frame
		if len(l.pend) >= pendMax {
			if err := l.flush(); err != nil {
				return Pos{}, err
			}
		}
		return Pos{l.seg, l.off}, nil
	}
	if l.mem == nil || l.off+frame > int64(len(l.mem)) {
		if err := l.mapFor(l.off + frame); err != nil {
			return Pos{}, err
		}
	}
	if l.mem != nil {
		if l.guard != nil {
			if err := l.guard.BeginWrite(l.off, frame); err != nil {
				return Pos{}, fmt.Errorf("wal: append to %s: %w", l.path(l.seg), err)
			}
		}
		putFrame(l.mem[l.off:l.off+frame], payload)
		if l.guard != nil {
			l.guard.EndWrite()
		}
		l.off += frame
		if l.policy.every > 0 && !l.armed {
			l.arm()
		}
		return Pos{l.seg, l.off}, nil
	}
	b := appendFrame(l.buf[:0], payload)
	if cap(b) <= readChunk {
		l.buf = b
	}
	if _, err := l.f.WriteAt(b, l.off); err != nil {
		if terr := l.f.Truncate(l.off); terr != nil {
			return Pos{}, l.fail("write", l.path(l.seg), errors.Join(err, terr))
		}
		return Pos{}, fmt.Errorf("wal: append to %s: %w", l.path(l.seg), err)
	}
	l.off += frame
	if l.policy.every > 0 && !l.armed {
		l.arm()
	}
	return Pos{l.seg, l.off}, nil
}

// pendMax is the most bytes of frames Append buffers under SyncAlways
// before it writes them itself.
const pendMax = 1 << 20

// flush writes the buffered frames. l.mu held.
func (l *Log) flush() error {
	if len(l.pend) == 0 {
		return nil
	}
	l.wmu.Lock()
	_, err := l.f.WriteAt(l.pend, l.pendAt)
	l.wmu.Unlock()
	if err != nil {
		return l.fail("write", l.path(l.seg), err)
	}
	l.pend, l.pendAt = l.pend[:0], l.off
	return nil
}

// mapStep is the first mapping of a segment; each remapping doubles it, up
// to SegmentBytes. A segment is preallocated in these steps rather than at
// once, so that a small or idle log does not hold (or, in a test's
// in-memory FS, allocate) SegmentBytes per segment; a remapping costs an
// munmap, an fallocate and an mmap, a handful of times per segment.
const mapStep = 1 << 20

// mapFor maps the current segment so that the mapping reaches end bytes,
// preallocating the file to the next step (growTo). When the file cannot
// be mapped, l.mem stays nil and the segment is written with WriteAt.
// l.mu held, the log usable.
func (l *Log) mapFor(end int64) error {
	if l.noMap {
		return nil
	}
	m, ok := l.f.(Mapper)
	if !ok {
		l.noMap = true
		return nil
	}
	size := l.growTo(end)
	if l.mem != nil {
		if err := l.unmap(); err != nil {
			return err
		}
	}
	mem, guard, err := m.Map(size)
	if err != nil {
		l.noMap = true
		l.logger.Warn("wal: cannot map the segment, writing it instead", "file", l.path(l.seg), "err", err)
		return nil
	}
	l.mem, l.guard = mem, guard
	return nil
}

// unmap removes the mapping of the current segment, if any. The log fails
// if that fails: the mapping's state is then unknown. l.mu held.
func (l *Log) unmap() error {
	if l.mem == nil {
		return nil
	}
	m := l.f.(Mapper)
	l.mem, l.guard = nil, nil
	if err := m.Unmap(); err != nil {
		return l.fail("munmap", l.path(l.seg), err)
	}
	return nil
}

// trim unmaps the current segment and cuts it to its used length, so that
// the file holds its frames and no padding. l.mu held, no fsync in flight.
func (l *Log) trim() error {
	if err := l.unmap(); err != nil {
		return err
	}
	if l.alloc <= l.off {
		return nil
	}
	if err := l.f.Truncate(l.off); err != nil {
		return l.fail("truncate", l.path(l.seg), err)
	}
	l.alloc = l.off
	return nil
}

// growTo returns the size to preallocate the current segment to so that
// it reaches end, and records it: twice what is preallocated, at least
// mapStep, at most SegmentBytes, and at least end (a frame larger than a
// segment gets a segment sized for it). l.mu held.
func (l *Log) growTo(end int64) int64 {
	l.alloc = max(end, min(l.segMax, max(mapStep, 2*l.alloc)))
	return l.alloc
}

// usable returns why the log cannot be written, or nil. l.mu held.
func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.err
}

// fail makes the log failed for good; l.mu held (or the log not yet
// shared).
func (l *Log) fail(op, name string, err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("%w: %s %s: %w", ErrFailed, op, name, err)
		l.cond.Broadcast()
		if l.flight == nil { // else the fsync in flight releases it
			l.release()
		}
	}
	return l.err
}

// Sync waits until the frame ending at pos is durable under the policy:
// under SyncAlways it returns only after a round (one write of the
// buffered frames, then one fsync) that covers pos, shared with concurrent
// callers: a caller that the round in flight does not cover waits for the
// next, which starts as soon as that one ends and covers everything
// appended meanwhile. Under SyncEvery and SyncNone it returns at once. It returns the log's sticky error once the log has
// failed, also under SyncEvery and SyncNone, and ErrBadPos for a position
// past the end of the log.
func (l *Log) Sync(pos Pos) error {
	l.mu.Lock()
	if (Pos{l.seg, l.off}).Less(pos) {
		defer l.mu.Unlock()
		return fmt.Errorf("%w: %v is past %v", ErrBadPos, pos, Pos{l.seg, l.off})
	}
	if l.policy.every != 0 {
		defer l.mu.Unlock()
		return l.err
	}
	return l.commit(pos)
}

// Group commit. A round is one write of the buffered frames and one
// fsync, for everything written when it started; every caller whose frame
// it covers waits for it. One round is in flight at a time: a caller that
// it does not cover joins the next round (l.next), which starts the moment
// the round in flight ends, for everything written meanwhile, in a
// goroutine that exits when a round ends with nobody gathered for the
// next; with no round in flight the caller runs one itself. Waiters block
// on their round's channel, not on l.mu, so that waking a round costs one
// close and none of its waiters takes the mutex again. Nothing runs while
// the log is idle. (Two rounds in flight at once, each started as soon as
// a caller found none covering it, measured slower here: more, smaller
// fsyncs, each paying the device's fixed cost.)

// round is one fsync and the callers waiting for it.
type round struct {
	done chan struct{}
	err  error  // the log's error once the round is over; set before done is closed
	to   Pos    // in flight: what it covers
	f    File   // in flight: the segment
	buf  []byte // buffered: the frames it writes first, at at
	at   int64
	grow int64 // buffered: the size it preallocates first, or 0
}

func newRound() *round { return &round{done: make(chan struct{})} }

// commit is Sync under SyncAlways: called with l.mu held, it returns with
// l.mu released.
func (l *Log) commit(pos Pos) error {
	for {
		if l.err != nil || !l.synced.Less(pos) {
			err := l.err
			l.mu.Unlock()
			return err
		}
		r := l.flight
		switch {
		case r != nil && !r.to.Less(pos):
			// The round in flight covers pos.
		case l.startable(false):
			if l.run(l.start()) {
				l.chain()
			}
			continue
		default:
			if l.next == nil {
				l.next = newRound()
			}
			r = l.next
		}
		l.mu.Unlock()
		<-r.done
		return r.err
	}
}

// startable reports whether a round may start now: none is in flight,
// nobody waits in waitIdle, the log is usable, and (if gathered) somebody
// waits for the next round. l.mu held.
func (l *Log) startable(gathered bool) bool {
	return l.flight == nil && l.blocked == 0 && l.err == nil && (!gathered || l.next != nil)
}

// start starts the gathered round, or a new one, covering everything
// written. l.mu held, no round in flight.
func (l *Log) start() *round {
	r := l.next
	l.next = nil
	if r == nil {
		r = newRound()
	}
	r.to, r.f = Pos{l.seg, l.off}, l.f
	if l.buffered {
		r.buf, r.at = l.pend, l.pendAt
		l.pend, l.spare, l.pendAt = l.spare[:0], nil, l.off
		if _, ok := l.f.(Allocator); ok && l.off > l.alloc {
			r.grow = l.growTo(l.off)
		}
	}
	l.flight = r
	return r
}

// run runs round r: l.mu is held on entry and exit and released during
// the write and the fsync. It reports whether a gathered round may start
// now, for the caller to run it in a goroutine (chain).
func (l *Log) run(r *round) bool {
	// Rounds write in the order they started (wmu is taken with mu held):
	// a frame never reaches the file before the frames in front of it,
	// so that a power loss can tear only the tail.
	l.wmu.Lock()
	l.mu.Unlock()
	if r.grow > 0 {
		// Reserve the blocks ahead, so that the fsyncs to come need not
		// record the file's growth; where that fails the write grows it.
		_ = r.f.(Allocator).Allocate(r.grow)
	}
	var err error
	op := "write"
	if len(r.buf) > 0 {
		_, err = r.f.WriteAt(r.buf, r.at)
	}
	l.wmu.Unlock()
	if err == nil {
		op = "fsync"
		err = r.f.Sync()
	}
	l.mu.Lock()
	l.flight = nil
	if cap(r.buf) <= pendMax {
		l.spare = r.buf[:0]
	}
	r.buf, r.f = nil, nil
	if err != nil {
		l.fail(op, l.path(r.to.Segment), err)
	} else if l.synced.Less(r.to) {
		l.synced = r.to
	}
	r.err = l.err
	close(r.done)
	l.cond.Broadcast() // for waitIdle
	if l.err != nil {
		l.release()
	}
	return l.startable(true)
}

// chain runs the gathered round, and those that follow it, in a
// goroutine. l.mu held.
func (l *Log) chain() {
	l.chains.Add(1)
	go func() {
		defer l.chains.Done()
		l.mu.Lock()
		defer l.mu.Unlock()
		for l.startable(true) && l.run(l.start()) {
		}
	}()
}

// kick starts the gathered round if it may start: a caller that waited in
// waitIdle, and so kept rounds from starting, calls it when it is done.
// l.mu held.
func (l *Log) kick() {
	switch {
	case l.err != nil && l.flight == nil:
		l.release()
	case l.startable(true):
		l.chain()
	}
}

// release ends the gathered round without an fsync: everything written is
// durable, or the log has failed. l.mu held, nothing in flight.
func (l *Log) release() {
	if r := l.next; r != nil {
		l.next = nil
		r.err = l.err
		close(r.done)
	}
}

// waitIdle waits until no round is in flight. l.mu held.
func (l *Log) waitIdle() {
	l.blocked++
	for l.flight != nil {
		l.cond.Wait()
	}
	l.blocked--
}

// syncTo makes everything up to pos durable, keeping l.mu: it is commit
// for the SyncEvery timer, RemoveBefore and Close. Unlike commit it starts a
// round even while others wait in waitIdle. l.mu held.
func (l *Log) syncTo(pos Pos) error {
	for {
		if l.err != nil {
			return l.err
		}
		if !l.synced.Less(pos) {
			l.kick()
			return nil
		}
		if l.flight != nil {
			l.waitIdle()
			continue
		}
		l.run(l.start())
	}
}

// arm starts the SyncEvery timer. l.mu held.
func (l *Log) arm() {
	l.armed = true
	l.ticks.Add(1)
	if l.timer == nil {
		l.timer = time.AfterFunc(l.policy.every, l.tick)
	} else {
		l.timer.Reset(l.policy.every)
	}
}

// tick is the SyncEvery timer: it fsyncs everything written. An Append
// during the fsync finds the timer disarmed and arms it again.
func (l *Log) tick() {
	defer l.ticks.Done()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = false
	if !l.closed {
		l.syncTo(Pos{l.seg, l.off})
	}
}

// Rotate seals the current segment and starts the next, returning its
// number. Sealing fsyncs the segment under every policy (SyncNone too),
// so that a power loss can only ever tear the last segment; the new
// segment's header and the directory are fsynced as well. Append rotates
// by itself when a segment would grow past Options.SegmentBytes.
func (l *Log) Rotate() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waitIdle() // rotate closes the file the fsync uses
	if err := l.usable(); err != nil {
		l.kick()
		return 0, err
	}
	if err := l.rotate(); err != nil {
		return 0, err
	}
	return l.seg, nil
}

// rotate seals the current segment and starts the next. l.mu held, no
// fsync in flight, the log usable.
func (l *Log) rotate() error {
	if err := l.flush(); err != nil {
		return err
	}
	// Unmap and cut the padding before the fsync, so that the fsync
	// makes the sealed segment durable at its used length: a sealed
	// segment never ends in padding after a power loss.
	if err := l.trim(); err != nil {
		return err
	}
	if err := l.f.Sync(); err != nil {
		return l.fail("fsync", l.path(l.seg), err)
	}
	l.synced = Pos{l.seg, l.off}
	l.release() // everything its waiters wrote is durable, even if what follows fails
	f, err := l.createSegment(l.seg + 1)
	if err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		f.Close()
		return l.fail("fsync", l.dir, err)
	}
	if err := l.f.Close(); err != nil {
		l.logger.Warn("wal: close sealed segment", "file", l.path(l.seg), "err", err)
	}
	l.sealed = append(l.sealed, segment{l.seg, l.off})
	l.sealedN += l.off
	l.f, l.seg, l.off, l.pendAt, l.alloc = f, l.seg+1, segHeaderSize, segHeaderSize, 0
	l.noMap = false
	l.synced = Pos{l.seg, l.off}
	return nil
}

// RemoveBefore deletes the sealed segments numbered below seg, oldest
// first, fsyncing the directory after each, so that after a crash the
// remaining segments are still consecutive. The current segment is never
// removed. First it fsyncs everything appended, whatever the policy: what
// replaces the removed segments (the broker's compaction snapshot) was
// appended after them, and must not be lost to a power loss once they
// are gone. Sealed segments are durable (Rotate fsynced them).
func (l *Log) RemoveBefore(seg uint64) error {
	l.removeM.Lock()
	defer l.removeM.Unlock()
	l.mu.Lock()
	err := l.usable()
	if err == nil {
		err = l.syncTo(Pos{l.seg, l.off})
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	for {
		l.mu.Lock()
		if err := l.usable(); err != nil {
			l.mu.Unlock()
			return err
		}
		if len(l.sealed) == 0 || l.sealed[0].num >= seg {
			l.mu.Unlock()
			return nil
		}
		s := l.sealed[0]
		l.mu.Unlock()

		if err := l.fs.Remove(l.path(s.num)); err != nil {
			return fmt.Errorf("wal: remove segment: %w", err)
		}
		err := l.fs.SyncDir(l.dir)
		l.mu.Lock()
		l.sealed = l.sealed[1:]
		l.sealedN -= s.size
		if err != nil {
			err = l.fail("fsync", l.dir, err)
		}
		l.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// Segments returns the numbers of the oldest and the current segment.
func (l *Log) Segments() (first, current uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first = l.seg
	if len(l.sealed) > 0 {
		first = l.sealed[0].num
	}
	return first, l.seg
}

// Size returns the used bytes of all segments: headers and frames, not the
// preallocated padding of the current segment.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sealedN + l.off
}

// Close fsyncs what is written (under every policy), stops the SyncEvery
// timer, closes the files and releases the directory lock. It returns the
// log's sticky error if the log had failed or the final fsync fails.
// Close is idempotent: later calls return nil. Appends waiting or arriving
// after Close return ErrClosed or the sticky error; a Sync returns the
// sticky error, or nil for a position Close made durable.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true // no more appends: the fsync below covers everything
	l.waitIdle()
	var err error
	if l.err == nil {
		// Cut the padding first, so that the fsync below (if anything
		// is unsynced) covers the file's final length.
		if err = l.flush(); err == nil {
			err = l.trim()
		}
	}
	err = errors.Join(err, l.syncTo(Pos{l.seg, l.off}))
	if err != nil && l.err != nil {
		err = l.err
	}
	l.release() // syncTo ran the last round: nothing is in flight
	if l.armed && l.timer.Stop() {
		l.armed = false
		l.ticks.Done()
	}
	err = errors.Join(err, l.f.Close(), l.lock.Close())
	l.cond.Broadcast()
	l.mu.Unlock()
	l.ticks.Wait()
	l.chains.Wait()
	return err
}
