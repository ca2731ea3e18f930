package cmq

import (
	"math/rand/v2"
	"strings"
)

// A receipt handle is 32 lower-case hexadecimal digits: the message's
// per-queue sequence number (16 digits) and a 64-bit random nonce drawn for
// that receive (16 digits). The queue keeps the nonce of each message's
// latest receive; a handle works only if its sequence names a message of
// this queue whose current nonce equals the handle's, and only before that
// message's next visible time. A handle from another queue, another
// message, an older receive, or with any bit changed is therefore refused,
// and guessing one means guessing 64 random bits.
//
// Nonces come from math/rand/v2's global generator, which is ChaCha8 seeded
// by the operating system per thread: unpredictable without its state, and
// about a hundred times cheaper per receive than crypto/rand.

const receiptLen = 32

// newNonce returns a random nonce; never 0, which marks "no valid handle".
func newNonce() uint64 {
	for {
		if n := rand.Uint64(); n != 0 {
			return n
		}
	}
}

const hexDigits = "0123456789abcdef"

// taken is what a receive took of one message, under the queue's lock, to
// make its id and receipt handle after: its seq, the nonce of this
// receive, and, for a message moved to a dead-letter queue, its id.
type taken struct {
	seq, nonce uint64
	deadID     string
}

// takenSet lists what one receive took, in order: a batch of up to 16 in
// place (a receive keeps its takenSet on its stack), more beyond.
type takenSet struct {
	n     int
	first [16]taken
	more  []taken
}

func (ts *takenSet) add(t taken) {
	if ts.n < len(ts.first) {
		ts.first[ts.n] = t
	} else {
		ts.more = append(ts.more, t)
	}
	ts.n++
}

func (ts *takenSet) at(i int) *taken {
	if i < len(ts.first) {
		return &ts.first[i]
	}
	return &ts.more[i-len(ts.first)]
}

// setHandles sets the ids and the new receipt handles of out from ts, its
// record of the same messages. It needs no lock: a queue's id prefix
// never changes. The strings of one receive share one allocation.
func (q *Queue) setHandles(out []Message, ts *takenSet) {
	total := 0
	for i := range ts.n {
		if t := ts.at(i); t.deadID == "" {
			total += q.idLen(t.seq)
		}
		total += receiptLen
	}
	var sb strings.Builder
	sb.Grow(total)
	var buf [maxIDLen + receiptLen]byte
	for i := range ts.n {
		t, n := ts.at(i), 0
		if t.deadID == "" {
			n = q.putID(buf[:], t.seq)
		}
		putReceipt(buf[n:], t.seq, t.nonce)
		sb.Write(buf[:n+receiptLen])
	}
	s := sb.String()
	for i := range ts.n {
		if t := ts.at(i); t.deadID != "" {
			out[i].ID = t.deadID
		} else {
			k := q.idLen(t.seq)
			out[i].ID, s = s[:k], s[k:]
		}
		out[i].ReceiptHandle, s = s[:receiptLen], s[receiptLen:]
	}
}

// putReceipt writes the handle for seq and nonce to b[:receiptLen].
func putReceipt(b []byte, seq, nonce uint64) {
	_ = b[receiptLen-1]
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[seq&0xf]
		seq >>= 4
		b[16+i] = hexDigits[nonce&0xf]
		nonce >>= 4
	}
}

// decodeReceipt parses a handle. ok is false for anything that is not 32
// lower-case hexadecimal digits with a nonzero nonce.
func decodeReceipt(h string) (seq, nonce uint64, ok bool) {
	if len(h) != receiptLen {
		return 0, 0, false
	}
	var bad byte // any invalid digit sets its high bits
	for i := range 16 {
		a, b := unhexTable[h[i]], unhexTable[h[16+i]]
		bad |= a | b
		seq = seq<<4 | uint64(a&0xf)
		nonce = nonce<<4 | uint64(b&0xf)
	}
	return seq, nonce, bad < 16 && nonce != 0
}

// unhexTable maps a lower-case hexadecimal digit to its value and any
// other byte to 0xff.
var unhexTable = func() (t [256]byte) {
	for c := range t {
		t[c] = 0xff
	}
	for i := range 16 {
		t[hexDigits[i]] = byte(i)
	}
	return t
}()

// lookupReceipt returns the message h currently names, or
// ErrInvalidReceiptHandle. The caller holds q.mu and has advanced the queue
// to now.
func (q *Queue) lookupReceipt(h string, now int64) (*message, error) {
	seq, nonce, ok := decodeReceipt(h)
	if !ok {
		return nil, ErrInvalidReceiptHandle
	}
	m := q.log.get(seq)
	if m == nil || m.where == inNone || m.nonce != nonce || now >= m.visibleAt {
		return nil, ErrInvalidReceiptHandle
	}
	return m, nil
}
