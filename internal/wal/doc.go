// Package wal is the write-ahead log the broker journals its state changes
// through. It deals only in opaque payloads: framing, checksums, segment
// files, syncing, recovery of the byte stream, locking the directory and
// removing old segments. The broker encodes its own records.
//
// # Use
//
// Open the directory, Replay what it holds, then Append a payload per
// state change and Sync its position before acknowledging the change:
//
//	l, err := wal.Open(dir, wal.Options{Sync: wal.SyncAlways})
//	err = l.Replay(func(p []byte) error { return apply(p) })
//	pos, err := l.Append(record) // under the queue's lock: a memcpy, no syscall
//	err = l.Sync(pos)            // after releasing it: waits for the group commit
//
// # Guarantees
//
// Under SyncNone and SyncEvery, Append copies each frame into a shared
// mapping (MAP_SHARED) of the current segment, whose pages belong to the
// kernel's page cache, before it returns (where the file cannot be mapped
// it writes the frame with a single write instead), so every appended
// frame survives the death of the process (kill -9). Under SyncAlways,
// Append copies the frame into the log's buffer, and the Sync that covers
// it writes the buffer (one write for every frame waiting) and fsyncs: a
// frame survives kill -9 once a Sync covering it has returned, which is
// when the caller acknowledges it; the frames after those may be lost, as
// a torn tail. (Writing through the mapping under SyncAlways cost a page
// fault and a TLB shootdown per page per fsync, since write-back
// write-protects mapped pages; measured, the buffer doubled throughput
// under concurrency.) What survives a power loss depends on the policy:
//
//   - SyncAlways: everything a successful Sync covered. Concurrent Syncs
//     share one write and fsync (group commit, see Sync); nothing runs
//     while the log is idle.
//   - SyncEvery(d): everything appended more than d (plus one fsync) before
//     the power loss. A timer runs only while unsynced frames exist.
//   - SyncNone: everything in sealed segments, and whatever the kernel had
//     written back of the current one.
//
// In every case what survives is a prefix of the log in append order:
// frames are never reordered and never invented, and a later frame never
// survives without the earlier ones. Sealing a segment (Rotate, or Append
// when the segment is full) fsyncs it under every policy, and the
// directory is fsynced whenever a segment is created or removed, so a power
// loss can only ever tear the last segment. That prefix rule assumes the
// device keeps the unsynced bytes of a file in offset order (it loses a
// suffix of them, as the tests' fault model does); the log writes them in
// that order. A device that kept a later page of an unfinished fsync and
// lost an earlier one would leave a hole before whole frames: Open then
// reports it as corruption, naming the file and offset, rather than guess
// whether the hole is an unfinished write or damage to acknowledged data.
//
// If an fsync (or a round's write) fails, the log fails for good: that
// call and every later Append, Sync, Rotate and RemoveBefore return an
// error wrapping ErrFailed. The fsync is not retried, because a retried
// fsync can report success for pages the kernel has dropped; reopening the
// log recovers what the disk holds.
//
// # Format
//
// All integers are little endian. A segment file is named %020d.wal after
// its number (1, 2, ...) and starts with a 20-byte header:
//
//	magic "CMQWAL" | version uint16 (1) | segment number uint64 | crc32c of the first 16 bytes uint32
//
// followed by frames:
//
//	length uint32 | ^length uint32 | crc32c(length field, payload) uint32 | payload (length bytes)
//
// The current segment is preallocated (fallocate on Linux, ftruncate on
// Darwin) in steps: 1 MiB, then doubling up to SegmentBytes (or to the
// size of a frame larger than that); under SyncNone and SyncEvery each
// step is mapped. The bytes after its last frame
// are zeros; a zero frame header is never a valid frame, so a zero header
// followed by nothing but zeros ends a segment. Sealing a segment (and
// Close) unmaps it and cuts it to its used length before the fsync, so
// files hold frames, not padding, and Size counts frames. Sync is fsync of
// the file, which on Linux also writes back the dirty pages of the shared
// mapping (one page cache); no msync is needed.
//
// CRC32C is the Castagnoli polynomial. A payload is at most MaxPayload
// (64 MiB) bytes, so a damaged length can never make recovery allocate
// more. The file LOCK in the directory carries the lock (flock).
//
// # Recovery
//
// Open reads and checks every frame of every segment. The segments must be
// consecutive; each header must check and carry its file's number.
//
//   - A zero frame header followed by nothing but zeros is the end of the
//     segment: the preallocated padding after a crash. In the last segment
//     it is cut (one info line, not a torn write); in a sealed segment,
//     where it can only come from a crash between the steps of sealing, it
//     is tolerated and left alone.
//
//   - A bad or incomplete frame at the very end of the last segment is a
//     torn write: an incomplete frame header, a frame whose declared end is
//     past the end of the file, or a frame that fails its check followed by
//     nothing but zero bytes (a zero-filled tail, including zeros where the
//     rest of its own header should be). Open cuts the file there, logs one
//     line (file, offset, bytes cut) and goes on. A last segment holding
//     only part of its header, then zeros, gets its header again.
//
//   - Anything else is corruption: a bad frame with other data after it, any
//     bad frame or trailing bytes in a sealed segment, a bad segment header,
//     a missing segment. Open fails with a *CorruptError naming the file and
//     the byte offset (errors.Is(err, ErrCorrupt)) and changes nothing. A
//     flipped byte anywhere but in the very last frame is always detected.
//     (Damage inside the last frame is indistinguishable from a torn write
//     of it, and that frame is cut.)
//
// The package internal/wal/faultfs provides an in-memory FS that injects
// faults and simulates power loss, for this package's tests and for those
// of the packages built on it.
package wal
