package cmq_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// receiptFixture is one queue with message "one" received twice (an old
// and the current handle) and message "two" active, plus a second queue
// whose first message, with the same sequence number as "one", is in
// flight.
type receiptFixture struct {
	q, other            *cmq.Queue
	valid, old, foreign string
}

func newReceiptFixture(t *testing.T) receiptFixture {
	l := cmq.DefaultLimits()
	l.QPS = 0 // thousands of deletes in one instant of fake time
	b, err := cmq.NewBroker(cmq.WithLimits(l))
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	mk := func(name string) *cmq.Queue {
		q, err := b.CreateQueue(t.Context(), name, cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(10 * time.Second)})
		require.NoError(t, err)
		return q
	}
	var f receiptFixture
	f.q, f.other = mk("receipts"), mk("other")
	_, err = f.q.BatchSend(t.Context(), []string{"one", "two"}, 0)
	require.NoError(t, err)
	first, err := f.q.Receive(t.Context(), 0)
	require.NoError(t, err)
	require.Equal(t, "one", first.Body)
	f.old = first.ReceiptHandle
	_, err = f.q.ChangeVisibility(t.Context(), f.old, 0) // visible again: the next receive gets it
	require.NoError(t, err)
	again, err := f.q.Receive(t.Context(), 0)
	require.NoError(t, err)
	require.Equal(t, "one", again.Body)
	f.valid = again.ReceiptHandle
	_, err = f.other.Send(t.Context(), "one", 0)
	require.NoError(t, err)
	foreign, err := f.other.Receive(t.Context(), 0)
	require.NoError(t, err)
	f.foreign = foreign.ReceiptHandle
	return f
}

// receiptCounts returns the active, inactive, delayed and rewind counts of q.
func receiptCounts(t *testing.T, q *cmq.Queue) []int {
	info, err := q.Attributes(t.Context())
	require.NoError(t, err)
	return []int{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum, info.RewindMsgNum}
}

// TestReceiptHandleForgery checks that only the current handle of a
// message works: not one from another queue (even for the same sequence
// number), not the message's older handle, not any single-character change
// of the valid handle (every position, every byte value), not a change of
// case, length or a prefix; that another message's handle acts only on
// that message; and that the valid handle stops working once used and
// once its visibility timeout has passed.
func TestReceiptHandleForgery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newReceiptFixture(t)
		before := receiptCounts(t, f.q)
		require.Equal(t, []int{1, 1, 0, 0}, before)

		refuse := func(h, what string) {
			t.Helper()
			assert.ErrorIs(t, f.q.Delete(t.Context(), h), cmq.ErrInvalidReceiptHandle, "Delete %s %q", what, h)
			_, err := f.q.ChangeVisibility(t.Context(), h, time.Second)
			assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle, "ChangeVisibility %s %q", what, h)
		}
		refuse(f.foreign, "another queue's handle (same sequence number)")
		refuse(f.old, "an older receive's handle")
		refuse(strings.ToUpper(f.valid), "upper case")
		refuse(f.valid[:31], "one shorter")
		refuse(f.valid+"0", "one longer")
		refuse(f.valid[:16], "the sequence half")
		refuse(" "+f.valid, "with a space")
		changes := 0
		for i := range len(f.valid) {
			for c := range 256 {
				if byte(c) == f.valid[i] {
					continue
				}
				h := f.valid[:i] + string([]byte{byte(c)}) + f.valid[i+1:]
				if assert.ErrorIs(t, f.q.Delete(t.Context(), h), cmq.ErrInvalidReceiptHandle, "position %d byte %#x", i, c) {
					changes++
				}
			}
		}
		assert.Equal(t, 32*255, changes, "single-character changes refused")
		assert.Equal(t, before, receiptCounts(t, f.q), "refused handles changed nothing")

		// Another message's handle acts on that message only.
		two, err := f.q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "two", two.Body)
		require.NoError(t, f.q.Delete(t.Context(), two.ReceiptHandle))
		assert.Equal(t, []int{0, 1, 0, 0}, receiptCounts(t, f.q))

		// The valid handle works once.
		require.NoError(t, f.q.Delete(t.Context(), f.valid))
		refuse(f.valid, "a used handle")
		assert.Equal(t, []int{0, 0, 0, 0}, receiptCounts(t, f.q))

		// A handle stops working at its message's next visible time.
		time.Sleep(10*time.Second - 1)
		_, err = f.other.ChangeVisibility(t.Context(), f.foreign, 1)
		require.NoError(t, err, "valid 1 ns before the next visible time")
		time.Sleep(1)
		assert.ErrorIs(t, f.other.Delete(t.Context(), f.foreign), cmq.ErrInvalidReceiptHandle, "at the next visible time")
	})
}

// FuzzReceiptHandle feeds arbitrary handles to Delete and ChangeVisibility:
// the string itself, or the string written over the valid or the old handle
// at a position, or one byte of the valid handle changed. Only the one valid
// handle may ever succeed; a refused handle changes nothing (the valid one
// still works afterwards); nothing panics.
//
//	go test -run='^$' -fuzz=FuzzReceiptHandle -fuzztime=1m .
func FuzzReceiptHandle(f *testing.F) {
	f.Add("", uint8(0), uint8(0))
	f.Add("", uint8(0), uint8(1)) // exactly the valid handle
	f.Add("", uint8(0), uint8(5)) // exactly the valid handle, ChangeVisibility
	f.Add(strings.Repeat("0", 32), uint8(0), uint8(0))
	f.Add(strings.Repeat("f", 32), uint8(0), uint8(4))
	f.Add("0", uint8(31), uint8(1))
	f.Add("A", uint8(3), uint8(1))
	f.Add("\x01", uint8(20), uint8(2))
	f.Add("", uint8(0), uint8(3)) // exactly the old handle
	f.Add("00000000000000000000000000000000000", uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, s string, pos, mode uint8) {
		synctest.Test(t, func(t *testing.T) {
			fx := newReceiptFixture(t)
			overlay := func(h string) string {
				p := min(int(pos)%33, len(h))
				end := min(len(h), p+len(s))
				return h[:p] + s + h[end:]
			}
			var h string
			switch mode % 4 {
			case 0:
				h = s
			case 1:
				h = overlay(fx.valid)
			case 2:
				b := []byte(fx.valid)
				if len(s) > 0 {
					b[int(pos)%len(b)] ^= s[0]
				}
				h = string(b)
			case 3:
				h = overlay(fx.old)
			}
			before := receiptCounts(t, fx.q)
			var err error
			if mode&4 == 0 {
				err = fx.q.Delete(t.Context(), h)
			} else {
				_, err = fx.q.ChangeVisibility(t.Context(), h, time.Second)
			}
			if h == fx.valid {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle, "handle %q", h)
			require.ErrorIs(t, fx.other.Delete(t.Context(), h), cmq.ErrInvalidReceiptHandle, "handle %q on the other queue", h)
			require.Equal(t, before, receiptCounts(t, fx.q))
			require.NoError(t, fx.q.Delete(t.Context(), fx.valid), "the valid handle after %q", h)
		})
	})
}
