package cmq_test

import (
	"bytes"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- Queue attributes: defaults, ranges, SetAttributes and counts. ---

func TestAttributeDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		created := time.Now()
		q := newQueue(t, b, "jobs", cmq.QueueAttributes{})
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, q.ID(), info.ID)
		assert.Equal(t, "jobs", info.Name)
		assert.Equal(t, 100_000_000, info.MaxMsgHeapNum)
		assert.Equal(t, time.Duration(0), info.PollingWait)
		assert.Equal(t, 30*time.Second, info.VisibilityTimeout)
		assert.Equal(t, 65_536, info.MaxMsgSize)
		assert.Equal(t, 345_600*time.Second, info.MsgRetention)
		assert.Equal(t, time.Duration(0), info.RewindPeriod)
		assert.Nil(t, info.DeadLetterPolicy)
		assertTime(t, created, info.CreateTime)
		assertTime(t, created, info.LastModifyTime)
		assert.Zero(t, info.ActiveMsgNum)
		assert.Zero(t, info.InactiveMsgNum)
		assert.Zero(t, info.DelayMsgNum)
		assert.Zero(t, info.RewindMsgNum)
		assert.True(t, info.MinMsgTime.IsZero())
	})
}

// attrCase is one attribute value to try, and what the info should then
// say.
type attrCase struct {
	name    string
	attrs   cmq.QueueAttributes
	wantErr error  // nil: accepted
	param   string // the CMQ parameter an ErrOutOfRange names
	check   func(t *testing.T, info cmq.QueueInfo)
}

func attrCases() []attrCase {
	d := func(v time.Duration) *time.Duration { return &v }
	n := func(v int) *int { return &v }
	const s = time.Second
	var cases []attrCase
	intCase := func(field, param string, v int, ok bool, set func(a *cmq.QueueAttributes, v *int), get func(cmq.QueueInfo) int) {
		c := attrCase{name: field + "=" + strconv.Itoa(v), param: param}
		set(&c.attrs, n(v))
		if ok {
			c.check = func(t *testing.T, info cmq.QueueInfo) { assert.Equal(t, v, get(info), field) }
		} else {
			c.wantErr = cmq.ErrOutOfRange
		}
		cases = append(cases, c)
	}
	durCase := func(field, param string, v time.Duration, ok bool, set func(a *cmq.QueueAttributes, v *time.Duration), get func(cmq.QueueInfo) time.Duration) {
		c := attrCase{name: field + "=" + v.String(), param: param}
		set(&c.attrs, d(v))
		if ok {
			c.check = func(t *testing.T, info cmq.QueueInfo) { assert.Equal(t, v, get(info), field) }
		} else {
			c.wantErr = cmq.ErrOutOfRange
		}
		cases = append(cases, c)
	}
	heap := func(a *cmq.QueueAttributes, v *int) { a.MaxMsgHeapNum = v }
	heapGet := func(i cmq.QueueInfo) int { return i.MaxMsgHeapNum }
	intCase("MaxMsgHeapNum", "maxMsgHeapNum", 999_999, false, heap, heapGet)
	intCase("MaxMsgHeapNum", "maxMsgHeapNum", 1_000_000, true, heap, heapGet)
	intCase("MaxMsgHeapNum", "maxMsgHeapNum", 1_000_000_000, true, heap, heapGet)
	intCase("MaxMsgHeapNum", "maxMsgHeapNum", 1_000_000_001, false, heap, heapGet)

	size := func(a *cmq.QueueAttributes, v *int) { a.MaxMsgSize = v }
	sizeGet := func(i cmq.QueueInfo) int { return i.MaxMsgSize }
	intCase("MaxMsgSize", "maxMsgSize", 1023, false, size, sizeGet)
	intCase("MaxMsgSize", "maxMsgSize", 1024, true, size, sizeGet)
	intCase("MaxMsgSize", "maxMsgSize", 1_048_576, true, size, sizeGet)
	intCase("MaxMsgSize", "maxMsgSize", 1_048_577, false, size, sizeGet)

	poll := func(a *cmq.QueueAttributes, v *time.Duration) { a.PollingWait = v }
	pollGet := func(i cmq.QueueInfo) time.Duration { return i.PollingWait }
	durCase("PollingWait", "pollingWaitSeconds", -1, false, poll, pollGet)
	durCase("PollingWait", "pollingWaitSeconds", 0, true, poll, pollGet)
	durCase("PollingWait", "pollingWaitSeconds", 30*s, true, poll, pollGet)
	durCase("PollingWait", "pollingWaitSeconds", 30*s+1, false, poll, pollGet)

	vis := func(a *cmq.QueueAttributes, v *time.Duration) { a.VisibilityTimeout = v }
	visGet := func(i cmq.QueueInfo) time.Duration { return i.VisibilityTimeout }
	durCase("VisibilityTimeout", "visibilityTimeout", s-1, false, vis, visGet)
	durCase("VisibilityTimeout", "visibilityTimeout", s, true, vis, visGet)
	durCase("VisibilityTimeout", "visibilityTimeout", 43200*s, true, vis, visGet)
	durCase("VisibilityTimeout", "visibilityTimeout", 43200*s+1, false, vis, visGet)

	ret := func(a *cmq.QueueAttributes, v *time.Duration) { a.MsgRetention = v }
	retGet := func(i cmq.QueueInfo) time.Duration { return i.MsgRetention }
	durCase("MsgRetention", "msgRetentionSeconds", 60*s-1, false, ret, retGet)
	durCase("MsgRetention", "msgRetentionSeconds", 60*s, true, ret, retGet)
	durCase("MsgRetention", "msgRetentionSeconds", 1_296_000*s, true, ret, retGet)
	durCase("MsgRetention", "msgRetentionSeconds", 1_296_000*s+1, false, ret, retGet)

	rew := func(a *cmq.QueueAttributes, v *time.Duration) { a.RewindPeriod = v }
	rewGet := func(i cmq.QueueInfo) time.Duration { return i.RewindPeriod }
	durCase("RewindPeriod", "rewindSeconds", -1, false, rew, rewGet)
	durCase("RewindPeriod", "rewindSeconds", 0, true, rew, rewGet)
	// Up to the (default) retention, 345,600 s.
	durCase("RewindPeriod", "rewindSeconds", 345_600*s, true, rew, rewGet)
	cases = append(cases,
		attrCase{
			name:    "RewindPeriod above default retention",
			attrs:   cmq.QueueAttributes{RewindPeriod: d(345_600*s + 1)},
			wantErr: cmq.ErrRewindPeriod,
		},
		attrCase{
			name:  "RewindPeriod equal to given retention",
			attrs: cmq.QueueAttributes{MsgRetention: d(60 * s), RewindPeriod: d(60 * s)},
			check: func(t *testing.T, info cmq.QueueInfo) {
				assert.Equal(t, 60*s, info.MsgRetention)
				assert.Equal(t, 60*s, info.RewindPeriod)
			},
		},
		attrCase{
			name:    "RewindPeriod above given retention",
			attrs:   cmq.QueueAttributes{MsgRetention: d(60 * s), RewindPeriod: d(60*s + 1)},
			wantErr: cmq.ErrRewindPeriod,
		},
		attrCase{
			name:  "every attribute at once",
			attrs: cmq.QueueAttributes{MaxMsgHeapNum: n(2_000_000), PollingWait: d(5 * s), VisibilityTimeout: d(10 * s), MaxMsgSize: n(2048), MsgRetention: d(120 * s), RewindPeriod: d(100 * s)},
			check: func(t *testing.T, info cmq.QueueInfo) {
				assert.Equal(t, 2_000_000, info.MaxMsgHeapNum)
				assert.Equal(t, 5*s, info.PollingWait)
				assert.Equal(t, 10*s, info.VisibilityTimeout)
				assert.Equal(t, 2048, info.MaxMsgSize)
				assert.Equal(t, 120*s, info.MsgRetention)
				assert.Equal(t, 100*s, info.RewindPeriod)
			},
		},
		attrCase{
			name:    "one bad attribute among good ones",
			attrs:   cmq.QueueAttributes{PollingWait: d(5 * s), VisibilityTimeout: d(10 * s), MaxMsgSize: n(100)},
			wantErr: cmq.ErrOutOfRange,
			param:   "maxMsgSize",
		},
	)
	return cases
}

func assertAttrErr(t *testing.T, tc attrCase, err error) {
	t.Helper()
	assert.ErrorIs(t, err, tc.wantErr)
	if tc.wantErr == cmq.ErrOutOfRange {
		assertCode(t, err, 4000, 10350)
		if tc.param != "" {
			assert.EqualError(t, err, "cmq: parameter "+tc.param+" value or length is out of range (code 4000, module 10350)")
		}
	}
	if tc.wantErr == cmq.ErrRewindPeriod {
		assertCode(t, err, 4000, 10700)
	}
}

func TestCreateQueueAttributeRanges(t *testing.T) {
	for _, tc := range attrCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := newBroker(t)
			q, err := b.CreateQueue(t.Context(), "q", tc.attrs)
			if tc.wantErr != nil {
				assertAttrErr(t, tc, err)
				assert.Nil(t, q)
				_, err = b.Queue("q")
				assert.ErrorIs(t, err, cmq.ErrQueueNotExist, "a rejected CreateQueue creates nothing")
				return
			}
			require.NoError(t, err)
			info, err := q.Attributes(t.Context())
			require.NoError(t, err)
			tc.check(t, info)
		})
	}
}

func TestSetAttributesRanges(t *testing.T) {
	for _, tc := range attrCases() {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBroker(t)
				q := newQueue(t, b, "q", cmq.QueueAttributes{})
				before, err := q.Attributes(t.Context())
				require.NoError(t, err)
				time.Sleep(time.Second)
				err = q.SetAttributes(t.Context(), tc.attrs)
				after, aerr := q.Attributes(t.Context())
				require.NoError(t, aerr)
				if tc.wantErr != nil {
					assertAttrErr(t, tc, err)
					assert.Equal(t, before, after, "a rejected SetAttributes changes nothing")
					return
				}
				require.NoError(t, err)
				tc.check(t, after)
				assertTime(t, before.LastModifyTime.Add(time.Second), after.LastModifyTime)
				assertTime(t, before.CreateTime, after.CreateTime)
			})
		})
	}
}

func TestSetAttributesChangesOnlyWhatIsGiven(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		created := time.Now()
		q := newQueue(t, b, "q", cmq.QueueAttributes{
			MaxMsgHeapNum:     cmq.Ptr(2_000_000),
			PollingWait:       cmq.Ptr(5 * time.Second),
			VisibilityTimeout: cmq.Ptr(10 * time.Second),
			MaxMsgSize:        cmq.Ptr(4096),
			MsgRetention:      cmq.Ptr(time.Hour),
			RewindPeriod:      cmq.Ptr(2 * time.Minute),
		})
		want, err := q.Attributes(t.Context())
		require.NoError(t, err)

		time.Sleep(5 * time.Second)
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(2048)}))
		got, err := q.Attributes(t.Context())
		require.NoError(t, err)
		want.MaxMsgSize = 2048
		want.LastModifyTime = created.Add(5 * time.Second)
		assert.Equal(t, want, got)

		time.Sleep(5 * time.Second)
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(20 * time.Second), PollingWait: cmq.Ptr(time.Duration(0))}))
		got, err = q.Attributes(t.Context())
		require.NoError(t, err)
		want.VisibilityTimeout = 20 * time.Second
		want.PollingWait = 0
		want.LastModifyTime = created.Add(10 * time.Second)
		assert.Equal(t, want, got)
		assertTime(t, created, got.CreateTime)

		// Rejected sets change nothing, not even LastModifyTime: a bad
		// value next to good ones, and a retention below the rewind period.
		time.Sleep(5 * time.Second)
		err = q.SetAttributes(t.Context(), cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(8192), VisibilityTimeout: cmq.Ptr(time.Duration(0))})
		assert.ErrorIs(t, err, cmq.ErrOutOfRange)
		err = q.SetAttributes(t.Context(), cmq.QueueAttributes{MsgRetention: cmq.Ptr(2*time.Minute - 1)})
		assert.ErrorIs(t, err, cmq.ErrRewindPeriod)
		err = q.SetAttributes(t.Context(), cmq.QueueAttributes{RewindPeriod: cmq.Ptr(time.Hour + 1)})
		assert.ErrorIs(t, err, cmq.ErrRewindPeriod)
		got, err = q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, want, got)

		// Lowering both together works: they are checked as a whole.
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{MsgRetention: cmq.Ptr(time.Minute), RewindPeriod: cmq.Ptr(30 * time.Second)}))
		got, err = q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, time.Minute, got.MsgRetention)
		assert.Equal(t, 30*time.Second, got.RewindPeriod)
		assertTime(t, created.Add(15*time.Second), got.LastModifyTime)
	})
}

func TestSetAttributesAppliesToLaterCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		q := newQueue(t, b, "q", cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(2048)})
		big := string(bytes.Repeat([]byte("x"), 2049))
		_, err := q.Send(t.Context(), big, 0)
		assert.ErrorIs(t, err, cmq.ErrMessageTooLarge)
		require.NoError(t, q.SetAttributes(t.Context(), cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(4096), VisibilityTimeout: cmq.Ptr(7 * time.Second)}))
		_, err = q.Send(t.Context(), big, 0)
		require.NoError(t, err)
		start := time.Now()
		m, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		assertTime(t, start.Add(7*time.Second), m.NextVisibleTime)
	})
}

func TestAttributesCountsAndMinMsgTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBroker(t)
		t0 := time.Now()
		q := newQueue(t, b, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(100 * time.Second)})
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assert.True(t, info.MinMsgTime.IsZero(), "empty queue")

		// t0: A active, B delayed 50 s.
		_, err = q.Send(t.Context(), "A", 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "B", 50*time.Second)
		require.NoError(t, err)
		time.Sleep(time.Second)
		// t0+1s: C and D active, E delayed 10 s.
		_, err = q.BatchSend(t.Context(), []string{"C", "D"}, 0)
		require.NoError(t, err)
		_, err = q.Send(t.Context(), "E", 10*time.Second)
		require.NoError(t, err)
		assert.Equal(t, counts{Active: 3, Delayed: 2}, countsOf(t, q))

		// Receive A (inactive until t0+101s) and C.
		a, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "A", a.Body)
		c, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "C", c.Body)
		assert.Equal(t, counts{Active: 1, Inactive: 2, Delayed: 2}, countsOf(t, q))
		info, err = q.Attributes(t.Context())
		require.NoError(t, err)
		assertTime(t, t0, info.MinMsgTime, "A is received, not deleted")

		require.NoError(t, q.Delete(t.Context(), a.ReceiptHandle))
		info, err = q.Attributes(t.Context())
		require.NoError(t, err)
		assertTime(t, t0, info.MinMsgTime, "B, delayed, is the oldest now")
		assert.Equal(t, counts{Active: 1, Inactive: 1, Delayed: 2}, countsOf(t, q))

		// t0+11s: E's delay ended.
		time.Sleep(10 * time.Second)
		assert.Equal(t, counts{Active: 2, Inactive: 1, Delayed: 1}, countsOf(t, q))
		// t0+50s - 1ns: B still delayed; at t0+50s it is active.
		time.Sleep(39*time.Second - 1)
		assert.Equal(t, counts{Active: 2, Inactive: 1, Delayed: 1}, countsOf(t, q))
		time.Sleep(1)
		assert.Equal(t, counts{Active: 3, Inactive: 1}, countsOf(t, q))

		// Receive and delete D and B: the oldest left is from t0+1s.
		bm, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "D", bm.Body, "D was visible at t0+1s, before E (t0+11s) and B (t0+50s)")
		require.NoError(t, q.Delete(t.Context(), bm.ReceiptHandle))
		e, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "E", e.Body)
		bb, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "B", bb.Body)
		require.NoError(t, q.Delete(t.Context(), bb.ReceiptHandle))
		info, err = q.Attributes(t.Context())
		require.NoError(t, err)
		assertTime(t, t0.Add(time.Second), info.MinMsgTime, "C and E remain, both from t0+1s")
		assert.Equal(t, counts{Inactive: 2}, countsOf(t, q))

		// t0+101s: C (received at t0+1s) is back; E is still inactive.
		time.Sleep(51 * time.Second)
		assert.Equal(t, counts{Active: 1, Inactive: 1}, countsOf(t, q))
		c2, err := q.Receive(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, "C", c2.Body)
		require.NoError(t, q.Delete(t.Context(), c2.ReceiptHandle))
		require.NoError(t, q.Delete(t.Context(), e.ReceiptHandle))
		info, err = q.Attributes(t.Context())
		require.NoError(t, err)
		assert.True(t, info.MinMsgTime.IsZero(), "every message deleted")
		assert.Equal(t, counts{}, countsOf(t, q))
	})
}
