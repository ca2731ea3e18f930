package cmqclient_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/cmqhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fastRetries retries at once, so that tests on sockets take no time.
var fastRetries = cmqclient.Config{RetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond}

// stub answers every request with h and counts them.
func stub(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// Answers that are not CMQ's give a clear error and are not retried,
// except a 5xx without a CMQ body, which is retried MaxAttempts times.
func TestBadResponses(t *testing.T) {
	const html = "<html><body><h1>Welcome to nginx!</h1></body></html>"
	tests := []struct {
		name     string
		h        http.HandlerFunc
		call     string // "send" (default) or "batchsend"
		cfg      cmqclient.Config
		wantErr  error  // matched with errors.Is; nil: success
		contains string // in the error text
		requests int64
	}{
		{name: "html page", h: answer(200, "text/html", html), wantErr: cmqclient.ErrBadResponse, contains: "Welcome", requests: 1},
		{name: "plain text", h: answer(200, "text/plain", "OK"), wantErr: cmqclient.ErrBadResponse, requests: 1},
		{name: "empty body", h: answer(200, "application/json", ""), wantErr: cmqclient.ErrBadResponse, requests: 1},
		{name: "json without code", h: answer(200, "application/json", `{"msgId":"x"}`), wantErr: cmqclient.ErrBadResponse, contains: "no code", requests: 1},
		{name: "json array", h: answer(200, "application/json", `[1,2]`), wantErr: cmqclient.ErrBadResponse, requests: 1},
		{name: "json null", h: answer(200, "application/json", `null`), wantErr: cmqclient.ErrBadResponse, requests: 1},
		{name: "code not a number", h: answer(200, "application/json", `{"code":true}`), wantErr: cmqclient.ErrBadResponse, requests: 1},
		{name: "code a float", h: answer(200, "application/json", `{"code":1.5}`), wantErr: cmqclient.ErrBadResponse, requests: 1},
		{name: "field of the wrong type", h: answer(200, "application/json", `{"code":0,"msgId":5}`), wantErr: cmqclient.ErrBadResponse, requests: 1},
		{name: "truncated json", h: answer(200, "application/json", `{"code":0,"msgId":"ab`), wantErr: cmqclient.ErrBadResponse, requests: 1},
		{name: "truncated body", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte(`{"code":0,"msgId":"ab`))
		}, wantErr: cmqclient.ErrBadResponse, contains: "reading the response", requests: 1},
		{name: "too long", h: answer(200, "application/json", `{"code":0,"msgId":"`+strings.Repeat("x", 2000)+`"}`),
			cfg: cmqclient.Config{MaxResponseBytes: 1024}, wantErr: cmqclient.ErrBadResponse, contains: "longer than 1024", requests: 1},
		{name: "404 page", h: answer(404, "text/html", html), wantErr: cmqclient.ErrBadResponse, contains: "HTTP 404", requests: 1},
		{name: "502 page retried", h: answer(502, "text/html", html), wantErr: cmqclient.ErrBadResponse, contains: "HTTP 502", requests: 3},
		{name: "503 retried up to MaxAttempts", h: answer(503, "text/plain", "busy"), cfg: cmqclient.Config{MaxAttempts: 5},
			wantErr: cmqclient.ErrBadResponse, contains: "HTTP 503", requests: 5},
		{name: "500 with a CMQ body is a CMQ answer", h: answer(500, "application/json", `{"code":6000,"message":"(10050)server internal error"}`),
			wantErr: cmq.ErrInternal, requests: 1},
		{name: "code as a string", h: answer(200, "application/json", `{"code":"0","message":"","msgId":"m-1"}`), requests: 1},
		{name: "TDMQ's Message key", h: answer(200, "application/json", `{"code":7000,"Message":"(10200)no message","clientRequestId":1}`),
			wantErr: cmq.ErrNoMessage, requests: 1},
		{name: "batch send: ids missing", call: "batchsend", h: answer(200, "application/json", `{"code":0,"msgList":[{"msgId":"a"}]}`),
			wantErr: cmqclient.ErrBadResponse, contains: "1 ids for 2 messages", requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, n := stub(t, tt.h)
			cfg := tt.cfg
			cfg.RetryBackoff, cfg.MaxRetryBackoff = fastRetries.RetryBackoff, fastRetries.MaxRetryBackoff
			c, err := cmqclient.New(s.URL, cfg)
			require.NoError(t, err)
			if tt.call == "batchsend" {
				_, err = c.BatchSendMessage(t.Context(), "q", []string{"a", "b"}, 0)
			} else {
				_, err = c.SendMessage(t.Context(), "q", "body", 0)
			}
			if tt.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.ErrorContains(t, err, tt.contains)
			}
			assert.Equal(t, tt.requests, n.Load(), "requests")
		})
	}
}

// A server that is gone: connection refused, retried, a clear error.
func TestDeadServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	c, err := cmqclient.New("http://"+addr, fastRetries)
	require.NoError(t, err)
	_, err = c.SendMessage(t.Context(), "q", "x", 0)
	require.Error(t, err)
	assert.ErrorContains(t, err, "SendMessage http://"+addr+"/v2/index.php")
	var op *net.OpError
	assert.ErrorAs(t, err, &op)
	assert.NotErrorIs(t, err, cmqclient.ErrBadResponse)
}

// droppingListener closes the first drop connections it accepts before
// any response.
type droppingListener struct {
	net.Listener
	drop     int64
	accepted atomic.Int64
}

func (l *droppingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.accepted.Add(1) > l.drop {
			return c, nil
		}
		c.Close()
	}
}

// Transport failures are retried up to MaxAttempts; each attempt is signed
// afresh (the server refuses a replayed nonce).
func TestRetryDroppedConnections(t *testing.T) {
	creds := map[string]string{"AKIDx": "key"}
	tests := []struct {
		drop, attempts int
		wantErr        bool
	}{
		{drop: 0, attempts: 3},
		{drop: 2, attempts: 3},
		{drop: 3, attempts: 3, wantErr: true},
		{drop: 1, attempts: 1, wantErr: true},
	}
	for _, tt := range tests {
		b, err := cmq.NewBroker()
		require.NoError(t, err)
		defer b.Close()
		_, err = b.CreateQueue(t.Context(), "q", cmq.QueueAttributes{})
		require.NoError(t, err)
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		l := &droppingListener{Listener: inner, drop: int64(tt.drop)}
		s := httptest.NewUnstartedServer(cmqhttp.NewHandler(b, cmqhttp.Config{Credentials: creds}))
		s.Listener.Close()
		s.Listener = l
		s.Start()
		defer s.Close()

		cfg := fastRetries
		cfg.SecretID, cfg.SecretKey, cfg.MaxAttempts = "AKIDx", "key", tt.attempts
		c, err := cmqclient.New(s.URL, cfg)
		require.NoError(t, err)
		_, err = c.SendMessage(t.Context(), "q", "x", 0)
		if tt.wantErr {
			assert.Error(t, err, "drop %d", tt.drop)
			assert.NotErrorIs(t, err, cmqclient.ErrBadResponse)
			assert.Equal(t, int64(tt.attempts), l.accepted.Load(), "one connection per attempt")
		} else {
			assert.NoError(t, err, "drop %d", tt.drop)
			assert.Equal(t, int64(tt.drop+1), l.accepted.Load())
		}
		q, err := b.Queue("q")
		require.NoError(t, err)
		info, err := q.Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, map[bool]int{false: 1, true: 0}[tt.wantErr], info.ActiveMsgNum, "drop %d", tt.drop)
	}
}

// A CMQ error code is never retried, whatever the code.
func TestNoRetryOnCMQError(t *testing.T) {
	for _, body := range []string{
		`{"code":4440,"message":"(10100)queue is not existed, or deleted"}`,
		`{"code":6000,"message":"(10050)server internal error"}`,
		`{"code":4420,"message":"(10250)qps throttling"}`,
	} {
		s, n := stub(t, answer(200, "application/json", body))
		c, err := cmqclient.New(s.URL, fastRetries)
		require.NoError(t, err)
		_, err = c.SendMessage(t.Context(), "q", "x", 0)
		var e *cmq.Error
		assert.ErrorAs(t, err, &e, body)
		assert.Equal(t, int64(1), n.Load(), body)
	}
}

// An attempt that gets no answer within its deadline is retried; the
// caller's ctx ending is not.
func TestRetryTimeout(t *testing.T) {
	// The handler reads the body, so that net/http watches the connection
	// and cancels the request's context when the client goes away.
	arrived := make(chan struct{}, 3)
	s, n := stub(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	cfg := fastRetries
	cfg.Timeout, cfg.MaxAttempts = 20*time.Millisecond, 2
	c, err := cmqclient.New(s.URL, cfg)
	require.NoError(t, err)
	_, err = c.SendMessage(t.Context(), "q", "x", 0)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(2), n.Load())
	<-arrived
	<-arrived

	ctx, cancel := context.WithCancel(t.Context())
	cfg.Timeout = time.Minute
	c, err = cmqclient.New(s.URL, cfg)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { _, err := c.SendMessage(ctx, "q", "x", 0); errc <- err }()
	<-arrived
	cancel()
	select {
	case err = <-errc:
		assert.Same(t, context.Canceled, err)
	case <-time.After(10 * time.Second):
		t.Fatal("no return after cancel")
	}
	assert.Equal(t, int64(3), n.Load(), "no retry after the caller's cancel")
	assert.False(t, errors.Is(err, cmqclient.ErrBadResponse))
}
