package cmq

import (
	"math/bits"
	"strings"
)

// A message id is its queue's number and its seq, in decimal, joined by
// "-": unique in the broker, and made when asked for rather than stored.

// maxIDLen is the longest message id: two 20-digit numbers and a '-'.
const maxIDLen = 41

// messageID returns the id of the message with sequence seq.
func (q *Queue) messageID(seq uint64) string {
	var buf [maxIDLen]byte
	return string(buf[:q.putID(buf[:], seq)])
}

// messageIDs sets ids[i] to the id of the message with sequence seq+i.
// The ids share one allocation.
func (q *Queue) messageIDs(ids []string, seq uint64) {
	if len(ids) == 1 {
		ids[0] = q.messageID(seq)
		return
	}
	total := 0
	for i := range ids {
		total += q.idLen(seq + uint64(i))
	}
	var sb strings.Builder
	sb.Grow(total)
	var buf [maxIDLen]byte
	for i := range ids {
		sb.Write(buf[:q.putID(buf[:], seq+uint64(i))])
	}
	s := sb.String()
	for i := range ids {
		k := q.idLen(seq + uint64(i))
		ids[i], s = s[:k], s[k:]
	}
}

// putID writes the id of the message with sequence seq at the start of b,
// which has room for maxIDLen bytes, and returns its length.
func (q *Queue) putID(b []byte, seq uint64) int {
	n := copy(b, q.idPrefix)
	k := n + decimalLen(seq)
	for i := k - 1; i >= n; i-- {
		b[i] = '0' + byte(seq%10)
		seq /= 10
	}
	return k
}

// idLen returns len(q.messageID(seq)).
func (q *Queue) idLen(seq uint64) int { return len(q.idPrefix) + decimalLen(seq) }

// decimalLen returns the number of decimal digits of v.
func decimalLen(v uint64) int {
	v |= 1                          // 0 has one digit, like 1
	n := bits.Len64(v) * 1233 >> 12 // log10(2) is about 1233/4096: n or n+1 digits
	if v >= pow10[n] {
		n++
	}
	return n
}

// pow10[i] is 10 to the power i, for every power that fits a uint64.
var pow10 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()
