package cmq

import (
	"context"
	"fmt"
	"time"

	"github.com/opencmq/cmq/internal/wal"
)

// Open opens the durable broker kept in the directory dir, creating both
// if there is none. It replays the directory's write-ahead log, so the
// broker is as it was when the last acknowledged call returned: queues with
// their ids, attributes, times and dead-letter bindings; every message with
// its visibility, delay, dequeue count, first dequeue time and retention
// clock; deleted messages kept for rewind. A receipt handle of a lease
// still running stays valid until the message's next visible time. Message
// ids never repeat, and the broker's clock starts no earlier than the last
// instant the log holds. Token buckets start full.
//
// One process at a time may open dir: a second Open fails with an error
// that says the directory is in use. [Broker.Close] syncs the log and
// releases the directory.
//
// Every change a call makes is appended to the log before the call
// returns, and is durable as [WithSync] says (default [SyncAlways]); under
// every policy a call that returned survives the process being killed. A
// torn record at the very end of the log (a write cut short by a crash) is
// cut and logged; any other damage makes Open fail with an error that
// names the file and offset. If a write or fsync fails, the broker
// refuses every later call with [ErrJournal] and never retries it; Close
// it and Open it again.
//
// The log is compacted in the background, while it holds more than twice
// the live data plus a segment, so disk use follows what the queues hold.
//
// ctx bounds the replay. Open takes the same options as [NewBroker].
func Open(ctx context.Context, dir string, opts ...Option) (*Broker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	l, err := wal.Open(dir, wal.Options{Sync: c.sync.p, SegmentBytes: c.segment, FS: c.fs, Logger: c.logger})
	if err != nil {
		return nil, ErrJournal.wrap(fmt.Errorf("open %s: %w", dir, err))
	}
	r := newReplay()
	n := 0
	err = l.Replay(func(rec []byte) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return r.apply(rec)
	})
	if err == nil {
		err = ctx.Err()
	}
	var b *Broker
	if err == nil {
		b = newBroker(c, r.last)
		err = r.build(b)
	}
	if err != nil {
		l.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrJournal.wrap(fmt.Errorf("replay %s: %w", dir, err))
	}
	segment := c.segment
	if segment <= 0 {
		segment = wal.DefaultSegmentBytes
	}
	b.j = &journal{log: l, segment: segment}
	b.j.size.Store(l.Size())
	b.push.start()
	b.log.Info("broker opened", "dir", dir, "queues", len(b.queues), "bytes", l.Size(), "sync", c.sync.String())
	return b, nil
}

// finish waits until a broker-level change logged at pos (queue or topic
// created or deleted) is durable; it does nothing for an in-memory broker.
// The caller holds no lock.
func (b *Broker) finish(pos wal.Pos) error {
	if b.j == nil {
		return nil
	}
	return b.j.finish(pos)
}

// journalErr returns the journal's failure, or nil for a healthy or
// in-memory broker.
func (b *Broker) journalErr() error {
	if b.j == nil {
		return nil
	}
	return b.j.err()
}

// SyncPolicy says when a durable broker's changes reach the disk. Under
// every policy a call that returned has written its change to the
// operating system, so it survives the process being killed (kill -9);
// the policies differ in what survives a power loss or a kernel crash.
// The zero SyncPolicy is [SyncAlways].
type SyncPolicy struct {
	p wal.SyncPolicy // the log's policy, which this wraps
}

var (
	// SyncAlways: a call returns only after its change is on disk (fsync).
	// Calls that run together share one fsync (group commit), so many
	// concurrent callers cost little more than one; a single caller pays
	// one fsync per call. Nothing that returned is lost, even to a power
	// loss. The default.
	SyncAlways = SyncPolicy{wal.SyncAlways}
	// SyncNone leaves writing back to the kernel: a power loss or kernel
	// crash may lose changes of the last half minute or so (the kernel's
	// dirty-page write-back), a process crash loses nothing.
	SyncNone = SyncPolicy{wal.SyncNone}
)

// SyncEvery returns the policy that syncs at most d after a change: a
// power loss loses at most the changes of the last d; a process crash
// loses nothing. A timer runs only while changes wait to be synced. d <= 0
// means [SyncAlways].
func SyncEvery(d time.Duration) SyncPolicy { return SyncPolicy{wal.SyncEvery(d)} }

// String returns "always", "none" or the interval, as ParseSyncPolicy
// reads them.
func (p SyncPolicy) String() string { return p.p.String() }

// ParseSyncPolicy reads "always", "none" or a duration such as "100ms".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	p, err := wal.ParseSyncPolicy(s)
	if err != nil {
		return SyncPolicy{}, ErrInvalidParameter.withMessage("sync policy %q: want always, none or a positive duration", s)
	}
	return SyncPolicy{p}, nil
}
