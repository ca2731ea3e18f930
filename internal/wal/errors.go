package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every call on a Log after Close (except
	// Close itself, Size, and a Sync of a position Close has synced).
	ErrClosed = errors.New("wal: log closed")

	// ErrLocked is wrapped by the error Open returns when another Log (in
	// this process or another) has the directory open. The message names
	// the directory.
	ErrLocked = errors.New("wal: directory locked")

	// ErrCorrupt is matched (errors.Is) by every error that reports a log
	// that cannot be read: the error is a *CorruptError naming the file and
	// byte offset.
	ErrCorrupt = errors.New("wal: log corrupt")

	// ErrFailed is wrapped by the sticky error of a failed log: once an
	// fsync fails (or a failed write cannot be taken back), that call and
	// every later Append, Sync, Rotate and RemoveBefore return an error
	// wrapping ErrFailed and the cause. The fsync is never retried: a
	// retried fsync can report success for pages the kernel has already
	// dropped. Reopen the log to recover what is on disk.
	ErrFailed = errors.New("wal: log failed, no more writes")

	// ErrTooLarge is returned by Append for a payload longer than
	// MaxPayload. Nothing is written.
	ErrTooLarge = errors.New("wal: payload too large")

	// ErrBadPos is returned by Sync for a position past the end of the log.
	ErrBadPos = errors.New("wal: position past the end of the log")
)

// CorruptError reports where a log is corrupt. errors.Is(err, ErrCorrupt)
// holds for it.
type CorruptError struct {
	File   string // path of the segment file
	Offset int64  // byte offset of the bad frame or header in File
	Reason string // what is wrong, e.g. "checksum mismatch"
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: log corrupt: %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
