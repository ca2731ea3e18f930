package cmqhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var attrsZero = cmq.QueueAttributes{}

// t0 is the synctest bubble's epoch, 2000-01-01 00:00:00 UTC.
const t0 = 946684800

func mustQueue(t *testing.T, e *env, name string) *cmq.Queue {
	t.Helper()
	q, err := e.b.Queue(name)
	require.NoError(t, err)
	return q
}

// Every action, with the exact fields of its response, in virtual time.
func TestActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c

		r := c.call(t, ctx, "CreateQueue", "queueName", "q", "pollingWaitSeconds", "0", "visibilityTimeout", "60",
			"maxMsgSize", "2048", "msgRetentionSeconds", "3600", "rewindSeconds", "600", "maxMsgHeapNum", "1000000")
		requireOK(t, r)
		assert.Regexp(t, `^queue-[a-z0-9]{12}$`, r.str("queueId"))
		assert.Equal(t, mustQueue(t, e, "q").ID(), r.str("queueId"))
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "dlq"))
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "src",
			"deadLetterPolicy", `{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":2}`))

		r = c.call(t, ctx, "ListQueue")
		requireOK(t, r)
		assert.Equal(t, 3, r.int("totalCount"))
		assert.Equal(t, []string{"dlq", "q", "src"}, names(r))
		assert.Equal(t, mustQueue(t, e, "dlq").ID(), r.list("queueList")[0].str("queueId"))
		r = c.call(t, ctx, "ListQueue", "searchWord", "Q", "offset", "1", "limit", "1")
		requireOK(t, r)
		assert.Equal(t, 2, r.int("totalCount"))
		assert.Equal(t, []string{"q"}, names(r))

		r = c.call(t, ctx, "GetQueueAttributes", "queueName", "q")
		requireOK(t, r)
		delete(r, "requestId")
		assert.Equal(t, resp{
			"code": num(0), "message": "", "queueId": mustQueue(t, e, "q").ID(), "queueName": "q",
			"maxMsgHeapNum": num(1000000), "pollingWaitSeconds": num(0), "visibilityTimeout": num(60),
			"maxMsgSize": num(2048), "msgRetentionSeconds": num(3600), "rewindSeconds": num(600),
			"createTime": num(t0), "lastModifyTime": num(t0), "activeMsgNum": num(0), "inactiveMsgNum": num(0),
			"delayMsgNum": num(0), "rewindmsgNum": num(0), "rewindMsgNum": num(0), "minMsgTime": num(0),
		}, r)
		r = c.call(t, ctx, "GetQueueAttributes", "queueName", "src")
		requireOK(t, r)
		assert.Equal(t, `{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":2,"maxTimeToLive":0}`, r.str("deadLetterPolicy"))

		time.Sleep(10 * time.Second)
		r = c.call(t, ctx, "SetQueueAttributes", "queueName", "q", "visibilityTimeout", "30")
		requireOK(t, r)
		delete(r, "requestId")
		assert.Equal(t, resp{
			"code": num(0), "message": "", "queueId": mustQueue(t, e, "q").ID(),
			"maxMsgHeapNum": num(1000000), "pollingWaitSeconds": num(0), "visibilityTimeout": num(30),
			"maxMsgSize": num(2048), "msgRetentionSeconds": num(3600), "rewindSeconds": num(600),
		}, r)

		r = c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", "hello <&> 世界", "delaySeconds", "0")
		requireOK(t, r)
		id := r.str("msgId")
		r = c.call(t, ctx, "BatchSendMessage", "queueName", "q", "msgBody.1", "a", "msgBody.2", "b", "delaySeconds", "5")
		requireOK(t, r)
		require.Len(t, r.list("msgList"), 2)
		ida, idb := r.list("msgList")[0].str("msgId"), r.list("msgList")[1].str("msgId")
		assert.NotEqual(t, ida, idb)

		r = c.call(t, ctx, "GetQueueAttributes", "queueName", "q")
		assert.Equal(t, []int{1, 0, 2, t0 + 10, t0 + 10}, []int{r.int("activeMsgNum"), r.int("inactiveMsgNum"),
			r.int("delayMsgNum"), r.int("minMsgTime"), r.int("lastModifyTime")})

		r = c.call(t, ctx, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0", "UserpollingWaitSeconds", "30")
		requireOK(t, r)
		h := r.str("receiptHandle")
		delete(r, "requestId")
		delete(r, "receiptHandle")
		assert.Equal(t, resp{"code": num(0), "message": "", "msgBody": "hello <&> 世界", "msgId": id,
			"enqueueTime": num(t0 + 10), "firstDequeueTime": num(t0 + 10), "nextVisibleTime": num(t0 + 40),
			"dequeueCount": num(1)}, r)
		requireOK(t, c.call(t, ctx, "DeleteMessage", "queueName", "q", "receiptHandle", h))
		r = c.call(t, ctx, "GetQueueAttributes", "queueName", "q")
		assert.Equal(t, []int{1, 1, 2}, []int{r.int("rewindmsgNum"), r.int("rewindMsgNum"), r.int("delayMsgNum")})

		time.Sleep(5 * time.Second)
		r = c.call(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "16", "pollingWaitSeconds", "0")
		requireOK(t, r)
		msgs := r.list("msgInfoList")
		require.Len(t, msgs, 2)
		assert.Equal(t, []string{"a", "b"}, []string{msgs[0].str("msgBody"), msgs[1].str("msgBody")})
		assert.Equal(t, []string{ida, idb}, []string{msgs[0].str("msgId"), msgs[1].str("msgId")})
		assert.Equal(t, []int{t0 + 10, t0 + 15, t0 + 45, 1}, []int{msgs[1].int("enqueueTime"),
			msgs[1].int("firstDequeueTime"), msgs[1].int("nextVisibleTime"), msgs[1].int("dequeueCount")})
		r = c.call(t, ctx, "BatchDeleteMessage", "queueName", "q",
			"receiptHandle.0", msgs[0].str("receiptHandle"), "receiptHandle.1", msgs[1].str("receiptHandle"))
		requireOK(t, r)
		assert.NotContains(t, r, "errorList")

		requireOK(t, c.call(t, ctx, "RewindQueue", "queueName", "q", "startConsumeTime", fmt.Sprint(t0+10)))
		r = c.call(t, ctx, "GetQueueAttributes", "queueName", "q")
		assert.Equal(t, []int{3, 0, t0 + 10}, []int{r.int("activeMsgNum"), r.int("rewindMsgNum"), r.int("minMsgTime")})

		r = c.call(t, ctx, "ListDeadLetterSourceQueues", "deadLetterQueueName", "dlq")
		requireOK(t, r)
		assert.Equal(t, 1, r.int("totalCount"))
		assert.Equal(t, []string{"src"}, names(r))
		assertIs(t, c.call(t, ctx, "DeleteQueue", "queueName", "dlq"), cmq.ErrDeadLetterQueueInUse)
		r = c.call(t, ctx, "UnbindDeadLetterQueue", "queueName", "src")
		requireOK(t, r)
		assert.Equal(t, mustQueue(t, e, "src").ID(), r.str("queueId"))
		assertIs(t, c.call(t, ctx, "UnbindDeadLetterQueue", "queueName", "src"), cmq.ErrDeadLetterQueueNotExist)
		r = c.call(t, ctx, "ListDeadLetterSourceQueues", "deadLetterQueueName", "dlq")
		assert.Equal(t, 0, r.int("totalCount"))
		assert.Empty(t, r.list("queueList"))

		requireOK(t, c.call(t, ctx, "DeleteQueue", "queueName", "src"))
		assertIs(t, c.call(t, ctx, "GetQueueAttributes", "queueName", "src"), cmq.ErrQueueNotExist)
		assertIs(t, c.call(t, ctx, "DeleteQueue", "queueName", "src"), cmq.ErrQueueNotExist)
	})
}

func num(n int) any { return json.Number(strconv.Itoa(n)) }

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func names(r resp) []string {
	var out []string
	for _, q := range r.list("queueList") {
		out = append(out, q.str("queueName"))
	}
	return out
}

// A policy-1 dead-letter policy and its JSON, and nesting.
func TestDeadLetterPolicyTimeToLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "dlq"))
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "src", "msgRetentionSeconds", "3600",
			"deadLetterPolicy", `{"deadLetterQueue":"dlq","policy":"1","maxTimeToLive":"300"}`))
		r := c.call(t, ctx, "GetQueueAttributes", "queueName", "src")
		assert.Equal(t, `{"deadLetterQueue":"dlq","policy":1,"maxReceiveCount":0,"maxTimeToLive":300}`, r.str("deadLetterPolicy"))
		assertIs(t, c.call(t, ctx, "CreateQueue", "queueName", "x",
			"deadLetterPolicy", `{"deadLetterQueue":"src","policy":0,"maxReceiveCount":1}`), cmq.ErrDeadLetterNested)

		requireOK(t, c.call(t, ctx, "SendMessage", "queueName", "src", "msgBody", "late"))
		time.Sleep(300 * time.Second)
		r = c.call(t, ctx, "ReceiveMessage", "queueName", "dlq")
		requireOK(t, r)
		assert.Equal(t, "late", r.str("msgBody"))

		// Setting a policy through SetQueueAttributes, then a bad one.
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "other"))
		r = c.call(t, ctx, "SetQueueAttributes", "queueName", "other",
			"deadLetterPolicy", `{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":5}`)
		requireOK(t, r)
		assert.Equal(t, `{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":5,"maxTimeToLive":0}`, r.str("deadLetterPolicy"))
		assertIs(t, c.call(t, ctx, "SetQueueAttributes", "queueName", "other", "deadLetterPolicy", "{"), errPolicyJSON)
	})
}

func TestDeadLetterTooManySources(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "dlq"))
		policy := `{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":3}`
		for i := range 6 {
			requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", fmt.Sprintf("s%d", i), "deadLetterPolicy", policy))
		}
		assertIs(t, c.call(t, ctx, "CreateQueue", "queueName", "s6", "deadLetterPolicy", policy), cmq.ErrDeadLetterTooManySources)
		r := c.call(t, ctx, "ListDeadLetterSourceQueues", "deadLetterQueueName", "dlq", "limit", "2", "offset", "4")
		assert.Equal(t, 6, r.int("totalCount"))
		assert.Equal(t, []string{"s4", "s5"}, names(r))
	})
}

// A long poll parks without a goroutine of its own and is woken by a send
// from another request.
func TestLongPollWokenBySend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
		got := make(chan resp, 1)
		start := time.Now()
		go func() { got <- c.call(t, ctx, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "30") }()
		synctest.Wait()
		time.Sleep(7 * time.Second)
		synctest.Wait()
		require.Empty(t, got, "still waiting")
		requireOK(t, c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", "wake"))
		r := <-got
		requireOK(t, r)
		assert.Equal(t, "wake", r.str("msgBody"))
		assert.Equal(t, 7*time.Second, time.Since(start))
	})
}

// Without pollingWaitSeconds a receive waits the queue's polling wait.
func TestLongPollQueueWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q", "pollingWaitSeconds", "12"))
		start := time.Now()
		assertIs(t, c.call(t, ctx, "ReceiveMessage", "queueName", "q"), cmq.ErrNoMessage)
		assert.Equal(t, 12*time.Second, time.Since(start))
		start = time.Now()
		assertIs(t, c.call(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "3", "pollingWaitSeconds", "2"), cmq.ErrNoMessage)
		assert.Equal(t, 2*time.Second, time.Since(start))
		start = time.Now()
		assertIs(t, c.call(t, ctx, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0"), cmq.ErrNoMessage)
		assert.Equal(t, time.Duration(0), time.Since(start))
	})
}

// A client that goes away during a long poll ends its wait at once, and
// nothing is consumed: a later send is received by the next receive.
func TestLongPollClientGone(t *testing.T) {
	for _, action := range []string{"ReceiveMessage", "BatchReceiveMessage"} {
		t.Run(action, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, Config{})
				c := e.c
				requireOK(t, c.call(t, t.Context(), "CreateQueue", "queueName", "q"))
				ctx, cancel := context.WithCancel(t.Context())
				got := make(chan resp, 1)
				go func() {
					got <- c.call(t, ctx, action, "queueName", "q", "pollingWaitSeconds", "30", "numOfMsg", "4")
				}()
				synctest.Wait()
				start := time.Now()
				cancel()
				assertIs(t, <-got, cmq.ErrNoMessage)
				assert.Equal(t, time.Duration(0), time.Since(start), "the wait ends at once")

				requireOK(t, c.call(t, t.Context(), "SendMessage", "queueName", "q", "msgBody", "kept"))
				info, err := mustQueue(t, e, "q").Attributes(t.Context())
				require.NoError(t, err)
				assert.Equal(t, 1, info.ActiveMsgNum)
				r := c.call(t, t.Context(), "ReceiveMessage", "queueName", "q")
				requireOK(t, r)
				assert.Equal(t, "kept", r.str("msgBody"))
				assert.Equal(t, 1, r.int("dequeueCount"))
			})
		})
	}
}

// Closing the broker ends long polls with ErrClosed.
func TestLongPollBrokerClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
		got := make(chan resp, 1)
		go func() { got <- c.call(t, ctx, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "30") }()
		synctest.Wait()
		require.NoError(t, e.b.Close())
		assertIs(t, <-got, cmq.ErrClosed)
	})
}

// POST bodies are form data whatever the Content-Type; on POST the query
// string is ignored; GET reads the query string.
func TestEncodings(t *testing.T) {
	tests := []struct {
		name, method, contentType string
	}{
		{"POST without Content-Type", "POST", ""},
		{"POST */*", "POST", "*/*;charset=utf-8"},
		{"POST form", "POST", "application/x-www-form-urlencoded"},
		{"POST form utf-8", "POST", "application/x-www-form-urlencoded;charset=utf-8"},
		{"POST text/plain", "POST", "text/plain"},
		{"GET", "GET", ""},
	}
	for _, tt := range tests {
		for _, signed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s signed=%v", tt.name, signed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					cfg := Config{}
					if signed {
						cfg.Credentials = map[string]string{"AKIDx": "key"}
					}
					c := newEnv(t, cfg).c
					c.method, c.contentType = tt.method, tt.contentType
					if signed {
						c = c.signed("AKIDx", "key")
					}
					ctx := t.Context()
					requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
					body := "a+b c&d=e%f/é"
					requireOK(t, c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", body))
					r := c.call(t, ctx, "ReceiveMessage", "queueName", "q")
					requireOK(t, r)
					assert.Equal(t, body, r.str("msgBody"))
				})
			})
		}
	}
	t.Run("POST ignores the query string", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, Config{})
			_, r := e.c.sendRaw(t, t.Context(), "POST", Path+"?Action=CreateQueue&queueName=fromquery", "Action=ListQueue")
			requireOK(t, r)
			assert.Equal(t, 0, r.int("totalCount"))
			_, r = e.c.sendRaw(t, t.Context(), "POST", Path+"?Action=ListQueue", "")
			assertIs(t, r, detail(errMissing, "Action"))
		})
	})
}

func TestMethodPathSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{MaxRequestBytes: 100})
		ctx, c := t.Context(), e.c
		for _, m := range []string{"PUT", "DELETE", "PATCH", "OPTIONS"} {
			st, r := c.sendRaw(t, ctx, m, Path, "Action=ListQueue")
			assert.Equal(t, http.StatusOK, st)
			assertIs(t, r, detail(errMethod, m))
		}
		st, r := c.sendRaw(t, ctx, "POST", "/v2/other.php", "Action=ListQueue")
		assert.Equal(t, http.StatusOK, st)
		assertIs(t, r, detail(errPath, "/v2/other.php"))

		atLimit := "Action=ListQueue&x=" + strings.Repeat("a", 100-len("Action=ListQueue&x="))
		for _, m := range []string{"GET", "POST"} {
			_, r = c.sendRaw(t, ctx, m, Path, atLimit)
			requireOK(t, r)
			_, r = c.sendRaw(t, ctx, m, Path, atLimit+"a")
			assertErr(t, r, 4000, 10420)
			assert.Equal(t, "(10420)cannot parse request, or request size is more than 100 bytes", r.str("message"))
		}
		for _, bad := range []string{"Action=ListQueue&x=%zz", "Action=ListQueue;x=1", "Action=%FF"} {
			_, r = c.sendRaw(t, ctx, "POST", Path, bad)
			assert.Equal(t, errParse.Code, r.code(), bad)
			assert.Equal(t, errParse.Module, r.module(), bad)
		}
	})
}

// Requests over the default 1 MiB are refused; a full 16 x 64 KiB batch
// fits.
func TestDefaultRequestLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
		kv := []string{"queueName", "q"}
		for i := range 16 {
			kv = append(kv, fmt.Sprintf("msgBody.%d", i), strings.Repeat("x", 65536-100))
		}
		requireOK(t, c.call(t, ctx, "BatchSendMessage", kv...))
		_, r := c.sendRaw(t, ctx, "POST", Path, "Action=ListQueue&x="+strings.Repeat("a", 1<<20))
		assertIs(t, r, detail(errParse, "request"))
	})
}

func TestArrays(t *testing.T) {
	tests := []struct {
		name    string
		indexes []string
		want    *cmq.Error // nil: success
	}{
		{"from 0", []string{"0", "1", "2"}, nil},
		{"from 1", []string{"1", "2", "3"}, nil},
		{"one from 0", []string{"0"}, nil},
		{"one from 1", []string{"1"}, nil},
		{"16 from 1", seq(1, 16), nil},
		{"16 from 0", seq(0, 15), nil},
		{"17", seq(1, 17), batchSize("msgBody")},
		{"17 from 0", seq(0, 16), batchSize("msgBody")},
		{"gap", []string{"1", "3"}, detail(errNotContig, "msgBody")},
		{"from 2", []string{"2", "3"}, detail(errNotContig, "msgBody")},
		{"0 and 2", []string{"0", "2"}, detail(errNotContig, "msgBody")},
		{"leading zero", []string{"01"}, detail(errKeyFormat, "msgBody.01")},
		{"letter", []string{"x"}, detail(errKeyFormat, "msgBody.x")},
		{"negative", []string{"-1"}, detail(errKeyFormat, "msgBody.-1")},
		{"empty index", []string{""}, detail(errKeyFormat, "msgBody.")},
		{"huge index", []string{"1", "99999999999999999999"}, detail(errKeyFormat, "msgBody.99999999999999999999")},
		{"none", nil, detail(errMissing, "msgBody.n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, Config{})
				ctx, c := t.Context(), e.c
				requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
				kv := []string{"queueName", "q"}
				for _, i := range tt.indexes {
					kv = append(kv, "msgBody."+i, "m"+i)
				}
				r := c.call(t, ctx, "BatchSendMessage", kv...)
				if tt.want != nil {
					assertIs(t, r, tt.want)
					return
				}
				requireOK(t, r)
				require.Len(t, r.list("msgList"), len(tt.indexes))
				got := c.call(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "16")
				requireOK(t, got)
				var bodies, want []string
				for _, m := range got.list("msgInfoList") {
					bodies = append(bodies, m.str("msgBody"))
				}
				for _, i := range tt.indexes {
					want = append(want, "m"+i)
				}
				assert.Equal(t, want, bodies, "request order")
			})
		})
	}
}

func seq(from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprint(i))
	}
	return s
}

// Parameter names: '_' and '.' are the same; a name may come once.
func TestParameterNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
		requireOK(t, c.call(t, ctx, "BatchSendMessage", "queueName", "q", "msgBody_0", "a", "msgBody.1", "b"))
		_, r := c.sendRaw(t, ctx, "POST", Path, "Action=SendMessage&queueName=q&msgBody=a&msgBody=b")
		assertIs(t, r, detail(errNotRepeated, "msgBody"))
		_, r = c.sendRaw(t, ctx, "POST", Path, "Action=BatchSendMessage&queueName=q&msgBody.1=a&msgBody_1=b")
		assertIs(t, r, detail(errNotRepeated, "msgBody.1"))
		assertIs(t, c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody.1", "a"), detail(errNotRepeated, "msgBody"))
		// A repeated parameter that the action does not read is ignored
		// like any unknown one; one that it reads is refused.
		_, r = c.sendRaw(t, ctx, "POST", Path, "Action=SendMessage&queueName=q&msgBody=a&Region=gz&Region=sh&x_y=1&x.y=2")
		requireOK(t, r)
		_, r = c.sendRaw(t, ctx, "POST", Path, "Action=SendMessage&queueName=q&queueName=q&msgBody=a")
		assertIs(t, r, detail(errNotRepeated, "queueName"))
		_, r = c.sendRaw(t, ctx, "POST", Path, "Action=ListQueue&searchWord=a&searchWord=b")
		assertIs(t, r, detail(errNotRepeated, "searchWord"))
		_, r = c.sendRaw(t, ctx, "POST", Path, "Action=ListQueue&limit=1&limit=2")
		assertIs(t, r, detail(errNotRepeated, "limit"))
		_, r = c.sendRaw(t, ctx, "POST", Path, "Action=CreateQueue&queueName=r&visibilityTimeout=1&visibilityTimeout=1")
		assertIs(t, r, detail(errNotRepeated, "visibilityTimeout"))
		_, r = c.sendRaw(t, ctx, "POST", Path, "Action=ListQueue&Action=ListQueue")
		assertIs(t, r, detail(errNotRepeated, "Action"))
		assertIs(t, c.call(t, ctx, "sendMessage", "queueName", "q", "msgBody", "a"), detail(errAction, "sendMessage"))
		assertIs(t, c.call(t, ctx, "CreateTopics", "topicName", "t"), detail(errAction, "CreateTopics"))
	})
}

// BatchDeleteMessage: 6010 when some handles fail, 6020 when all do, with
// an errorList naming each failed handle.
func TestBatchDeleteErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
		requireOK(t, c.call(t, ctx, "BatchSendMessage", "queueName", "q", "msgBody.0", "a", "msgBody.1", "b"))
		msgs := c.call(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "2").list("msgInfoList")
		require.Len(t, msgs, 2)
		stale := "00000000000000000000000000000001"
		r := c.call(t, ctx, "BatchDeleteMessage", "queueName", "q",
			"receiptHandle.1", msgs[0].str("receiptHandle"), "receiptHandle.2", "junk", "receiptHandle.3", stale)
		assertIs(t, r, cmq.ErrBatchDeletePartial)
		wantItem := func(h string) resp {
			return resp{"code": num(4430), "message": cmq.ErrInvalidReceiptHandle.WireMessage(), "receiptHandle": h}
		}
		assert.Equal(t, []resp{wantItem("junk"), wantItem(stale)}, r.list("errorList"))

		r = c.call(t, ctx, "BatchDeleteMessage", "queueName", "q", "receiptHandle.0", msgs[0].str("receiptHandle"))
		assertIs(t, r, cmq.ErrBatchDeleteFailed)
		assert.Equal(t, []resp{wantItem(msgs[0].str("receiptHandle"))}, r.list("errorList"))

		// An empty handle is 4000/10470, alone or in a batch.
		assertIs(t, c.call(t, ctx, "DeleteMessage", "queueName", "q", "receiptHandle", ""), errHandle)
		r = c.call(t, ctx, "BatchDeleteMessage", "queueName", "q", "receiptHandle.0", "", "receiptHandle.1", "junk")
		assertIs(t, r, cmq.ErrBatchDeleteFailed)
		assert.Equal(t, []resp{{"code": num(4000), "message": "(10470)receiptHandle error", "receiptHandle": ""}, wantItem("junk")},
			r.list("errorList"))

		requireOK(t, c.call(t, ctx, "BatchDeleteMessage", "queueName", "q", "receiptHandle.0", msgs[1].str("receiptHandle")))
		kv := []string{"queueName", "q"}
		for i := range 17 {
			kv = append(kv, fmt.Sprintf("receiptHandle.%d", i), "x")
		}
		assertIs(t, c.call(t, ctx, "BatchDeleteMessage", kv...), batchSize("receiptHandle"))
	})
}

// Limits set on the broker show through: queue count, heap, QPS, batch
// bytes.
func TestBrokerLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{}, limits(func(l *cmq.Limits) {
			l.Queues, l.QPS, l.BatchBytes = 2, 20, 10
			l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 10, Default: 3}
		}))
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q2"))
		assertIs(t, c.call(t, ctx, "CreateQueue", "queueName", "q3"), cmq.ErrQueueLimit)
		assertIs(t, c.call(t, ctx, "CreateQueue", "queueName", "Q"), cmq.ErrQueueExists)
		assertIs(t, c.call(t, ctx, "BatchSendMessage", "queueName", "q", "msgBody.0", "123456", "msgBody.1", "12345"), batchOver10)
		for range 3 {
			requireOK(t, c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", "m"))
		}
		assertIs(t, c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", "m"), cmq.ErrHeapFull)
		r := c.call(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "16")
		requireOK(t, r)
		assert.Len(t, r.list("msgInfoList"), 3)
		// The receive bucket (20) had 16 taken; 16 more is refused at once.
		assertIs(t, c.call(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "16", "pollingWaitSeconds", "5"), cmq.ErrThrottled)
		time.Sleep(time.Second)
		assertIs(t, c.call(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "16"), cmq.ErrNoMessage)
	})
}

// Logging: one Debug record per request with its action and code.
func TestRequestLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		e := newEnv(t, Config{Logger: newTestLogger(&buf)})
		requireOK(t, e.c.call(t, t.Context(), "CreateQueue", "queueName", "q"))
		assertIs(t, e.c.call(t, t.Context(), "Nope"), detail(errAction, "Nope"))
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		require.Len(t, lines, 2)
		assert.Contains(t, lines[0], "level=DEBUG msg=request")
		assert.Contains(t, lines[0], "action=CreateQueue code=0")
		assert.Contains(t, lines[0], "queue=q")
		assert.Contains(t, lines[1], `action=Nope code=4000`)
		assert.Contains(t, lines[1], `message="(10430)action name Nope is not existed"`)
	})
}

// batchOver10 is ErrBatchTooLarge on a broker whose BatchBytes is 10.
var batchOver10 = &cmq.Error{Code: 4470, Module: 10300, Message: "total message size exceed 10 bytes"}
