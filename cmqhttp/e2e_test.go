package cmqhttp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end tests: a real loopback listener (httptest.NewServer binds
// 127.0.0.1) and real HTTP clients. They run outside synctest bubbles (a
// bubble has no real sockets), so none of them measures time: waits are
// for events, with a 10 s bound only against hanging.

const (
	e2eID  = "AKIDe2e"
	e2eKey = "e2e-secret-key"
)

// server starts a handler for a new broker on 127.0.0.1 and returns the
// broker, the handler and an unsigned client.
func server(t *testing.T, cfg Config, wrap func(http.Handler) http.Handler, opts ...cmq.Option) (*cmq.Broker, *client) {
	t.Helper()
	b, err := cmq.NewBroker(opts...)
	require.NoError(t, err)
	var h http.Handler = NewHandler(b, cfg)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), srv.URL)
	return b, newClient(srv.URL, srv.Client())
}

var signedCfg = Config{Credentials: map[string]string{e2eID: e2eKey}}

// Every action over HTTP, for each way real clients talk: POST without a
// Content-Type (Python, NETkiddy), POST with */* (Java), POST form, GET;
// SHA-1 and SHA-256 signatures; and unsigned against a server without
// credentials.
func TestEndToEndActions(t *testing.T) {
	tests := []struct {
		name, method, contentType, sigMethod string
		signed                               bool
	}{
		{"POST no Content-Type SHA-1", "POST", "", "", true},
		{"POST */* SHA-256", "POST", "*/*;charset=utf-8", "HmacSHA256", true},
		{"POST form SHA-1", "POST", "application/x-www-form-urlencoded", "HmacSHA1", true},
		{"GET SHA-1", "GET", "", "", true},
		{"GET SHA-256", "GET", "", "HmacSHA256", true},
		{"POST unsigned", "POST", "", "", false},
		{"GET unsigned", "GET", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			if tt.signed {
				cfg = signedCfg
			}
			_, c := server(t, cfg, nil)
			c.method, c.contentType, c.sigMethod = tt.method, tt.contentType, tt.sigMethod
			if tt.signed {
				c = c.signed(e2eID, e2eKey)
			}
			flow(t, t.Context(), c)
		})
	}
}

// flow drives all fourteen actions.
func flow(t *testing.T, ctx context.Context, c *client) {
	before := time.Now().Unix()
	r := c.call(t, ctx, "CreateQueue", "queueName", "orders", "visibilityTimeout", "60", "rewindSeconds", "600",
		"pollingWaitSeconds", "0", "maxMsgSize", "65536", "msgRetentionSeconds", "345600")
	requireOK(t, r)
	assert.Regexp(t, `^queue-[a-z0-9]{12}$`, r.str("queueId"))
	requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "orders-dlq"))
	requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "payments",
		"deadLetterPolicy", `{"deadLetterQueue":"orders-dlq","policy":0,"maxReceiveCount":3}`))

	r = c.call(t, ctx, "ListQueue", "searchWord", "orders", "offset", "0", "limit", "10")
	requireOK(t, r)
	assert.Equal(t, 2, r.int("totalCount"))
	assert.Equal(t, []string{"orders", "orders-dlq"}, names(r))

	r = c.call(t, ctx, "SetQueueAttributes", "queueName", "orders", "visibilityTimeout", "45")
	requireOK(t, r)
	assert.Equal(t, 45, r.int("visibilityTimeout"))
	assert.Equal(t, 600, r.int("rewindSeconds"))

	body := "héllo & goodbye + 100% = done?"
	r = c.call(t, ctx, "SendMessage", "queueName", "orders", "msgBody", body, "delaySeconds", "0")
	requireOK(t, r)
	id := r.str("msgId")
	r = c.call(t, ctx, "BatchSendMessage", "queueName", "orders", "msgBody.0", "b0", "msgBody.1", "b1", "msgBody.2", "b2")
	requireOK(t, r)
	require.Len(t, r.list("msgList"), 3)
	r = c.call(t, ctx, "BatchSendMessage", "queueName", "orders", "msgBody.1", "c1", "msgBody.2", "c2")
	requireOK(t, r)
	require.Len(t, r.list("msgList"), 2)

	r = c.call(t, ctx, "GetQueueAttributes", "queueName", "orders")
	requireOK(t, r)
	assert.Equal(t, 6, r.int("activeMsgNum"))
	assert.Equal(t, 45, r.int("visibilityTimeout"))
	for _, k := range []string{"inactiveMsgNum", "delayMsgNum", "rewindmsgNum", "rewindMsgNum"} {
		assert.Equal(t, 0, r.int(k), k)
	}
	assert.GreaterOrEqual(t, r.int("minMsgTime"), int(before))
	assert.GreaterOrEqual(t, r.int("createTime"), int(before))

	r = c.call(t, ctx, "ReceiveMessage", "queueName", "orders", "pollingWaitSeconds", "1", "UserpollingWaitSeconds", "1")
	requireOK(t, r)
	assert.Equal(t, body, r.str("msgBody"))
	assert.Equal(t, id, r.str("msgId"))
	assert.Equal(t, 1, r.int("dequeueCount"))
	assert.Equal(t, r.int("firstDequeueTime")+45, r.int("nextVisibleTime"))
	requireOK(t, c.call(t, ctx, "DeleteMessage", "queueName", "orders", "receiptHandle", r.str("receiptHandle")))
	assertIs(t, c.call(t, ctx, "DeleteMessage", "queueName", "orders", "receiptHandle", r.str("receiptHandle")), cmq.ErrInvalidReceiptHandle)

	r = c.call(t, ctx, "BatchReceiveMessage", "queueName", "orders", "numOfMsg", "16", "pollingWaitSeconds", "1")
	requireOK(t, r)
	msgs := r.list("msgInfoList")
	require.Len(t, msgs, 5)
	kv := []string{"queueName", "orders"}
	var got []string
	for i, m := range msgs {
		got = append(got, m.str("msgBody"))
		kv = append(kv, fmt.Sprintf("receiptHandle.%d", i+1), m.str("receiptHandle"))
	}
	assert.Equal(t, []string{"b0", "b1", "b2", "c1", "c2"}, got)
	kv = append(kv, "receiptHandle.6", "bogus")
	r = c.call(t, ctx, "BatchDeleteMessage", kv...)
	assertIs(t, r, cmq.ErrBatchDeletePartial)
	assert.Equal(t, []resp{{"code": num(4430), "message": "(10260)receipt handle is invalid", "receiptHandle": "bogus"}}, r.list("errorList"))

	r = c.call(t, ctx, "GetQueueAttributes", "queueName", "orders")
	assert.Equal(t, []int{0, 6, 6}, []int{r.int("activeMsgNum"), r.int("rewindmsgNum"), r.int("rewindMsgNum")})
	requireOK(t, c.call(t, ctx, "RewindQueue", "queueName", "orders", "startConsumeTime", fmt.Sprint(before)))
	r = c.call(t, ctx, "GetQueueAttributes", "queueName", "orders")
	assert.Equal(t, []int{6, 0}, []int{r.int("activeMsgNum"), r.int("rewindMsgNum")})

	r = c.call(t, ctx, "ListDeadLetterSourceQueues", "deadLetterQueueName", "orders-dlq")
	requireOK(t, r)
	assert.Equal(t, []string{"payments"}, names(r))
	requireOK(t, c.call(t, ctx, "UnbindDeadLetterQueue", "queueName", "payments"))
	r = c.call(t, ctx, "GetQueueAttributes", "queueName", "payments")
	requireOK(t, r)
	assert.NotContains(t, r, "deadLetterPolicy")

	for _, q := range []string{"payments", "orders-dlq", "orders"} {
		requireOK(t, c.call(t, ctx, "DeleteQueue", "queueName", q))
	}
	r = c.call(t, ctx, "ListQueue")
	assert.Equal(t, 0, r.int("totalCount"))
}

// Every error path of paramCases, over HTTP with signed requests (the
// long-polling ones excepted).
func TestEndToEndParameters(t *testing.T) {
	for _, tt := range paramCases() {
		if tt.waits() {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			b, c := server(t, signedCfg, nil)
			setupParamQueues(t, b)
			runParamCase(t, t.Context(), c.signed(e2eID, e2eKey), tt)
		})
	}
}

// Protocol-level errors over HTTP: method, path, size, parsing, signature,
// replay, stale timestamp.
func TestEndToEndProtocolErrors(t *testing.T) {
	now := time.Now()
	b, c := server(t, Config{Credentials: signedCfg.Credentials, Now: func() time.Time { return now }}, nil)
	_, err := b.CreateQueue(t.Context(), "q", attrsZero)
	require.NoError(t, err)
	ctx := t.Context()
	s := c.signed(e2eID, e2eKey)

	st, r := c.sendRaw(t, ctx, "PUT", Path, "Action=ListQueue")
	assert.Equal(t, http.StatusOK, st)
	assertIs(t, r, detail(errMethod, "PUT"))
	st, r = c.sendRaw(t, ctx, "GET", "/index.php", "Action=ListQueue") // "/" is served: RootPath
	assert.Equal(t, http.StatusOK, st)
	assertIs(t, r, detail(errPath, "/index.php"))
	_, r = c.sendRaw(t, ctx, "POST", Path, "Action=ListQueue&big="+strings.Repeat("x", 1<<20))
	assertIs(t, r, detail(errParse, "request"))
	_, r = c.sendRaw(t, ctx, "POST", Path, "Action=%%%")
	assertIs(t, r, detail(errParse, "request"))

	assertIs(t, c.call(t, ctx, "ListQueue"), detail(errMissing, "SecretId"))
	assertIs(t, c.signed("AKIDnobody", e2eKey).call(t, ctx, "ListQueue"), errSecretID)
	assertIs(t, c.signed(e2eID, "wrong").call(t, ctx, "ListQueue"), errAuth)

	vals := s.params("SendMessage", "queueName", "q", "msgBody", "once")
	_, r = s.send(t, ctx, vals)
	requireOK(t, r)
	_, r = s.send(t, ctx, vals)
	assertIs(t, r, errAuth) // replay

	vals = s.params("ListQueue")
	vals["Timestamp"] = fmt.Sprint(now.Unix() - 301)
	s.sign(vals)
	_, r = s.send(t, ctx, vals)
	assertIs(t, r, errAuth) // stale
	vals = s.params("ListQueue")
	vals["Timestamp"] = fmt.Sprint(now.Unix() + 301)
	s.sign(vals)
	_, r = s.send(t, ctx, vals)
	assertIs(t, r, errAuth) // from the future

	// Bodies with characters that need escaping are signed raw.
	vals = s.params("SendMessage", "queueName", "q", "msgBody", "a=b&c=d %2F +")
	_, r = s.send(t, ctx, vals)
	requireOK(t, r)

	info, err := mustQueueB(t, b, "q").Attributes(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, info.ActiveMsgNum, "the replayed send did nothing")
}

// waitParked waits until n receives are parked in a long poll, as a dump
// of every goroutine shows: over a real socket there is no synctest.Wait.
func waitParked(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); ; {
		k := runtime.Stack(buf, true)
		if strings.Count(string(buf[:k]), "cmq.(*Queue).longPoll(") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d receives parked in a long poll after 10 s", n)
		}
		runtime.Gosched()
	}
}

// Every error code a request can meet, over a real connection with signed
// requests: broker limits, dead-letter bindings, arrays, repeated
// parameters, credentials and the nonce cache.
func TestEndToEndErrorPaths(t *testing.T) {
	cfg := Config{Credentials: signedCfg.Credentials, MaxNonces: 40}
	b, c := server(t, cfg, nil, limits(func(l *cmq.Limits) {
		l.Queues, l.QPS, l.BatchBytes, l.DeadLetterSources = 9, 16, 10, 1
		l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 10, Default: 2}
	}))
	_ = b
	ctx, s := t.Context(), c.signed(e2eID, e2eKey)
	call := func(action string, kv ...string) resp { return s.call(t, ctx, action, kv...) }
	for _, q := range []string{"q", "dlq", "src", "heap"} {
		requireOK(t, call("CreateQueue", "queueName", q))
	}
	bind := `{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":1}`
	requireOK(t, call("SetQueueAttributes", "queueName", "src", "deadLetterPolicy", bind))

	steps := []struct {
		name string
		got  resp
		want *cmq.Error
	}{
		{"heap full", func() resp {
			call("BatchSendMessage", "queueName", "heap", "msgBody.0", "a", "msgBody.1", "b")
			return call("SendMessage", "queueName", "heap", "msgBody", "c")
		}(), cmq.ErrHeapFull},
		{"batch too large", call("BatchSendMessage", "queueName", "q", "msgBody.0", "123456", "msgBody.1", "12345"), batchOver10},
		{"throttled", func() resp {
			requireOK(t, call("BatchSendMessage", "queueName", "q", "msgBody.0", "a", "msgBody.1", "b"))
			requireOK(t, call("BatchReceiveMessage", "queueName", "q", "numOfMsg", "16"))
			return call("ReceiveMessage", "queueName", "q")
		}(), cmq.ErrThrottled},
		{"dead-letter queue in use", call("DeleteQueue", "queueName", "dlq"), cmq.ErrDeadLetterQueueInUse},
		{"too many sources", call("SetQueueAttributes", "queueName", "q", "deadLetterPolicy", bind), cmq.ErrDeadLetterTooManySources},
		{"nested", call("SetQueueAttributes", "queueName", "dlq", "deadLetterPolicy", `{"deadLetterQueue":"q","policy":0,"maxReceiveCount":1}`), cmq.ErrDeadLetterNested},
		{"policy not JSON", call("SetQueueAttributes", "queueName", "q", "deadLetterPolicy", "{"), errPolicyJSON},
		{"batch of 17", call("BatchDeleteMessage", append([]string{"queueName", "q"}, indexed("receiptHandle", 17)...)...), batchSize("receiptHandle")},
		{"index format", call("BatchSendMessage", "queueName", "q", "msgBody.x", "a"), detail(errKeyFormat, "msgBody.x")},
		{"index gap", call("BatchSendMessage", "queueName", "q", "msgBody.1", "a", "msgBody.3", "b"), detail(errNotContig, "msgBody")},
		{"array for a scalar", call("SendMessage", "queueName", "q", "msgBody.1", "a"), detail(errNotRepeated, "msgBody")},
		{"empty handle", call("DeleteMessage", "queueName", "q", "receiptHandle", ""), errHandle},
		{"stale handle", call("DeleteMessage", "queueName", "q", "receiptHandle", "00000000000000000000000000000001"), cmq.ErrInvalidReceiptHandle},
		{"integer type", call("ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "soon"), detail(errType, "pollingWaitSeconds")},
		{"unknown action", call("PeekMessage", "queueName", "q"), detail(errAction, "PeekMessage")},
		{"SecretId without AKID", c.signed("test", e2eKey).call(t, ctx, "ListQueue"), errSecretAKID},
		{"queue limit", func() resp {
			for i := range 5 {
				requireOK(t, call("CreateQueue", "queueName", fmt.Sprintf("more%d", i)))
			}
			return call("CreateQueue", "queueName", "one-too-many")
		}(), cmq.ErrQueueLimit},
		{"nonce table full of one second", func() resp {
			// All dated the same second, so that the table cannot forget
			// another second to make room.
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			var r resp
			for range 41 {
				vals := s.params("ListQueue")
				vals["Timestamp"] = ts
				s.sign(vals)
				if _, r = s.send(t, ctx, vals); r.code() != 0 {
					break
				}
			}
			return r
		}(), errSlowDown},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) { assertIs(t, st.got, st.want) })
	}
}

// indexed returns name.0, "x", name.1, "x", ... for n items.
func indexed(name string, n int) []string {
	var kv []string
	for i := range n {
		kv = append(kv, fmt.Sprintf("%s.%d", name, i), "x")
	}
	return kv
}

func mustQueueB(t *testing.T, b *cmq.Broker, name string) *cmq.Queue {
	t.Helper()
	q, err := b.Queue(name)
	require.NoError(t, err)
	return q
}

// A long poll over a real connection, parked in the broker, is woken by a
// send made by another request.
func TestEndToEndLongPoll(t *testing.T) {
	entered := make(chan string, 4)
	b, c := server(t, Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- r.URL.RawQuery
			h.ServeHTTP(w, r)
		})
	})
	_, err := b.CreateQueue(t.Context(), "q", attrsZero)
	require.NoError(t, err)
	ctx := t.Context()
	c.method = "GET"
	got := make(chan resp, 1)
	go func() { got <- c.call(t, ctx, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "20") }()
	<-entered
	waitParked(t, 1)
	c.method = "POST"
	requireOK(t, c.call(t, ctx, "SendMessage", "queueName", "q", "msgBody", "wake up"))
	<-entered
	r := <-got
	requireOK(t, r)
	assert.Equal(t, "wake up", r.str("msgBody"))
	// How long an empty poll waits is checked on the fake clock, in
	// TestLongPollQueueWait and TestLongPollWokenBySend.
}

// A client that disconnects during a long poll ends the wait on the server
// at once, with nothing consumed: a message sent afterwards is still there
// for the next receive.
func TestEndToEndClientDisconnect(t *testing.T) {
	entered, left := make(chan struct{}, 4), make(chan struct{}, 4)
	b, c := server(t, Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			h.ServeHTTP(w, r)
			left <- struct{}{}
		})
	})
	_, err := b.CreateQueue(t.Context(), "q", attrsZero)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		form := url.Values{"Action": {"ReceiveMessage"}, "queueName": {"q"}, "pollingWaitSeconds": {"30"}}
		req, err := http.NewRequestWithContext(ctx, "POST", c.base+Path, strings.NewReader(form.Encode()))
		if err == nil {
			var res *http.Response
			if res, err = c.hc.Do(req); err == nil {
				res.Body.Close()
			}
		}
		errc <- err
	}()
	<-entered
	waitParked(t, 1)
	start := time.Now()
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	<-left // the server's handler has returned
	assert.Less(t, time.Since(start), 10*time.Second, "the wait ended long before its 30 s")

	requireOK(t, c.call(t, t.Context(), "SendMessage", "queueName", "q", "msgBody", "still here"))
	<-entered
	<-left
	r := c.call(t, t.Context(), "ReceiveMessage", "queueName", "q")
	requireOK(t, r)
	assert.Equal(t, "still here", r.str("msgBody"))
	assert.Equal(t, 1, r.int("dequeueCount"))
}
