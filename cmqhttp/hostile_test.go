package cmqhttp

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leavingCtx is a request context whose client leaves while the receive
// takes its messages: the receive's entry check (the first Err) finds it
// live, every later check finds it cancelled.
type leavingCtx struct {
	context.Context
	calls atomic.Int32
}

func (c *leavingCtx) Err() error {
	if c.calls.Add(1) > 1 {
		return context.Canceled
	}
	return nil
}

// failingWriter is a connection whose client has gone: writes fail.
type failingWriter struct{ *httptest.ResponseRecorder }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

// post returns a POST request for the form kv on the in-memory host.
func post(ctx context.Context, kv ...string) *http.Request {
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://"+memHost+Path, strings.NewReader(form.Encode()))
	return r
}

// A receive whose client left after the messages were taken, or whose
// answer could not be written, gives them back at once: visible again,
// received again with the next dequeue count (what remains of the loss:
// the count toward a dead-letter maxReceiveCount).
func TestReceiveGivenBackWhenClientGone(t *testing.T) {
	receives := []struct {
		name string
		kv   []string
	}{
		{"ReceiveMessage", []string{"Action", "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0"}},
		{"BatchReceiveMessage", []string{"Action", "BatchReceiveMessage", "queueName", "q", "numOfMsg", "16", "pollingWaitSeconds", "0"}},
	}
	ways := []struct {
		name  string
		serve func(h *Handler, kv []string) *httptest.ResponseRecorder
	}{
		{"context done after the take", func(h *Handler, kv []string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, post(&leavingCtx{Context: context.Background()}, kv...))
			return rec
		}},
		{"answer not written", func(h *Handler, kv []string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			h.ServeHTTP(failingWriter{rec}, post(context.Background(), kv...))
			return nil
		}},
	}
	for _, rcv := range receives {
		for _, way := range ways {
			t.Run(rcv.name+"/"+way.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					e := newEnv(t, Config{})
					ctx := t.Context()
					q, err := e.b.CreateQueue(ctx, "q", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Hour)})
					require.NoError(t, err)
					_, err = q.BatchSend(ctx, []string{"a", "b"}, 0)
					require.NoError(t, err)

					if rec := way.serve(e.h, rcv.kv); rec != nil {
						r := decode(t, rec.Body.Bytes())
						assertIs(t, r, cmq.ErrNoMessage)
					}
					info, err := q.Attributes(ctx)
					require.NoError(t, err)
					wantBack := 1
					if rcv.name == "BatchReceiveMessage" {
						wantBack = 2
					}
					assert.Equal(t, 2, info.ActiveMsgNum, "visible again at once")
					ms, err := q.BatchReceive(ctx, 16, 0)
					require.NoError(t, err)
					counts := 0
					for _, m := range ms {
						counts += m.DequeueCount
					}
					assert.Equal(t, 2+wantBack, counts, "the given-back messages were taken once")
				})
			})
		}
	}
}

// Large requests and answers draw on Config.MaxMemory: one that finds it
// spent waits MemoryWait, then is answered 4480 and changes nothing; small
// ones pass whatever the budget.
func TestMemoryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{MaxMemory: 1 << 20, MemoryWait: 2 * time.Second})
		ctx := t.Context()
		q, err := e.b.CreateQueue(ctx, "q", cmq.QueueAttributes{MaxMsgSize: cmq.Ptr(1 << 20)})
		require.NoError(t, err)
		big := strings.Repeat("x", 300<<10) // 600 KiB reserved

		// Hold most of the budget, as slow bodies in flight would.
		require.NoError(t, e.h.mem.acquire(ctx, 700<<10))
		start := time.Now()
		r := e.c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", big)
		assertIs(t, r, errBusy)
		assert.Equal(t, 2*time.Second, time.Since(start), "waited MemoryWait")
		requireOK(t, e.c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", "small"))

		// Released within the wait: the request proceeds.
		time.AfterFunc(time.Second, func() { e.h.mem.release(700 << 10) })
		requireOK(t, e.c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", big))
		assert.Equal(t, int64(0), e.h.mem.inUse(), "all given back")

		// An answer over the budget: refused, and its messages given back.
		for range 3 {
			_, err := q.Send(ctx, strings.Repeat("\x01", 200<<10), 0) // 6 bytes each in JSON
			require.NoError(t, err)
		}
		info, err := q.Attributes(ctx)
		require.NoError(t, err)
		r = e.c.call(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "16")
		assertIs(t, r, errBusy)
		after, err := q.Attributes(ctx)
		require.NoError(t, err)
		assert.Equal(t, info.ActiveMsgNum, after.ActiveMsgNum, "nothing consumed")
		assert.Equal(t, int64(0), e.h.mem.inUse())
	})
}

// maxSize bounds the JSON of an answer that hands messages over, whatever
// the bodies hold, so that its memory can be reserved before encoding.
func TestAnswerMaxSize(t *testing.T) {
	bodies := []string{"", "plain", strings.Repeat("\x01", 1000), `"quoted" \ back\slash`, "\u2028\u2029 line seps",
		"<html>&amp;</html>", "\n\r\t\b\f", "héllo wörld 日本語 🎉", strings.Repeat("\x1f\"\\\u2028", 100)}
	var all []ReceivedMessage
	for _, b := range bodies {
		m := ReceivedMessage{MsgBody: b, MsgID: "2251799813685249-1234567890", ReceiptHandle: strings.Repeat("f", 32),
			EnqueueTime: 1 << 40, FirstDequeueTime: 1 << 40, NextVisibleTime: 1 << 40, DequeueCount: 1 << 30}
		all = append(all, m)
		one := &ReceiveMessageResponse{ReceivedMessage: m}
		body, _, _ := encode(one, cmq.ErrInternal.WithMessage("%s", strings.Repeat("e", 200)), strings.Repeat("0", 32), math.MaxUint64, 0)
		assert.LessOrEqual(t, int64(len(body)), one.maxSize(), "body %q", b)
	}
	batch := &BatchReceiveMessageResponse{MsgInfoList: all}
	body, _, _ := encode(batch, nil, strings.Repeat("0", 32), math.MaxUint64, 0)
	assert.LessOrEqual(t, int64(len(body)), batch.maxSize())
	assert.Greater(t, int64(len(body))*2, batch.maxSize(), "a bound, not a guess: close to the real size")
}
