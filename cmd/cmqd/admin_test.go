package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

var adminRE = regexp.MustCompile(`msg="cmqd admin listening" admin=(\S+)`)

// startAdmin runs cmqd with an admin listener; it returns the API's and
// the admin listener's base URLs, and stop.
func startAdmin(t *testing.T, args []string, env map[string]string) (api, adm string, stop func() error) {
	t.Helper()
	api, logs, stop := start(t, append([]string{"-admin-addr", "127.0.0.1:0"}, args...), env)
	m := adminRE.FindStringSubmatch(logs.String())
	require.NotNil(t, m, logs.String())
	return api, "http://" + m[1], stop
}

// get fetches url with basic auth when id is set and returns the status
// and body.
func get(t *testing.T, url, id, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	require.NoError(t, err)
	if id != "" {
		req.SetBasicAuth(id, key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

func TestAdminMetrics(t *testing.T) {
	api, adm, _ := startAdmin(t, nil, nil)
	ctx := t.Context()
	require.Equal(t, 0, code(call(t, ctx, api, "", "", "Action", "CreateQueue", "queueName", "jobs")))
	require.Equal(t, 0, code(call(t, ctx, api, "", "", "Action", "CreateQueue", "queueName", "dead")))
	for range 3 {
		require.Equal(t, 0, code(call(t, ctx, api, "", "", "Action", "SendMessage", "queueName", "jobs", "msgBody", "hello")))
	}
	r := call(t, ctx, api, "", "", "Action", "ReceiveMessage", "queueName", "jobs")
	require.Equal(t, 0, code(r))
	require.Equal(t, 0, code(call(t, ctx, api, "", "", "Action", "DeleteMessage", "queueName", "jobs", "receiptHandle", r["receiptHandle"].(string))))
	require.Equal(t, 4440, code(call(t, ctx, api, "", "", "Action", "SendMessage", "queueName", "nope", "msgBody", "x")))

	// The handler observes a request after writing its answer, so the
	// last call may not be counted yet: scrape until it is (bounded).
	var status int
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		status, body = get(t, adm+"/metrics", "", "")
		if strings.Contains(body, `code="4440"} 1`) || time.Now().After(deadline) {
			break
		}
	}
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{
		`cmq_queues 2`,
		`cmq_broker_ready 1`,
		`cmq_queue_messages{queue="jobs",state="active"} 2`,
		`cmq_queue_messages{queue="jobs",state="inactive"} 0`,
		`cmq_queue_messages{queue="dead",state="active"} 0`,
		`cmq_queue_sent_messages_total{queue="jobs"} 3`,
		`cmq_queue_received_messages_total{queue="jobs"} 1`,
		`cmq_queue_deleted_messages_total{queue="jobs"} 1`,
		`cmq_queue_throttled_calls_total{queue="jobs"} 0`,
		`cmq_queue_bytes{queue="jobs"} 266`,
		`cmqd_request_duration_seconds_count{action="SendMessage",code="0"} 3`,
		`cmqd_request_duration_seconds_count{action="SendMessage",code="4440"} 1`,
		`cmqd_request_duration_seconds_count{action="CreateQueue",code="0"} 2`,
		`# TYPE cmqd_request_duration_seconds histogram`,
		`# TYPE cmq_queue_sent_messages_total counter`,
	} {
		assert.Contains(t, body, want+"\n")
	}
	assert.Contains(t, body, "\ngo_goroutines ", "Go runtime metrics")
	assert.Contains(t, body, "\nprocess_cpu_seconds_total ", "process metrics")
}

func TestAdminHealth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		env        map[string]string
		path, id   string
		wantStatus int
		wantBody   string
	}{
		{"liveness", nil, nil, "/healthz", "", 200, "ok\n"},
		{"readiness", nil, nil, "/readyz", "", 200, "ok\n"},
		{"console off by default", nil, nil, "/", "", 404, ""},
		{"console JSON off by default", nil, nil, "/api/overview", "", 404, ""},
		{"console on", []string{"-console"}, nil, "/", "", 200, "<title>cmqd console</title>"},
		{"credentials: health stays open", nil, creds, "/healthz", "", 200, "ok\n"},
		{"credentials: metrics need them", nil, creds, "/metrics", "", 401, "SecretId and SecretKey required"},
		{"credentials: wrong key", nil, creds, "/metrics", "bad", 401, ""},
		{"credentials: metrics with them", nil, creds, "/metrics", "AKIDadm", 200, "cmq_queues 0"},
		{"credentials: console needs them", []string{"-console"}, creds, "/", "", 401, ""},
		{"credentials: console JSON needs them", []string{"-console"}, creds, "/api/overview", "", 401, ""},
		{"credentials: console with them", []string{"-console"}, creds, "/", "AKIDadm", 200, "cmqd console"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, adm, _ := startAdmin(t, tc.args, tc.env)
			key := "admkey"
			if tc.id == "bad" {
				tc.id, key = "AKIDadm", "nope"
			}
			status, body := get(t, adm+tc.path, tc.id, key)
			assert.Equal(t, tc.wantStatus, status, body)
			assert.Contains(t, body, tc.wantBody)
		})
	}
}

var creds = map[string]string{"CMQ_SECRET_ID": "AKIDadm", "CMQ_SECRET_KEY": "admkey"}

// Readiness turns 503 as soon as shutdown begins, while requests drain.
func TestAdminReadyDuringShutdown(t *testing.T) {
	api, adm, stop := startAdmin(t, []string{"-polling-wait", "0:30s"}, nil)
	ctx := t.Context()
	require.Equal(t, 0, code(call(t, ctx, api, "", "", "Action", "CreateQueue", "queueName", "q")))
	status, _ := get(t, adm+"/readyz", "", "")
	require.Equal(t, 200, status)

	a := &admin{}
	a.draining.Store(true)
	assert.EqualError(t, a.ready(), "shutting down")

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("cmqd did not stop")
	}
	_, err := http.Get(adm + "/healthz")
	assert.Error(t, err, "the admin listener is closed after shutdown")
}

func TestAdminConsoleOverview(t *testing.T) {
	api, adm, _ := startAdmin(t, []string{"-console"}, nil)
	ctx := t.Context()
	require.Equal(t, 0, code(call(t, ctx, api, "", "", "Action", "CreateQueue", "queueName", "dead")))
	require.Equal(t, 0, code(call(t, ctx, api, "", "", "Action", "CreateQueue", "queueName", "orders",
		"deadLetterPolicy", `{"deadLetterQueue":"dead","policy":0,"maxReceiveCount":3}`)))
	require.Equal(t, 0, code(call(t, ctx, api, "", "", "Action", "SendMessage", "queueName", "orders", "msgBody", "x")))
	status, body := get(t, adm+"/api/overview", "", "")
	require.Equal(t, 200, status)
	for _, want := range []string{`"ready":true`, `"Name":"orders"`, `"Sent":1`, `"DeadLetterQueue":"dead"`,
		`"deadLetterSources":["orders"]`, `"topics":[]`, `"visibilityTimeoutSeconds":30`} {
		assert.Contains(t, body, want)
	}
	assert.True(t, strings.Index(body, `"Name":"dead"`) < strings.Index(body, `"Name":"orders"`), "sorted by name")
}

func TestAdminFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-console"}, "-console needs -admin-addr"},
		{[]string{"-admin-addr", "127.0.0.1:0", "-console"}, ""},
		{[]string{"-admin-addr", "127.0.0.1:0"}, ""},
	} {
		c, err := parseConfig(tc.args, func(string) string { return "" }, io.Discard)
		if tc.wantErr != "" {
			assert.EqualError(t, err, tc.wantErr, tc.args)
			continue
		}
		require.NoError(t, err, tc.args)
		assert.Equal(t, "127.0.0.1:0", c.adminAddr)
	}
}

func TestAdminTopicMetrics(t *testing.T) {
	api, adm, _ := startAdmin(t, []string{"-console"}, nil)
	ctx := t.Context()
	must := func(kv ...string) {
		t.Helper()
		r := call(t, ctx, api, "", "", kv...)
		require.Equal(t, 0, code(r), r)
	}
	must("Action", "CreateQueue", "queueName", "inbox")
	must("Action", "CreateTopic", "topicName", "events")
	must("Action", "Subscribe", "topicName", "events", "subscriptionName", "to-inbox",
		"protocol", "queue", "endpoint", "inbox", "notifyContentFormat", "SIMPLIFIED", "filterTag.0", "order")
	must("Action", "PublishMessage", "topicName", "events", "msgBody", "a", "msgTag.0", "order")
	must("Action", "PublishMessage", "topicName", "events", "msgBody", "b", "msgTag.0", "order")

	status, body := get(t, adm+"/metrics", "", "")
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{
		`cmq_topics 1`,
		`cmq_topic_subscriptions{topic="events"} 1`,
		`cmq_topic_pending_deliveries{topic="events"} 0`,
		`cmq_topic_published_messages_total{topic="events"} 2`,
		`cmq_topic_delivered_total{topic="events"} 2`,
		`cmq_topic_failed_attempts_total{topic="events"} 0`,
		`cmq_topic_retried_attempts_total{topic="events"} 0`,
		`cmq_topic_dropped_deliveries_total{topic="events"} 0`,
		`cmq_subscription_delivered_total{protocol="queue",subscription="to-inbox",topic="events"} 2`,
		`cmq_subscription_pending_deliveries{protocol="queue",subscription="to-inbox",topic="events"} 0`,
		`cmq_queue_sent_messages_total{queue="inbox"} 2`,
		`# TYPE cmq_topic_published_messages_total counter`,
	} {
		assert.Contains(t, body, want+"\n")
	}
	status, body = get(t, adm+"/api/overview", "", "")
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{`"topics":[{"Name":"events","FilterType":1,"MsgCount":0,"Published":2,"Delivered":2`,
		`"Subscriptions":[{"Name":"to-inbox","Protocol":"queue","Endpoint":"inbox","FilterTags":["order"]`} {
		assert.Contains(t, body, want)
	}
}

// Readiness after the journal fails: the broker's Health returns the
// journal's error (it wraps cmq.ErrJournal, as a durable broker's does
// once a write or fsync failed; the root package's tests make a real
// journal fail through a faulty file system). /readyz answers 503 with
// the error, /healthz stays 200 (the process lives; a supervisor should
// restart it, not kill it mid-drain), cmq_broker_ready is 0 and the
// console's JSON says why.
func TestAdminReadyAfterJournalFailure(t *testing.T) {
	b, err := cmq.NewBroker()
	require.NoError(t, err)
	defer b.Close()
	a := newAdmin(b, nil, slog.New(slog.DiscardHandler))
	var failed atomic.Pointer[error] // read by the handlers' goroutines
	a.health = func() error {
		if err := failed.Load(); err != nil {
			return *err
		}
		return b.Health()
	}
	srv := httptest.NewServer(a.handler(true))
	defer srv.Close()

	status, body := get(t, srv.URL+"/readyz", "", "")
	require.Equal(t, http.StatusOK, status, body)

	journalErr := fmt.Errorf("%w: write /data/log/000001.wal: input/output error", cmq.ErrJournal)
	failed.Store(&journalErr)
	for _, tc := range []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/readyz", 503, "not ready: "},
		{"/readyz", 503, "input/output error"},
		{"/healthz", 200, "ok\n"},
		{"/metrics", 200, "cmq_broker_ready 0\n"},
		{"/api/overview", 200, `"ready":false`},
		{"/api/overview", 200, "input/output error"},
	} {
		status, body := get(t, srv.URL+tc.path, "", "")
		assert.Equal(t, tc.wantStatus, status, tc.path)
		assert.Contains(t, body, tc.wantBody, tc.path)
	}

	// A closed broker is not ready either, by its own Health.
	failed.Store(nil)
	require.NoError(t, b.Close())
	status, body = get(t, srv.URL+"/readyz", "", "")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, cmq.ErrClosed.Error())
}
