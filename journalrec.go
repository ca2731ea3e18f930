package cmq

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The journal's records. Each is one frame of the write-ahead log: a type
// byte, the instant of the change (Unix nanoseconds), then the fields of
// the type, as unsigned or zig-zag varints and length-prefixed strings.
//
// Records are physical: each says what the state became, never which
// operation ran, so replay applies them without re-running any rule
// (tokens, limits, time-to-live). A record that names a queue or message
// that replay does not know is skipped: it can only precede the snapshot
// of that queue or message written by a compaction (see compact.go), which
// carries the newer state.
const (
	// recBroker: nextNum, the number the next queue gets. Written first in
	// every compaction, so that numbers, and so message ids, never repeat
	// even after the records of deleted queues are gone.
	recBroker byte = 1 + iota
	// recQueue: a queue's full state (create, set attributes, unbind, and
	// compaction snapshots).
	recQueue
	// recDeleteQueue: num.
	recDeleteQueue
	// recPurge: num.
	recPurge
	// recSend: num, delay, first seq, then the bodies (a batch is one
	// record, so all or nothing).
	recSend
	// recUpdate: num, then per message seq, visible time, dequeue count,
	// first dequeue time, nonce and whether it is alive (not deleted):
	// receives, visibility changes and rewinds.
	recUpdate
	// recDelete: num, then the seqs deleted.
	recDelete
	// recMove: a dead-letter move, with everything the moved message is, so
	// that it stands on its own.
	recMove
	// recMessages: num, then full messages with their bodies: a compaction
	// snapshot.
	recMessages
	recLast
)

// errRecord reports a record that does not decode. Replay wraps it with
// the record's place.
var errRecord = errors.New("malformed journal record")

// enc builds a record.
type enc struct{ b []byte }

func (e *enc) byte(v byte)         { e.b = append(e.b, v) }
func (e *enc) u(v uint64)          { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)           { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) str(s string)        { e.u(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) dur(d time.Duration) { e.i(int64(d)) }
func (e *enc) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

// start begins a record of type t at instant now.
func (e *enc) start(t byte, now int64) {
	e.b = e.b[:0]
	e.byte(t)
	e.i(now)
}

// dec reads a record. The first failure sticks: every later read returns
// zero values, and err is set.
type dec struct {
	b   []byte
	err error

	// strs, when set, is b as a string: str slices it rather than
	// allocating, so that the strings of a record share one allocation.
	strs string
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errRecord
	}
	d.b = nil
}

func (d *dec) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) u() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) i() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// int reads a varint that must fit an int32-sized count or size.
func (d *dec) int() int {
	v := d.i()
	if v < 0 || v > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *dec) dur() time.Duration { return time.Duration(d.i()) }

func (d *dec) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail()
	return false
}

func (d *dec) str() string {
	n := d.u()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	var s string
	if d.strs != "" && len(d.strs) >= len(d.b) {
		off := len(d.strs) - len(d.b) // d.b is a suffix of what strs was made from
		s = d.strs[off : off+int(n)]
	} else {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

// count reads a number of entries, each at least min bytes long, so that a
// corrupt count cannot make replay allocate more than the record holds.
func (d *dec) count(min int) int {
	n := d.u()
	if n > uint64(len(d.b)/min) {
		d.fail()
		return 0
	}
	return int(n)
}

// end reports the record's error, or errRecord if bytes are left over.
func (d *dec) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errRecord
	}
	return d.err
}

// queueRecord is what a recQueue record holds.
type queueRecord struct {
	num      uint64
	name, id string
	created  int64
	modified int64
	nextSeq  uint64
	set      settings
}

func (e *enc) queue(s *queueRecord) {
	e.u(s.num)
	e.str(s.name)
	e.str(s.id)
	e.i(s.created)
	e.i(s.modified)
	e.u(s.nextSeq)
	e.i(int64(s.set.maxMsgHeapNum))
	e.dur(s.set.pollingWait)
	e.dur(s.set.visibilityTimeout)
	e.i(int64(s.set.maxMsgSize))
	e.dur(s.set.msgRetention)
	e.dur(s.set.rewindPeriod)
	p := s.set.deadLetter
	e.bool(p != nil)
	if p != nil {
		e.str(p.DeadLetterQueue)
		e.i(int64(p.Kind))
		e.i(int64(p.MaxReceiveCount))
		e.dur(p.MaxTimeToLive)
	}
}

func (d *dec) queue() queueRecord {
	var s queueRecord
	s.num = d.u()
	s.name = d.str()
	s.id = d.str()
	s.created = d.i()
	s.modified = d.i()
	s.nextSeq = d.u()
	s.set.maxMsgHeapNum = d.int()
	s.set.pollingWait = d.dur()
	s.set.visibilityTimeout = d.dur()
	s.set.maxMsgSize = d.int()
	s.set.msgRetention = d.dur()
	s.set.rewindPeriod = d.dur()
	if d.bool() {
		p := &DeadLetterPolicy{DeadLetterQueue: d.str()}
		p.Kind = DeadLetterKind(d.i())
		p.MaxReceiveCount = d.int()
		p.MaxTimeToLive = d.dur()
		s.set.deadLetter = p
	}
	return s
}

// messageState is a message's state without its body (recUpdate) or with
// it (recMessages, recMove).
func (e *enc) state(m *message) {
	e.u(m.seq)
	e.i(m.visibleAt)
	e.i(int64(m.dequeues))
	e.i(m.firstDeq)
	e.u(m.nonce)
	e.bool(m.where != inNone)
}

// stateFields are the fields of a recUpdate entry.
type stateFields struct {
	seq       uint64
	visibleAt int64
	dequeues  int32
	firstDeq  int64
	nonce     uint64
	alive     bool
}

func (d *dec) state() stateFields {
	var s stateFields
	s.seq = d.u()
	s.visibleAt = d.i()
	s.dequeues = int32(d.int())
	s.firstDeq = d.i()
	s.nonce = d.u()
	s.alive = d.bool()
	return s
}

// full writes m whole: its state, enqueue time, dead-letter record and
// body.
func (e *enc) full(m *message) {
	e.state(m)
	e.i(m.enqueued)
	e.bool(m.dead != nil)
	if m.dead != nil {
		e.str(m.dead.id)
		e.str(m.dead.src.Queue)
		e.i(m.dead.src.EnqueueTime.UnixNano())
		e.i(int64(m.dead.src.DequeueCount))
	}
	e.str(m.body)
}

// full reads a message written by enc.full. alive is kept in where:
// inTree for alive, inNone for deleted and kept for rewind.
func (d *dec) full() *message {
	s := d.state()
	m := &message{seq: s.seq, visibleAt: s.visibleAt, dequeues: s.dequeues, firstDeq: s.firstDeq, nonce: s.nonce}
	if s.alive {
		m.where = inTree
	}
	m.enqueued = d.i()
	if d.bool() {
		dl := &deadLetter{id: d.str()}
		dl.src.Queue = d.str()
		dl.src.EnqueueTime = unixTime(d.i())
		dl.src.DequeueCount = d.int()
		m.dead = dl
	}
	m.body = d.str()
	return m
}

// Minimum encoded sizes, for dec.count.
const (
	minStateLen = 6 // seq, visibleAt, dequeues, firstDeq, nonce, alive: a byte each at least
	minFullLen  = minStateLen + 3
)
