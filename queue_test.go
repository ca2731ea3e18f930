package cmq_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- Send and BatchSend. ---

func TestSendDelayRange(t *testing.T) {
	tests := []struct {
		delay time.Duration
		ok    bool
	}{
		{-1, false},
		{-time.Second, false},
		{0, true},
		{1, true},
		{time.Second, true},
		{3600 * time.Second, true},
		{3600*time.Second + 1, false},
		{3601 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.delay.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBroker(t)
				q := newQueue(t, b, "q", cmq.QueueAttributes{})
				t0 := time.Now()
				id, err := q.Send(t.Context(), "x", tt.delay)
				ids, berr := q.BatchSend(t.Context(), []string{"y", "z"}, tt.delay)
				if !tt.ok {
					assert.ErrorIs(t, err, cmq.ErrOutOfRange)
					assert.EqualError(t, err, "cmq: parameter delaySeconds value or length is out of range (code 4000, module 10350)")
					assert.Empty(t, id)
					assert.ErrorIs(t, berr, cmq.ErrOutOfRange)
					assert.Nil(t, ids)
					assert.Equal(t, counts{}, countsOf(t, q))
					return
				}
				require.NoError(t, err)
				require.NoError(t, berr)
				if tt.delay == 0 {
					assert.Equal(t, counts{Active: 3}, countsOf(t, q))
				} else {
					assert.Equal(t, counts{Delayed: 3}, countsOf(t, q))
					time.Sleep(tt.delay - 1)
					assert.Equal(t, counts{Delayed: 3}, countsOf(t, q))
					time.Sleep(1)
				}
				assert.Equal(t, counts{Active: 3}, countsOf(t, q))
				m, err := q.Receive(t.Context(), 0)
				require.NoError(t, err)
				assert.Equal(t, id, m.ID)
				assertTime(t, t0, m.EnqueueTime)
				assertTime(t, t0.Add(tt.delay), m.FirstDequeueTime)
			})
		})
	}
}

func TestSendBodySize(t *testing.T) {
	b := newBroker(t)
	q := newQueue(t, b, "q", cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(1024)})
	tests := []struct {
		name    string
		body    string
		wantErr error
	}{
		{"empty", "", cmq.ErrEmptyMessage},
		{"one byte", "x", nil},
		{"1024 ASCII bytes", strings.Repeat("x", 1024), nil},
		{"1025 ASCII bytes", strings.Repeat("x", 1025), cmq.ErrMessageTooLarge},
		{"512 two-byte runes = 1024 bytes", strings.Repeat("é", 512), nil},
		{"513 two-byte runes = 1026 bytes", strings.Repeat("é", 513), cmq.ErrMessageTooLarge},
		{"342 three-byte runes = 1026 bytes", strings.Repeat("語", 342), cmq.ErrMessageTooLarge},
		{"256 four-byte runes = 1024 bytes", strings.Repeat("😀", 256), nil},
		{"257 four-byte runes = 1028 bytes", strings.Repeat("😀", 257), cmq.ErrMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countsOf(t, q)
			id, err := q.Send(t.Context(), tt.body, 0)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.NotEmpty(t, id)
				assert.Equal(t, before.Active+1, countsOf(t, q).Active)
				return
			}
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Empty(t, id)
			assert.Equal(t, before, countsOf(t, q), "nothing enqueued")

			// In a batch, the one bad body fails the whole batch.
			ids, err := q.BatchSend(t.Context(), []string{"ok", tt.body, "ok"}, 0)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Nil(t, ids)
			assert.Equal(t, before, countsOf(t, q), "nothing of the batch enqueued")
		})
	}
	assertCode(t, cmq.ErrEmptyMessage, 4000, 10120)
	assertCode(t, cmq.ErrMessageTooLarge, 4400, 10230)
}

func TestBatchSendSize(t *testing.T) {
	b := newBroker(t)
	q := newQueue(t, b, "q", cmq.QueueAttributes{})
	bodies := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("m%d", i)
		}
		return out
	}
	for _, n := range []int{0, 17, 100} {
		ids, err := q.BatchSend(t.Context(), bodies(n), 0)
		assert.ErrorIs(t, err, cmq.ErrBatchSize, n)
		assertCode(t, err, 4000, 10370)
		assert.Nil(t, ids)
	}
	ids, err := q.BatchSend(t.Context(), nil, 0)
	assert.ErrorIs(t, err, cmq.ErrBatchSize)
	assert.Nil(t, ids)
	assert.Equal(t, counts{}, countsOf(t, q))

	for _, n := range []int{1, 16} {
		ids, err := q.BatchSend(t.Context(), bodies(n), 0)
		require.NoError(t, err, n)
		assert.Len(t, ids, n)
	}
	assert.Equal(t, counts{Active: 17}, countsOf(t, q))
}

func TestBatchSendTotalBytes(t *testing.T) {
	b := newBroker(t)
	q := newQueue(t, b, "q", cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(1 << 20)})
	half := strings.Repeat("h", 512<<10)
	// One body of 1 MiB passes alone and in a batch of one.
	_, err := q.Send(t.Context(), half+half, 0)
	require.NoError(t, err)
	_, err = q.BatchSend(t.Context(), []string{half + half}, 0)
	require.NoError(t, err)
	// Exactly 1 MiB in total passes.
	_, err = q.BatchSend(t.Context(), []string{half, half}, 0)
	require.NoError(t, err)
	require.Equal(t, counts{Active: 4}, countsOf(t, q))

	// One byte more fails, although each body fits.
	ids, err := q.BatchSend(t.Context(), []string{half, half, "x"}, 0)
	assert.ErrorIs(t, err, cmq.ErrBatchTooLarge)
	assertCode(t, err, 4470, 10300)
	assert.Nil(t, ids)
	// Multi-byte runes count as bytes: 2 × 262,144 runes of 2 bytes = 1 MiB,
	// plus one more rune.
	r := strings.Repeat("é", 256<<10)
	ids, err = q.BatchSend(t.Context(), []string{r, r, "é"}, 0)
	assert.ErrorIs(t, err, cmq.ErrBatchTooLarge)
	assert.Nil(t, ids)
	assert.Equal(t, counts{Active: 4}, countsOf(t, q), "nothing of a refused batch enqueued")
}

func TestBatchBytesFromLimits(t *testing.T) {
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
		l.BatchBytes = 10
		l.MsgSize = cmq.Range[int]{Min: 1, Max: 100, Default: 100}
	})))
	q := newQueue(t, b, "q", cmq.QueueAttributes{})
	_, err := q.BatchSend(t.Context(), []string{"12345", "12345"}, 0)
	require.NoError(t, err)
	_, err = q.BatchSend(t.Context(), []string{"12345", "123456"}, 0)
	assert.ErrorIs(t, err, cmq.ErrBatchTooLarge)
	assert.EqualError(t, err, "cmq: total message size exceed 10 bytes (code 4470, module 10300)")
	_, err = q.BatchSend(t.Context(), []string{"12345678901"}, 0)
	assert.ErrorIs(t, err, cmq.ErrBatchTooLarge, "a batch of one")
	_, err = q.Send(t.Context(), "12345678901", 0)
	require.NoError(t, err, "BatchBytes does not apply to a single send")
	assert.Equal(t, counts{Active: 3}, countsOf(t, q))
}

// With the longest durations Limits allow, instants do not overflow: a
// message delayed by MaxDuration stays delayed, and a long poll of
// MaxDuration waits.
func TestLongestDurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
			l.Delay.Max, l.PollingWait.Max = cmq.MaxDuration, cmq.MaxDuration
		})))
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "x", cmq.MaxDuration)
		require.NoError(t, err)
		assert.Equal(t, counts{Delayed: 1}, countsOf(t, q))
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		_, err = q.Receive(ctx, cmq.MaxDuration)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, counts{Delayed: 1}, countsOf(t, q))
	})
}

func TestHeapFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
			l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1_000_000_000, Default: 100_000_000}
		})))
		q := newQueue(t, b, "q", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(10)})
		// 10 messages in three states: 4 active, 3 delayed, 3 inactive.
		_, err := q.BatchSend(t.Context(), []string{"1", "2", "3", "4", "5", "6", "7"}, 0)
		require.NoError(t, err)
		_, err = q.BatchSend(t.Context(), []string{"8", "9", "10"}, time.Minute)
		require.NoError(t, err)
		got, err := q.BatchReceive(t.Context(), 3, 0)
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.Equal(t, counts{Active: 4, Inactive: 3, Delayed: 3}, countsOf(t, q))

		id, err := q.Send(t.Context(), "11", 0)
		assert.ErrorIs(t, err, cmq.ErrHeapFull)
		assertCode(t, err, 4410, 10240)
		assert.Empty(t, id)
		_, err = q.Send(t.Context(), "11", time.Second)
		assert.ErrorIs(t, err, cmq.ErrHeapFull)
		require.NoError(t, q.Delete(t.Context(), got[0].ReceiptHandle))
		// One slot free: a batch of two is refused whole, a batch of one fits.
		ids, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
		assert.ErrorIs(t, err, cmq.ErrHeapFull)
		assert.Nil(t, ids)
		assert.Equal(t, counts{Active: 4, Inactive: 2, Delayed: 3}, countsOf(t, q))
		_, err = q.BatchSend(t.Context(), []string{"a"}, 0)
		require.NoError(t, err)
		assert.Equal(t, counts{Active: 5, Inactive: 2, Delayed: 3}, countsOf(t, q))
		_, err = q.Send(t.Context(), "b", 0)
		assert.ErrorIs(t, err, cmq.ErrHeapFull)

		// Raising the cap makes room at once.
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(11)}))
		_, err = q.Send(t.Context(), "b", 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "c", 0)
		assert.ErrorIs(t, err, cmq.ErrHeapFull)
	})
}

func TestSendIDsUniqueAndInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q1 := newQueue(t, b, "one", cmq.QueueAttributes{})
		q2 := newQueue(t, b, "two", cmq.QueueAttributes{})
		seen := map[string]bool{}
		var want []string // bodies of q1 in send order
		for round := range 3 {
			bodies := make([]string, 16)
			for i := range bodies {
				bodies[i] = fmt.Sprintf("r%d-%02d", round, i)
			}
			ids1, err := q1.BatchSend(t.Context(), bodies, 0)
			require.NoError(t, err)
			ids2, err := q2.BatchSend(t.Context(), bodies, 0)
			require.NoError(t, err)
			id, err := q1.Send(t.Context(), fmt.Sprintf("r%d-single", round), 0)
			require.NoError(t, err)
			require.Len(t, ids1, 16)
			require.Len(t, ids2, 16)
			for _, id := range slices.Concat(ids1, ids2, []string{id}) {
				assert.NotEmpty(t, id)
				assert.False(t, seen[id], "duplicate id %s", id)
				seen[id] = true
			}
			// ids come back with the bodies they were returned for, in
			// request order.
			for i, id := range ids1 {
				want = append(want, id+"="+bodies[i])
			}
			want = append(want, id+"="+fmt.Sprintf("r%d-single", round))
		}
		var got []string
		for {
			ms, err := q1.BatchReceive(t.Context(), 16, 0)
			if err != nil {
				assert.ErrorIs(t, err, cmq.ErrNoMessage)
				break
			}
			for _, m := range ms {
				got = append(got, m.ID+"="+m.Body)
			}
		}
		assert.Equal(t, want, got)

		// A queue re-created under the same name hands out new ids.
		require.NoError(t, b.DeleteQueue(t.Context(), "two"))
		q3 := newQueue(t, b, "two", cmq.QueueAttributes{})
		id, err := q3.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		assert.False(t, seen[id], "id %s reused", id)
	})
}

// --- Delete and BatchDelete. ---

func TestDeleteOnlyLatestHandle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(10 * time.Second)})
		_, err := q.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		m1, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		time.Sleep(10 * time.Second)
		m2, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, m1.ID, m2.ID)
		assert.NotEqual(t, m1.ReceiptHandle, m2.ReceiptHandle)
		assert.Equal(t, 2, m2.DequeueCount)

		err = q.Delete(t.Context(), m1.ReceiptHandle)
		assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle, "an older receive's handle")
		assertCode(t, err, 4430, 10260)
		assert.Equal(t, counts{Inactive: 1}, countsOf(t, q))
		require.NoError(t, q.Delete(t.Context(), m2.ReceiptHandle))
		assert.Equal(t, counts{}, countsOf(t, q))
		assert.ErrorIs(t, q.Delete(t.Context(), m2.ReceiptHandle), cmq.ErrInvalidReceiptHandle, "double delete")
		assert.ErrorIs(t, q.Delete(t.Context(), m1.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
	})
}

func TestDeleteHandleExpiresAtNextVisibleTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(10 * time.Second)})
		_, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		ms, err := q.BatchReceive(t.Context(), 2, 0)
		require.NoError(t, err)
		require.Len(t, ms, 2)

		// One nanosecond before the next visible time the handle works.
		time.Sleep(10*time.Second - 1)
		require.NoError(t, q.Delete(t.Context(), ms[0].ReceiptHandle))
		// At the next visible time it does not, although nobody received the
		// message again.
		time.Sleep(1)
		assertTime(t, time.Now(), ms[1].NextVisibleTime)
		assert.ErrorIs(t, q.Delete(t.Context(), ms[1].ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		assert.Equal(t, counts{Active: 1}, countsOf(t, q))
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assert.Equal(t, "b", m.Body)
		assert.Equal(t, 2, m.DequeueCount)
	})
}

func TestDeleteMalformedHandles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		other := newQueue(t, b, "other", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		_, err = other.Send(t.Context(), "y", 0)
		require.NoError(t, err)
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		om, err := other.Receive(t.Context(), 0)
		require.NoError(t, err)
		h := m.ReceiptHandle
		require.Len(t, h, 32)
		require.Regexp(t, `^[0-9a-f]{32}$`, h)

		flip := func(s string, i int) string {
			c := s[i]
			if c == '0' {
				c = '1'
			} else {
				c = '0'
			}
			return s[:i] + string(c) + s[i+1:]
		}
		tests := []struct{ name, handle string }{
			{"empty", ""},
			{"short", h[:31]},
			{"long", h + "0"},
			{"upper case", strings.ToUpper(h)},
			{"not hex", "zz" + h[2:]},
			{"space", " " + h[1:]},
			{"first digit changed", flip(h, 0)},
			{"last sequence digit changed", flip(h, 15)},
			{"first nonce digit changed", flip(h, 16)},
			{"last digit changed", flip(h, 31)},
			{"zero nonce", h[:16] + strings.Repeat("0", 16)},
			{"all zero", strings.Repeat("0", 32)},
			{"other queue's handle", om.ReceiptHandle},
			{"message id", m.ID},
		}
		for _, tt := range tests {
			if tt.handle == h {
				continue // an upper-case handle without letters
			}
			err := q.Delete(t.Context(), tt.handle)
			assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle, tt.name)
			results, err := q.BatchDelete(t.Context(), []string{tt.handle})
			assert.ErrorIs(t, err, cmq.ErrBatchDeleteFailed, tt.name)
			assert.Len(t, results, 1)
			_, err = q.ChangeVisibility(t.Context(), tt.handle, time.Second)
			assert.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle, tt.name)
		}
		assert.Equal(t, counts{Inactive: 1}, countsOf(t, q), "nothing deleted")
		assert.Equal(t, counts{Inactive: 1}, countsOf(t, other), "nothing deleted")
		require.NoError(t, q.Delete(t.Context(), h))
		require.NoError(t, other.Delete(t.Context(), om.ReceiptHandle))
	})
}

// Ids and receipt handles are both strings, and a mix-up is caught at
// once: an id always contains '-', a handle is 32 hexadecimal digits, so
// deleting by id fails with ErrInvalidReceiptHandle and deletes nothing.
func TestDeleteByMessageIDFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "x", 0)
		require.NoError(t, err)
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assert.Contains(t, m.ID, "-")
		assert.Regexp(t, `^[0-9a-f]{32}$`, m.ReceiptHandle)

		assert.ErrorIs(t, q.Delete(t.Context(), m.ID), cmq.ErrInvalidReceiptHandle)
		assert.ErrorIs(t, b.Service().DeleteMessage(t.Context(), "q", m.ID), cmq.ErrInvalidReceiptHandle)
		assert.Equal(t, counts{Inactive: 1}, countsOf(t, q), "nothing deleted")
		require.NoError(t, q.Delete(t.Context(), m.ReceiptHandle))
	})
}

func TestBatchDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.BatchSend(t.Context(), []string{"a", "b", "c", "d", "e", "f"}, 0)
		require.NoError(t, err)
		ms, err := q.BatchReceive(t.Context(), 6, 0)
		require.NoError(t, err)
		require.Len(t, ms, 6)
		h := func(i int) string { return ms[i].ReceiptHandle }

		// Batch size.
		for _, n := range []int{0, 17} {
			handles := make([]string, n)
			for i := range handles {
				handles[i] = h(0)
			}
			results, err := q.BatchDelete(t.Context(), handles)
			assert.ErrorIs(t, err, cmq.ErrBatchSize, n)
			assert.Nil(t, results)
		}
		results, err := q.BatchDelete(t.Context(), nil)
		assert.ErrorIs(t, err, cmq.ErrBatchSize)
		assert.Nil(t, results)
		require.Equal(t, counts{Inactive: 6}, countsOf(t, q))

		// All valid.
		results, err = q.BatchDelete(t.Context(), []string{h(0), h(1)})
		require.NoError(t, err)
		assert.Equal(t, []error{nil, nil}, results)
		assert.Equal(t, counts{Inactive: 4}, countsOf(t, q))

		// Partial: every valid handle is deleted, each bad one reported in
		// place; a handle given twice fails the second time.
		results, err = q.BatchDelete(t.Context(), []string{h(2), "bad", h(0), h(3), h(2)})
		assert.ErrorIs(t, err, cmq.ErrBatchDeletePartial)
		assertCode(t, err, 6010, 10150)
		require.Len(t, results, 5)
		assert.NoError(t, results[0])
		assert.ErrorIs(t, results[1], cmq.ErrInvalidReceiptHandle)
		assert.ErrorIs(t, results[2], cmq.ErrInvalidReceiptHandle, "already deleted")
		assert.NoError(t, results[3])
		assert.ErrorIs(t, results[4], cmq.ErrInvalidReceiptHandle, "given twice")
		assert.Equal(t, counts{Inactive: 2}, countsOf(t, q))

		// All failed.
		results, err = q.BatchDelete(t.Context(), []string{h(0), "", h(3)})
		assert.ErrorIs(t, err, cmq.ErrBatchDeleteFailed)
		assertCode(t, err, 6020, 10290)
		require.Len(t, results, 3)
		for i, r := range results {
			assert.ErrorIs(t, r, cmq.ErrInvalidReceiptHandle, i)
		}
		assert.Equal(t, counts{Inactive: 2}, countsOf(t, q))

		// A full batch of 16 works; handles of expired receives fail.
		time.Sleep(30 * time.Second)
		results, err = q.BatchDelete(t.Context(), []string{h(4), h(5)})
		assert.ErrorIs(t, err, cmq.ErrBatchDeleteFailed, "past the next visible time")
		assert.Len(t, results, 2)
		assert.Equal(t, counts{Active: 2}, countsOf(t, q))
		bodies := make([]string, 14)
		for i := range bodies {
			bodies[i] = fmt.Sprint(i)
		}
		_, err = q.BatchSend(t.Context(), bodies, 0)
		require.NoError(t, err)
		ms, err = q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 16)
		handles := make([]string, 16)
		for i, m := range ms {
			handles[i] = m.ReceiptHandle
		}
		results, err = q.BatchDelete(t.Context(), handles)
		require.NoError(t, err)
		assert.Equal(t, make([]error, 16), results)
		assert.Equal(t, counts{}, countsOf(t, q))
	})
}

// --- Retention. ---

func TestRetentionEveryState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{
			MsgRetention:      cmq.Ptr(60 * time.Second),
			VisibilityTimeout: cmq.Ptr(time.Hour),
		})
		t0 := time.Now()
		_, err := q.BatchSend(t.Context(), []string{"inactive", "active"}, 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "delayed", time.Hour)
		require.NoError(t, err)
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "inactive", m.Body)
		time.Sleep(time.Second)
		_, err = q.Send(t.Context(), "young", 0)
		require.NoError(t, err)

		// One nanosecond before the retention ends, all are there.
		time.Sleep(59*time.Second - 1)
		assert.Equal(t, counts{Active: 2, Inactive: 1, Delayed: 1}, countsOf(t, q))
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assertTime(t, t0, info.MinMsgTime)

		// At 60 s the three sent at t0 are gone, in every state.
		time.Sleep(1)
		assert.Equal(t, counts{Active: 1}, countsOf(t, q))
		info, err = q.Attributes(t.Context())
		require.NoError(t, err)
		assertTime(t, t0.Add(time.Second), info.MinMsgTime)
		assert.ErrorIs(t, q.Delete(t.Context(), m.ReceiptHandle), cmq.ErrInvalidReceiptHandle, "an expired message cannot be deleted")
		got, err := q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "young", got[0].Body)

		// The delayed and the inactive one never come back.
		time.Sleep(3 * time.Hour)
		assert.Equal(t, counts{}, countsOf(t, q))
		_, err = q.Receive(t.Context(), 0)
		assert.ErrorIs(t, err, cmq.ErrNoMessage)
		info, err = q.Attributes(t.Context())
		require.NoError(t, err)
		assert.True(t, info.MinMsgTime.IsZero())
	})
}

func TestRetentionFreesHeap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) {
			l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 100, Default: 100}
		})))
		q := newQueue(t, b, "q", cmq.QueueAttributes{MaxMsgHeapNum: cmq.Ptr(2), MsgRetention: cmq.Ptr(time.Minute)})
		_, err := q.BatchSend(t.Context(), []string{"a", "b"}, 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "c", 0)
		assert.ErrorIs(t, err, cmq.ErrHeapFull)
		time.Sleep(time.Minute)
		_, err = q.BatchSend(t.Context(), []string{"c", "d"}, 0)
		require.NoError(t, err)
	})
}

func TestRetentionShortenedBySetAttributes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "old", 0)
		require.NoError(t, err)
		time.Sleep(90 * time.Second)
		_, err = q.Send(t.Context(), "new", 0)
		require.NoError(t, err)
		require.Equal(t, counts{Active: 2}, countsOf(t, q))
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{MsgRetention: cmq.Ptr(time.Minute)}))
		assert.Equal(t, counts{Active: 1}, countsOf(t, q))
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assert.Equal(t, "new", m.Body)
	})
}

// --- Index structure: messages of one instant, counts against a recount. ---

func TestSameInstantMessagesSurvive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(5 * time.Second)})
		t0 := time.Now()
		id1, err := q.Send(t.Context(), "first", 0)
		require.NoError(t, err)
		id2, err := q.Send(t.Context(), "second", 0)
		require.NoError(t, err)
		ids, err := q.BatchSend(t.Context(), []string{"third", "fourth"}, 0)
		require.NoError(t, err)
		// Two delayed ones that become visible at the same instant, too.
		_, err = q.Send(t.Context(), "fifth", time.Second)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "sixth", time.Second)
		require.NoError(t, err)
		assertTime(t, t0, time.Now(), "all sent at the same instant")
		assert.Equal(t, counts{Active: 4, Delayed: 2}, countsOf(t, q))

		var got []string
		for range 4 {
			m, err := q.Receive(t.Context(), 0)
			require.NoError(t, err)
			assertTime(t, t0, m.EnqueueTime)
			got = append(got, m.ID+":"+m.Body)
		}
		assert.Equal(t, []string{id1 + ":first", id2 + ":second", ids[0] + ":third", ids[1] + ":fourth"}, got)
		time.Sleep(time.Second)
		ms, err := q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		require.Len(t, ms, 2)
		assert.Equal(t, "fifth", ms[0].Body)
		assert.Equal(t, "sixth", ms[1].Body)
		// The four received at t0 come back at the same instant, in send
		// order.
		time.Sleep(4 * time.Second)
		ms, err = q.BatchReceive(t.Context(), 16, 0)
		require.NoError(t, err)
		got = got[:0]
		for _, m := range ms {
			got = append(got, m.Body)
		}
		assert.Equal(t, []string{"first", "second", "third", "fourth"}, got)
	})
}

// recount is a brute-force reference for one queue: a flat list of every
// message ever sent, searched in full for each answer.
type recount struct {
	vt, retention time.Duration
	msgs          []*recountMsg
}

type recountMsg struct {
	id, body      string
	enqueued, vis time.Time
	firstDeq      time.Time
	dequeues      int
	handles       []string // every handle, the latest last
	deleted       bool
}

func (md *recount) alive(m *recountMsg, now time.Time) bool {
	return !m.deleted && now.Sub(m.enqueued) < md.retention
}

func (md *recount) counts(now time.Time) counts {
	var c counts
	for _, m := range md.msgs {
		switch {
		case !md.alive(m, now):
		case !m.vis.After(now):
			c.Active++
		case m.dequeues == 0:
			c.Delayed++
		default:
			c.Inactive++
		}
	}
	return c
}

func (md *recount) minMsgTime(now time.Time) time.Time {
	var oldest time.Time
	for _, m := range md.msgs {
		if md.alive(m, now) && (oldest.IsZero() || m.enqueued.Before(oldest)) {
			oldest = m.enqueued
		}
	}
	return oldest
}

// next returns the message a receive at now gets: the earliest next
// visible time, ties in send order.
func (md *recount) next(now time.Time) *recountMsg {
	var best *recountMsg
	for _, m := range md.msgs {
		if md.alive(m, now) && !m.vis.After(now) && (best == nil || m.vis.Before(best.vis)) {
			best = m
		}
	}
	return best
}

func (md *recount) receive(t *testing.T, now time.Time, got cmq.Message) {
	t.Helper()
	want := md.next(now)
	require.NotNil(t, want, "received %q but the reference has nothing visible", got.Body)
	require.Equal(t, want.id, got.ID)
	require.Equal(t, want.body, got.Body)
	want.dequeues++
	if want.firstDeq.IsZero() {
		want.firstDeq = now
	}
	want.vis = now.Add(md.vt)
	want.handles = append(want.handles, got.ReceiptHandle)
	require.Equal(t, want.dequeues, got.DequeueCount)
	assertTime(t, want.enqueued, got.EnqueueTime)
	assertTime(t, want.firstDeq, got.FirstDequeueTime)
	assertTime(t, want.vis, got.NextVisibleTime)
}

// deleteOK reports whether deleting with h at now works, and records it.
func (md *recount) delete(now time.Time, m *recountMsg, h string) bool {
	ok := md.alive(m, now) && len(m.handles) > 0 && m.handles[len(m.handles)-1] == h && now.Before(m.vis)
	if ok {
		m.deleted = true
	}
	return ok
}

// TestCountsAgainstRecount runs random operations against a queue and a
// brute-force recount, and compares every answer and, after each step, the
// exact counts and MinMsgTime.
func TestCountsAgainstRecount(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				runRecount(t, seed, 1500)
			})
		})
	}
}

func runRecount(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 42))
	b := newBroker(t, cmq.WithLimits(limitsWith(func(l *cmq.Limits) { l.QPS = 0 })))
	md := &recount{vt: 3 * time.Second, retention: 60 * time.Second}
	q := newQueue(t, b, "recount", cmq.QueueAttributes{VisibilityTimeout: &md.vt, MsgRetention: &md.retention})
	ctx := t.Context()
	sent, refused := 0, 0
	newBody := func() string { sent++; return fmt.Sprintf("m%d", sent) }
	send := func(bodies []string, delay time.Duration, ids []string) {
		now := time.Now()
		for i, body := range bodies {
			md.msgs = append(md.msgs, &recountMsg{id: ids[i], body: body, enqueued: now, vis: now.Add(delay)})
		}
	}
	pickHandle := func() (*recountMsg, string) {
		var withHandles []*recountMsg
		for _, m := range md.msgs {
			if len(m.handles) > 0 {
				withHandles = append(withHandles, m)
			}
		}
		if len(withHandles) == 0 {
			return nil, "0123456789abcdef0123456789abcdef"
		}
		// Prefer recent messages, and the latest handle.
		m := withHandles[len(withHandles)-1-rng.IntN(min(len(withHandles), 8))]
		h := m.handles[len(m.handles)-1]
		if rng.IntN(4) == 0 {
			h = m.handles[rng.IntN(len(m.handles))]
		}
		return m, h
	}
	delays := []time.Duration{0, 0, 0, time.Second, 1500 * time.Millisecond, 3 * time.Second, 10 * time.Second}

	for step := range steps {
		now := time.Now()
		switch op := rng.IntN(10); op {
		case 0, 1: // send
			body, delay := newBody(), delays[rng.IntN(len(delays))]
			id, err := q.Send(ctx, body, delay)
			require.NoError(t, err)
			send([]string{body}, delay, []string{id})
		case 2: // batch send
			bodies := make([]string, 1+rng.IntN(5))
			for i := range bodies {
				bodies[i] = newBody()
			}
			delay := delays[rng.IntN(len(delays))]
			ids, err := q.BatchSend(ctx, bodies, delay)
			require.NoError(t, err)
			send(bodies, delay, ids)
		case 3, 4: // receive
			m, err := q.Receive(ctx, 0)
			if md.next(now) == nil {
				require.ErrorIs(t, err, cmq.ErrNoMessage, "step %d", step)
				break
			}
			require.NoError(t, err, "step %d", step)
			md.receive(t, now, m)
		case 5: // batch receive
			n := 1 + rng.IntN(4)
			ms, err := q.BatchReceive(ctx, n, 0)
			if md.next(now) == nil {
				require.ErrorIs(t, err, cmq.ErrNoMessage, "step %d", step)
				break
			}
			require.NoError(t, err, "step %d", step)
			for _, m := range ms {
				md.receive(t, now, m)
			}
			if md.next(now) != nil {
				require.Len(t, ms, n, "step %d: a short batch means nothing else was visible", step)
			}
		case 6: // delete
			m, h := pickHandle()
			err := q.Delete(ctx, h)
			if m != nil && md.delete(now, m, h) {
				require.NoError(t, err, "step %d", step)
			} else {
				require.ErrorIs(t, err, cmq.ErrInvalidReceiptHandle, "step %d", step)
				refused++
			}
		case 7: // batch delete
			n := 1 + rng.IntN(4)
			var handles []string
			var want []bool
			for range n {
				m, h := pickHandle()
				handles = append(handles, h)
				want = append(want, m != nil && md.delete(now, m, h))
			}
			results, err := q.BatchDelete(ctx, handles)
			require.Len(t, results, n)
			okN := 0
			for i, ok := range want {
				if ok {
					okN++
					require.NoError(t, results[i], "step %d handle %d", step, i)
				} else {
					require.ErrorIs(t, results[i], cmq.ErrInvalidReceiptHandle, "step %d handle %d", step, i)
				}
			}
			switch okN {
			case n:
				require.NoError(t, err)
			case 0:
				require.ErrorIs(t, err, cmq.ErrBatchDeleteFailed)
			default:
				require.ErrorIs(t, err, cmq.ErrBatchDeletePartial)
			}
		default: // let time pass, sometimes to an exact visibility instant
			if rng.IntN(3) == 0 && len(md.msgs) > 0 {
				m := md.msgs[len(md.msgs)-1-rng.IntN(min(len(md.msgs), 5))]
				if d := m.vis.Sub(now); d > 0 {
					time.Sleep(d)
					break
				}
			}
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
		}

		now = time.Now()
		info, err := q.Attributes(ctx)
		require.NoError(t, err)
		require.Equal(t, md.counts(now), counts{info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum, info.RewindMsgNum}, "step %d", step)
		want := md.minMsgTime(now)
		require.True(t, want.Equal(info.MinMsgTime), "step %d: MinMsgTime want %v got %v", step, want, info.MinMsgTime)
	}
	// The run exercised every path: receives, redeliveries, deletes,
	// refused handles and expiry by retention.
	var received, redelivered, deleted, expired int
	for _, m := range md.msgs {
		received += min(m.dequeues, 1)
		redelivered += max(m.dequeues-1, 0)
		if m.deleted {
			deleted++
		} else if !md.alive(m, time.Now()) {
			expired++
		}
	}
	t.Logf("sent %d, received %d, redelivered %d, deleted %d, expired %d, refused deletes %d",
		sent, received, redelivered, deleted, expired, refused)
	assert.Greater(t, sent, steps/4)
	assert.Greater(t, received, sent/4)
	assert.Greater(t, redelivered, 20)
	assert.Greater(t, deleted, 20)
	assert.Greater(t, expired, 20)
	assert.Greater(t, refused, 20)
}

// --- Purge. ---

func TestPurge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := cmq.DefaultLimits()
		lim.MsgHeapNum.Min = 1
		b := extBroker(t, cmq.WithLimits(lim))
		q := extQueue(t, b, "purge", cmq.QueueAttributes{
			MaxMsgHeapNum: cmq.Ptr(5),
			RewindPeriod:  cmq.Ptr(time.Hour),
		})
		t0 := time.Now()
		_, err := q.BatchSend(t.Context(), []string{"a", "b", "c", "d"}, 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "e", time.Minute)
		require.NoError(t, err)
		ms, err := q.BatchReceive(t.Context(), 2, 0)
		require.NoError(t, err)
		require.Len(t, ms, 2)
		require.NoError(t, q.Delete(t.Context(), ms[1].ReceiptHandle))
		require.Equal(t, extCounts{Active: 2, Inactive: 1, Delayed: 1, Rewind: 1}, extCountsOf(t, q))
		_, err = q.Send(t.Context(), "full", 0)
		require.ErrorIs(t, err, cmq.ErrHeapFull)

		require.NoError(t, q.Purge(t.Context()))
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, extCounts{}, extCountsOf(t, q))
		assert.True(t, info.MinMsgTime.IsZero())
		extNoMessage(t, q)
		assert.ErrorIs(t, q.Delete(t.Context(), ms[0].ReceiptHandle), cmq.ErrInvalidReceiptHandle)
		// Kept messages are gone too: a rewind brings nothing back.
		require.NoError(t, q.Rewind(t.Context(), t0))
		extNoMessage(t, q)
		// The delayed message does not come back when its delay ends.
		time.Sleep(time.Minute)
		extNoMessage(t, q)
		assert.Equal(t, extCounts{}, extCountsOf(t, q))

		// The heap is free again, and the queue works as before.
		ids, err := q.BatchSend(t.Context(), []string{"1", "2", "3", "4", "5"}, 0)
		require.NoError(t, err)
		m := extReceive(t, q)
		assert.Equal(t, ids[0], m.ID)
		assert.Equal(t, "1", m.Body)
		assert.Equal(t, extCounts{Active: 4, Inactive: 1}, extCountsOf(t, q))
		// Purging an empty queue is fine.
		require.NoError(t, q.Purge(t.Context()))
		require.NoError(t, q.Purge(t.Context()))
		assert.Equal(t, extCounts{}, extCountsOf(t, q))
	})
}

func TestPurgeKeepsWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := extBroker(t)
		q := extQueue(t, b, "purge", cmq.QueueAttributes{})
		_, err := q.Send(t.Context(), "late", 5*time.Second)
		require.NoError(t, err)
		done := make(chan error, 1)
		var got cmq.Message
		go func() {
			var err error
			got, err = q.Receive(t.Context(), 10*time.Second)
			done <- err
		}()
		synctest.Wait()
		require.NoError(t, q.Purge(t.Context()))
		// The purged delayed message does not wake the waiter at 5s; a
		// message sent at 7s does.
		time.Sleep(7 * time.Second)
		synctest.Wait()
		require.Empty(t, done)
		_, err = q.Send(t.Context(), "new", 0)
		require.NoError(t, err)
		require.NoError(t, <-done)
		assert.Equal(t, "new", got.Body)
	})
}
