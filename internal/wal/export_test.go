package wal

// TimerArmed reports whether the SyncEvery timer is pending.
func TimerArmed(l *Log) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.armed
}

// Synced returns the position up to which the log is durable.
func Synced(l *Log) Pos {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.synced
}

const (
	SegHeaderSize   = segHeaderSize
	FrameHeaderSize = frameHeaderSize
)

var (
	SegName     = segName
	AppendFrame = appendFrame
	SegHeader   = segHeader
)
