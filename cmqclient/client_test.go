package cmqclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
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

// server is cmqhttp's handler for a fresh broker on a loopback port.
type server struct {
	*httptest.Server
	b        *cmq.Broker
	requests atomic.Int64
	last     atomic.Pointer[http.Request]
	arrived  chan struct{} // a token per request, dropped when full
}

func newServer(t testing.TB, creds map[string]string) *server {
	t.Helper()
	b, err := cmq.NewBroker()
	require.NoError(t, err)
	s := &server{b: b, arrived: make(chan struct{}, 1)}
	h := cmqhttp.NewHandler(b, cmqhttp.Config{Credentials: creds})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		// Keep a copy with its form parsed, for the tests to look at.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		cp := r.Clone(r.Context())
		cp.Body = io.NopCloser(bytes.NewReader(body))
		cp.ParseForm()
		s.last.Store(cp)
		select {
		case s.arrived <- struct{}{}:
		default:
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		s.Close()
		b.Close()
	})
	return s
}

// client returns a client of s with cfg, closing its connections at cleanup.
func (s *server) client(t testing.TB, cfg cmqclient.Config) *cmqclient.Client {
	t.Helper()
	c, err := cmqclient.New(s.URL, cfg)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestActions(t *testing.T) {
	ctx := t.Context()
	s := newServer(t, nil)
	c := s.client(t, cmqclient.Config{})
	assert.Equal(t, s.URL+"/v2/index.php", c.Endpoint())
	assert.Equal(t, cmqclient.KindFull, c.Kind())

	id, err := c.CreateQueue(ctx, "orders", cmq.QueueAttributes{
		VisibilityTimeout: cmq.Ptr(1500 * time.Millisecond), // sent as 2 s
		MaxMsgSize:        cmq.Ptr(2048),
		RewindPeriod:      cmq.Ptr(time.Hour),
	})
	require.NoError(t, err)
	q, err := s.b.Queue("orders")
	require.NoError(t, err)
	assert.Equal(t, q.ID(), id)

	_, err = c.CreateQueue(ctx, "ORDERS", cmq.QueueAttributes{})
	assert.ErrorIs(t, err, cmq.ErrQueueExists)
	_, err = c.CreateQueue(ctx, "1bad", cmq.QueueAttributes{})
	assert.ErrorIs(t, err, cmq.ErrQueueNameFormat)
	_, err = c.CreateQueue(ctx, "dlq", cmq.QueueAttributes{})
	require.NoError(t, err)
	require.NoError(t, c.SetQueueAttributes(ctx, "orders", cmq.QueueAttributes{
		DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 3},
	}))

	info, err := c.GetQueueAttributes(ctx, "orders")
	require.NoError(t, err)
	want, err := q.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, want.ID, info.ID)
	assert.Equal(t, "orders", info.Name)
	assert.Equal(t, 2*time.Second, info.VisibilityTimeout)
	assert.Equal(t, 2048, info.MaxMsgSize)
	assert.Equal(t, time.Hour, info.RewindPeriod)
	assert.Equal(t, want.MsgRetention, info.MsgRetention)
	assert.Equal(t, want.MaxMsgHeapNum, info.MaxMsgHeapNum)
	assert.Equal(t, want.CreateTime.Unix(), info.CreateTime.Unix())
	assert.Equal(t, want.DeadLetterPolicy, info.DeadLetterPolicy)
	assert.True(t, info.MinMsgTime.IsZero())

	srcs, total, err := c.ListDeadLetterSourceQueues(ctx, "dlq", cmq.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, []cmq.QueueSummary{{ID: id, Name: "orders"}}, srcs)
	require.NoError(t, c.UnbindDeadLetterQueue(ctx, "orders"))
	assert.ErrorIs(t, c.UnbindDeadLetterQueue(ctx, "orders"), cmq.ErrDeadLetterQueueNotExist)

	qs, total, err := c.ListQueues(ctx, cmq.ListOptions{Search: "ORD", Limit: 5})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, []cmq.QueueSummary{{ID: id, Name: "orders"}}, qs)
	qs, total, err = c.ListQueues(ctx, cmq.ListOptions{Offset: 1})
	require.NoError(t, err)
	assert.Equal(t, 2, total)
	assert.Len(t, qs, 1)

	// Messages.
	before := time.Now().Unix()
	mid, err := c.SendMessage(ctx, "orders", "hello & <world>", 0)
	require.NoError(t, err)
	m, err := c.ReceiveMessage(ctx, "orders", 0)
	require.NoError(t, err)
	assert.Equal(t, mid, m.ID)
	assert.Equal(t, "hello & <world>", m.Body)
	assert.Equal(t, 1, m.DequeueCount)
	assert.GreaterOrEqual(t, m.EnqueueTime.Unix(), before)
	assert.Equal(t, m.EnqueueTime.Unix(), m.EnqueueTime.Truncate(time.Second).Unix())
	assert.Greater(t, m.NextVisibleTime.Unix(), before)
	assert.Nil(t, m.DeadLetter)
	_, err = c.ReceiveMessage(ctx, "orders", 0)
	assert.ErrorIs(t, err, cmq.ErrNoMessage)
	assert.Same(t, cmq.ErrNoMessage, err, "the sentinel itself for its own text")
	require.NoError(t, c.DeleteMessage(ctx, "orders", m.ReceiptHandle))
	assert.ErrorIs(t, c.DeleteMessage(ctx, "orders", m.ReceiptHandle), cmq.ErrInvalidReceiptHandle)
	assert.ErrorIs(t, c.DeleteMessage(ctx, "orders", m.ID), cmq.ErrInvalidReceiptHandle)

	bodies := []string{"a", "b", "c"}
	ids, err := c.BatchSendMessage(ctx, "orders", bodies, 0)
	require.NoError(t, err)
	require.Len(t, ids, 3)
	ms, err := c.BatchReceiveMessage(ctx, "orders", 16, 0)
	require.NoError(t, err)
	require.Len(t, ms, 3)
	for i, m := range ms {
		assert.Equal(t, ids[i], m.ID)
		assert.Equal(t, bodies[i], m.Body)
	}
	// A partial batch delete: per-handle errors from errorList.
	handles := []string{ms[0].ReceiptHandle, "bogus", ms[1].ReceiptHandle}
	res, err := c.BatchDeleteMessage(ctx, "orders", handles)
	assert.ErrorIs(t, err, cmq.ErrBatchDeletePartial)
	require.Len(t, res, 3)
	assert.NoError(t, res[0])
	assert.ErrorIs(t, res[1], cmq.ErrInvalidReceiptHandle)
	assert.NoError(t, res[2])
	// All fail, one handle twice: each reported.
	res, err = c.BatchDeleteMessage(ctx, "orders", []string{"bogus", "bogus"})
	assert.ErrorIs(t, err, cmq.ErrBatchDeleteFailed)
	require.Len(t, res, 2)
	assert.ErrorIs(t, res[0], cmq.ErrInvalidReceiptHandle)
	assert.ErrorIs(t, res[1], cmq.ErrInvalidReceiptHandle)
	// All succeed.
	res, err = c.BatchDeleteMessage(ctx, "orders", []string{ms[2].ReceiptHandle})
	require.NoError(t, err)
	assert.Equal(t, []error{nil}, res)
	// A failure of the whole call: no results.
	res, err = c.BatchDeleteMessage(ctx, "orders", make([]string, 17))
	assert.ErrorIs(t, err, cmq.ErrBatchSize)
	assert.Nil(t, res)

	// Rewind to before the first send.
	require.NoError(t, c.RewindQueue(ctx, "orders", time.Unix(before, 0)))
	ms, err = c.BatchReceiveMessage(ctx, "orders", 16, 0)
	require.NoError(t, err)
	assert.Len(t, ms, 4)

	// Delays go as whole seconds, rounded up.
	_, err = c.SendMessage(ctx, "orders", "later", 10*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, "1", s.last.Load().PostForm.Get("delaySeconds"))
	_, err = c.SendMessage(ctx, "orders", "x", time.Hour+time.Second)
	assert.ErrorIs(t, err, cmq.ErrOutOfRange)

	require.NoError(t, c.DeleteQueue(ctx, "orders"))
	assert.ErrorIs(t, c.DeleteQueue(ctx, "orders"), cmq.ErrQueueNotExist)
	_, err = c.SendMessage(ctx, "orders", "x", 0)
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	_, err = c.GetQueueAttributes(ctx, "orders")
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
}

// What goes on the wire: a form POST with CMQ's common parameters and
// 0-based arrays.
func TestWire(t *testing.T) {
	s := newServer(t, nil)
	c := s.client(t, cmqclient.Config{AppID: 1234})
	_, err := c.BatchSendMessage(t.Context(), "q", []string{"x", "y"}, 0)
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	r := s.last.Load()
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/v2/index.php", r.URL.Path)
	assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
	f := r.PostForm
	assert.Equal(t, "BatchSendMessage", f.Get("Action"))
	assert.Equal(t, cmqclient.RequestClient, f.Get("RequestClient"))
	assert.Regexp(t, `^[0-9]+$`, f.Get("clientRequestId"))
	assert.Equal(t, "1234", f.Get("appId"))
	assert.Equal(t, "x", f.Get("msgBody.0"))
	assert.Equal(t, "y", f.Get("msgBody.1"))
	assert.Equal(t, "0", f.Get("delaySeconds"))
	assert.Empty(t, f.Get("Signature"))
	assert.Empty(t, f.Get("SecretId"))

	// A receive with the queue's wait sends no pollingWaitSeconds.
	_, err = c.ReceiveMessage(t.Context(), "q", cmq.QueueWait)
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	assert.False(t, s.last.Load().PostForm.Has("pollingWaitSeconds"))
	_, err = c.BatchReceiveMessage(t.Context(), "q", 3, 1500*time.Millisecond)
	assert.ErrorIs(t, err, cmq.ErrQueueNotExist)
	assert.Equal(t, "2", s.last.Load().PostForm.Get("pollingWaitSeconds"))
	assert.Equal(t, "3", s.last.Load().PostForm.Get("numOfMsg"))
}

// Signed requests, both methods, checked by cmqhttp's own verifier.
func TestSigned(t *testing.T) {
	creds := map[string]string{"AKIDtest": "secret-key"}
	s := newServer(t, creds)
	_, err := s.b.CreateQueue(t.Context(), "q", cmq.QueueAttributes{})
	require.NoError(t, err)
	tests := []struct {
		name    string
		cfg     cmqclient.Config
		wantErr bool
	}{
		{"sha1 by default", cmqclient.Config{SecretID: "AKIDtest", SecretKey: "secret-key"}, false},
		{"sha1", cmqclient.Config{SecretID: "AKIDtest", SecretKey: "secret-key", SignatureMethod: cmqclient.HmacSHA1}, false},
		{"sha256", cmqclient.Config{SecretID: "AKIDtest", SecretKey: "secret-key", SignatureMethod: cmqclient.HmacSHA256}, false},
		{"token signed too", cmqclient.Config{SecretID: "AKIDtest", SecretKey: "secret-key", Token: "tok"}, false},
		{"wrong key", cmqclient.Config{SecretID: "AKIDtest", SecretKey: "wrong"}, true},
		{"unsigned", cmqclient.Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.client(t, tt.cfg)
			// Twice: each request has its own nonce.
			for range 2 {
				_, err := c.SendMessage(t.Context(), "q", "signed body with = & + %", 0)
				if !tt.wantErr {
					require.NoError(t, err)
					continue
				}
				var e *cmq.Error
				require.ErrorAs(t, err, &e)
				assert.Contains(t, []int{4000, 4100}, e.Code, "%v", err)
			}
			f := s.last.Load().PostForm
			if tt.cfg.SecretID != "" {
				assert.Equal(t, tt.cfg.SecretID, f.Get("SecretId"))
				assert.Equal(t, tt.cfg.Token, f.Get("Token"))
				assert.NotEmpty(t, f.Get("Nonce"))
				assert.NotEmpty(t, f.Get("Timestamp"))
			}
		})
	}
}

// A data-flow endpoint refuses management actions without a request.
func TestDataFlow(t *testing.T) {
	s := newServer(t, nil)
	_, err := s.b.CreateQueue(t.Context(), "q", cmq.QueueAttributes{})
	require.NoError(t, err)
	c := s.client(t, cmqclient.Config{Kind: cmqclient.KindDataFlow})
	ctx := t.Context()
	mgmt := []struct {
		action string
		call   func() error
	}{
		{"CreateQueue", func() error { _, err := c.CreateQueue(ctx, "x", cmq.QueueAttributes{}); return err }},
		{"DeleteQueue", func() error { return c.DeleteQueue(ctx, "q") }},
		{"ListQueue", func() error { _, _, err := c.ListQueues(ctx, cmq.ListOptions{}); return err }},
		{"GetQueueAttributes", func() error { _, err := c.GetQueueAttributes(ctx, "q"); return err }},
		{"SetQueueAttributes", func() error { return c.SetQueueAttributes(ctx, "q", cmq.QueueAttributes{}) }},
		{"RewindQueue", func() error { return c.RewindQueue(ctx, "q", time.Now()) }},
		{"ListDeadLetterSourceQueues", func() error {
			_, _, err := c.ListDeadLetterSourceQueues(ctx, "q", cmq.ListOptions{})
			return err
		}},
		{"UnbindDeadLetterQueue", func() error { return c.UnbindDeadLetterQueue(ctx, "q") }},
	}
	for _, m := range mgmt {
		err := m.call()
		assert.ErrorIs(t, err, cmqclient.ErrUnsupported, m.action)
		assert.ErrorIs(t, err, errors.ErrUnsupported, m.action)
		assert.ErrorContains(t, err, m.action)
	}
	assert.Zero(t, s.requests.Load(), "no request for a management action")
	// The message actions work.
	_, err = c.SendMessage(ctx, "q", "x", 0)
	require.NoError(t, err)
	m, err := c.ReceiveMessage(ctx, "q", 0)
	require.NoError(t, err)
	require.NoError(t, c.DeleteMessage(ctx, "q", m.ReceiptHandle))
}

func TestNew(t *testing.T) {
	tests := []struct {
		endpoint string
		cfg      cmqclient.Config
		url      string
		kind     cmqclient.Kind
		err      string
	}{
		{endpoint: "http://127.0.0.1:8080", url: "http://127.0.0.1:8080/v2/index.php", kind: cmqclient.KindFull},
		{endpoint: "http://127.0.0.1:8080/", url: "http://127.0.0.1:8080/", kind: cmqclient.KindFull},
		{endpoint: "http://127.0.0.1:8080", cfg: cmqclient.Config{Kind: cmqclient.KindDataFlow}, url: "http://127.0.0.1:8080/v2/index.php", kind: cmqclient.KindDataFlow},
		{endpoint: "https://cmq-gz.public.tencenttdmq.com/v2/index.php", url: "https://cmq-gz.public.tencenttdmq.com/v2/index.php", kind: cmqclient.KindDataFlow},
		{endpoint: "https://cmq-gz.public.tencenttdmq.com", url: "https://cmq-gz.public.tencenttdmq.com/", kind: cmqclient.KindDataFlow},
		{endpoint: "http://gz.mqadapter.cmq.tencentyun.com", url: "http://gz.mqadapter.cmq.tencentyun.com/", kind: cmqclient.KindDataFlow},
		{endpoint: "https://cmq-gz.public.tencenttdmq.com", cfg: cmqclient.Config{Kind: cmqclient.KindFull}, url: "https://cmq-gz.public.tencenttdmq.com/", kind: cmqclient.KindFull},
		{endpoint: "https://cmq-queue-gz.api.qcloud.com/v2/index.php", url: "https://cmq-queue-gz.api.qcloud.com/v2/index.php", kind: cmqclient.KindFull},
		{endpoint: "http://[::1]:9/custom", url: "http://[::1]:9/custom", kind: cmqclient.KindFull},
		{endpoint: "", err: "scheme"},
		{endpoint: "127.0.0.1:8080", err: "endpoint"},
		{endpoint: "ftp://host", err: "scheme"},
		{endpoint: "http://", err: "want scheme://host"},
		{endpoint: "http://u:p@host", err: "no user"},
		{endpoint: "http://host/?a=b", err: "query"},
		{endpoint: "http://host/#f", err: "fragment"},
		{endpoint: "http://host\x7f", err: "endpoint"},
		{endpoint: "http://h", cfg: cmqclient.Config{SignatureMethod: "MD5"}, err: "SignatureMethod"},
		{endpoint: "http://h", cfg: cmqclient.Config{SecretKey: "k"}, err: "without SecretID"},
		{endpoint: "http://h", cfg: cmqclient.Config{SecretID: "AKID"}, err: "without SecretKey"},
		{endpoint: "http://h", cfg: cmqclient.Config{Kind: 7}, err: "Kind(7)"},
		{endpoint: "http://h", cfg: cmqclient.Config{Timeout: -1}, err: "negative"},
		{endpoint: "http://h", cfg: cmqclient.Config{MaxAttempts: -1}, err: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			c, err := cmqclient.New(tt.endpoint, tt.cfg)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				assert.Nil(t, c)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.url, c.Endpoint())
			assert.Equal(t, tt.kind, c.Kind())
		})
	}
}

// A done ctx sends nothing; a ctx cancelled during a long poll aborts it
// at once with the context's error.
func TestContext(t *testing.T) {
	s := newServer(t, nil)
	_, err := s.b.CreateQueue(t.Context(), "q", cmq.QueueAttributes{})
	require.NoError(t, err)
	c := s.client(t, cmqclient.Config{})

	done, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.SendMessage(done, "q", "x", 0)
	assert.Same(t, context.Canceled, err)
	_, err = c.CreateQueue(done, "x", cmq.QueueAttributes{})
	assert.Same(t, context.Canceled, err)
	assert.Zero(t, s.requests.Load())

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReceiveMessage(ctx, "q", 30*time.Second)
		errc <- err
	}()
	// Cancel once the server holds the long poll.
	<-s.arrived
	cancel()
	select {
	case err := <-errc:
		assert.Same(t, context.Canceled, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the receive did not return after its ctx was cancelled")
	}
}

// A long poll's deadline is its wait plus Timeout: a wait longer than
// Timeout completes.
func TestLongPollDeadline(t *testing.T) {
	s := newServer(t, nil)
	_, err := s.b.CreateQueue(t.Context(), "q", cmq.QueueAttributes{})
	require.NoError(t, err)
	c := s.client(t, cmqclient.Config{Timeout: 200 * time.Millisecond, MaxAttempts: 1})
	start := time.Now()
	_, err = c.ReceiveMessage(t.Context(), "q", time.Second)
	assert.Same(t, cmq.ErrNoMessage, err)
	assert.GreaterOrEqual(t, time.Since(start), time.Second)
}

func TestErrorsIs(t *testing.T) {
	s := newServer(t, nil)
	c := s.client(t, cmqclient.Config{})
	_, err := c.ReceiveMessage(t.Context(), "missing", 0)
	assert.True(t, errors.Is(err, cmq.ErrQueueNotExist))
	var e *cmq.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 4440, e.Code)
	assert.Equal(t, 10100, e.Module)
	assert.True(t, strings.HasPrefix(e.WireMessage(), "(10100)"))
}
