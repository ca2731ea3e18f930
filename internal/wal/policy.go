package wal

import (
	"fmt"
	"time"
)

// SyncPolicy says when appended frames are made durable (fsync). Under
// SyncNone and SyncEvery, Append hands each frame to the kernel (a copy
// into a shared mapping of the segment, or one write), so appended frames
// survive the death of the process (kill -9); under SyncAlways a frame
// reaches the kernel, and the disk, when a Sync that covers it returns.
//
// The zero value is SyncAlways.
type SyncPolicy struct {
	every time.Duration // 0: always; > 0: every; < 0: none
}

var (
	// SyncAlways: Sync(pos) returns only after a write and an fsync that
	// cover pos. Concurrent Syncs share them (group commit, see
	// [Log.Sync]). Nothing runs while the log is idle. Neither a power
	// loss nor kill -9 loses anything a successful Sync covered.
	SyncAlways = SyncPolicy{}

	// SyncNone: Sync returns at once; the kernel writes pages back when it
	// likes (typically within 30 s on Linux). A power loss can lose any
	// suffix of the frames appended since the last sealed segment. Close
	// and Rotate still fsync.
	SyncNone = SyncPolicy{every: -1}
)

// SyncEvery returns the policy that fsyncs within d of an append: Sync
// returns at once, and a timer, armed only while unsynced frames exist,
// fsyncs d after the first of them. A power loss loses at most the frames
// appended in the last d (plus the time one fsync takes). A d <= 0 gives
// SyncAlways.
func SyncEvery(d time.Duration) SyncPolicy {
	if d <= 0 {
		return SyncAlways
	}
	return SyncPolicy{every: d}
}

// ParseSyncPolicy parses "always", "none" or a positive time.Duration such
// as "100ms" (SyncEvery). It is the inverse of String.
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch s {
	case "always":
		return SyncAlways, nil
	case "none":
		return SyncNone, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return SyncPolicy{}, fmt.Errorf("wal: sync policy %q: want \"always\", \"none\" or a positive duration such as \"100ms\"", s)
	}
	return SyncEvery(d), nil
}

// String returns "always", "none" or the interval, e.g. "100ms".
func (p SyncPolicy) String() string {
	switch {
	case p.every == 0:
		return "always"
	case p.every < 0:
		return "none"
	}
	return p.every.String()
}

// Set parses s as ParseSyncPolicy does, so that a *SyncPolicy is a
// flag.Value. On error p is unchanged.
func (p *SyncPolicy) Set(s string) error {
	q, err := ParseSyncPolicy(s)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// Interval returns d for SyncEvery(d) and 0 for the other policies.
func (p SyncPolicy) Interval() time.Duration { return max(p.every, 0) }
