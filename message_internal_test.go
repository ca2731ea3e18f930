package cmq

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecimalLen checks the digit count at every power of ten, on both
// sides, and at the ends of uint64.
func TestDecimalLen(t *testing.T) {
	vs := []uint64{0, math.MaxUint64}
	for p := uint64(1); ; p *= 10 {
		vs = append(vs, p-1, p, p+1)
		if p > math.MaxUint64/10 {
			break
		}
	}
	for _, v := range vs {
		assert.Equal(t, len(strconv.FormatUint(v, 10)), decimalLen(v), "decimalLen(%d)", v)
	}
}

// TestMessageIDs checks that an id is the queue's number and the seq in
// decimal, and that a batch's shared-allocation ids are the same strings,
// across a change in the number of digits.
func TestMessageIDs(t *testing.T) {
	for _, num := range []uint64{0, 7, 123456, math.MaxUint64} {
		q := &Queue{idPrefix: strconv.FormatUint(num, 10) + "-"}
		for _, seq := range []uint64{0, 1, 9, 95, 999_990, math.MaxUint64 - 16} {
			want := strconv.FormatUint(num, 10) + "-" + strconv.FormatUint(seq, 10)
			require.Equal(t, want, q.messageID(seq))
			require.LessOrEqual(t, len(want), maxIDLen)
			ids := make([]string, 16)
			q.messageIDs(ids, seq)
			for i, id := range ids {
				assert.Equal(t, q.messageID(seq+uint64(i)), id)
			}
		}
	}
}
