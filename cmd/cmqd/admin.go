package main

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opencmq/cmq"
)

// The admin listener (-admin-addr) serves what operators and their tools
// read, apart from the CMQ API:
//
//	/metrics   Prometheus text format (behind the API's credentials, if set)
//	/healthz   liveness: 200 while the process serves
//	/readyz    readiness: 200 while the broker is open and its journal
//	           healthy; 503 once shutdown begins
//	/          the read-only console, with -console (behind the credentials)
//	/api/overview  the console's JSON, with -console

// admin is the admin listener's state.
type admin struct {
	b        *cmq.Broker
	health   func() error      // the broker's Health; tests put a failing one
	creds    map[string]string // SecretId -> SecretKey; empty: no auth
	reg      *prometheus.Registry
	latency  *prometheus.HistogramVec
	draining atomic.Bool // shutdown has begun: not ready
	log      *slog.Logger
}

// newAdmin returns the admin state for b: a registry with the broker's
// collector, Go and process metrics, and the request latency histogram.
func newAdmin(b *cmq.Broker, creds map[string]string, log *slog.Logger) *admin {
	a := &admin{b: b, health: b.Health, creds: creds, reg: prometheus.NewRegistry(), log: log}
	a.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cmqd_request_duration_seconds",
		Help:    "Time from a CMQ API request's start to its answer written, long polls included, by action and CMQ code.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"action", "code"})
	a.reg.MustRegister(statsCollector{a}, a.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return a
}

// observe is cmqhttp's Config.Observe: one latency sample per request.
func (a *admin) observe(action string, code int, d time.Duration) {
	a.latency.WithLabelValues(action, strconv.Itoa(code)).Observe(d.Seconds())
}

// handler returns the admin listener's handler; console adds the console.
func (a *admin) handler(console bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := a.ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + err.Error() + "\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", a.auth(promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	})))
	if console {
		mux.Handle("GET /{$}", a.auth(http.HandlerFunc(serveConsole)))
		mux.Handle("GET /api/overview", a.auth(http.HandlerFunc(a.overview)))
	}
	return mux
}

// errDraining is readiness during shutdown.
type errDraining struct{}

func (errDraining) Error() string { return "shutting down" }

func (a *admin) ready() error {
	if a.draining.Load() {
		return errDraining{}
	}
	return a.health()
}

// auth requires HTTP basic auth with a SecretId and its SecretKey when
// cmqd has credentials.
func (a *admin) auth(h http.Handler) http.Handler {
	if len(a.creds) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, key, ok := r.BasicAuth()
		want, known := a.creds[id]
		if !ok || !known || subtle.ConstantTimeCompare([]byte(key), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="cmqd", charset="UTF-8"`)
			http.Error(w, "SecretId and SecretKey required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

//go:embed console
var consoleFS embed.FS

func serveConsole(w http.ResponseWriter, r *http.Request) {
	page, err := consoleFS.ReadFile("console/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(page)
}

// overviewQueue is one queue in the console's JSON.
type overviewQueue struct {
	cmq.QueueStats
	OldestAgeSeconds  float64               `json:"oldestAgeSeconds"`
	VisibilityTimeout float64               `json:"visibilityTimeoutSeconds"`
	PollingWait       float64               `json:"pollingWaitSeconds"`
	MsgRetention      float64               `json:"msgRetentionSeconds"`
	RewindPeriod      float64               `json:"rewindSeconds"`
	MaxMsgHeapNum     int                   `json:"maxMsgHeapNum"`
	MaxMsgSize        int                   `json:"maxMsgSize"`
	CreateTime        time.Time             `json:"createTime"`
	DeadLetterPolicy  *cmq.DeadLetterPolicy `json:"deadLetterPolicy"`
	Sources           []string              `json:"deadLetterSources"`
}

// overview is the console's JSON.
type overview struct {
	Time   time.Time        `json:"time"`
	Ready  bool             `json:"ready"`
	Status string           `json:"status"`
	Bytes  int64            `json:"bytes"`
	Total  cmq.QueueStats   `json:"total"`
	Queues []overviewQueue  `json:"queues"`
	Topics []cmq.TopicStats `json:"topics"`
}

func (a *admin) overview(w http.ResponseWriter, r *http.Request) {
	st := a.b.Stats()
	o := overview{Time: time.Now(), Ready: true, Status: "ready", Bytes: st.Bytes, Total: st.Total,
		Queues: make([]overviewQueue, 0, len(st.Queues)), Topics: st.Topics}
	if err := a.ready(); err != nil {
		o.Ready, o.Status = false, err.Error()
	}
	sources := map[string][]string{}
	for _, s := range st.Queues {
		if s.DeadLetterQueue != "" {
			sources[s.DeadLetterQueue] = append(sources[s.DeadLetterQueue], s.Name)
		}
	}
	for _, s := range st.Queues {
		q := overviewQueue{QueueStats: s, OldestAgeSeconds: s.OldestMessageAge.Seconds(), Sources: sources[s.Name]}
		if qq, err := a.b.Queue(s.Name); err == nil {
			if info, err := qq.Attributes(r.Context()); err == nil {
				q.VisibilityTimeout = info.VisibilityTimeout.Seconds()
				q.PollingWait = info.PollingWait.Seconds()
				q.MsgRetention = info.MsgRetention.Seconds()
				q.RewindPeriod = info.RewindPeriod.Seconds()
				q.MaxMsgHeapNum = info.MaxMsgHeapNum
				q.MaxMsgSize = info.MaxMsgSize
				q.CreateTime = info.CreateTime
				q.DeadLetterPolicy = info.DeadLetterPolicy
			}
		}
		o.Queues = append(o.Queues, q)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(o)
}

// statsCollector exports the broker's Stats, read at scrape time: nothing
// runs between scrapes.
type statsCollector struct{ a *admin }

var (
	queueLabels   = []string{"queue"}
	descMessages  = prometheus.NewDesc("cmq_queue_messages", "Messages in the queue by state: active (receivable), inactive (received, not deleted), delayed, rewound (deleted, kept for rewind).", []string{"queue", "state"}, nil)
	descOldest    = prometheus.NewDesc("cmq_queue_oldest_message_age_seconds", "Age of the oldest message not deleted; 0 when there is none.", queueLabels, nil)
	descWaiting   = prometheus.NewDesc("cmq_queue_waiting_receivers", "Receives waiting in a long poll.", queueLabels, nil)
	descBytes     = prometheus.NewDesc("cmq_queue_bytes", "Bytes the queue's retained messages count against the broker: bodies plus a fixed overhead each.", queueLabels, nil)
	descSent      = prometheus.NewDesc("cmq_queue_sent_messages_total", "Messages sent to the queue.", queueLabels, nil)
	descReceived  = prometheus.NewDesc("cmq_queue_received_messages_total", "Deliveries: a message received twice counts twice.", queueLabels, nil)
	descDeleted   = prometheus.NewDesc("cmq_queue_deleted_messages_total", "Messages deleted.", queueLabels, nil)
	descThrottled = prometheus.NewDesc("cmq_queue_throttled_calls_total", "Calls refused by the queue's QPS limit.", queueLabels, nil)
	descRefused   = prometheus.NewDesc("cmq_queue_refused_calls_total", "Other calls that reached the queue and failed: full queue, message too large, invalid receipt handle.", queueLabels, nil)
	descDLOut     = prometheus.NewDesc("cmq_queue_dead_lettered_messages_total", "Messages moved out to the queue's dead-letter queue (or dropped when it was full).", queueLabels, nil)
	descDLIn      = prometheus.NewDesc("cmq_queue_dead_letter_in_messages_total", "Messages that arrived as dead letters of the queue's sources.", queueLabels, nil)
	descQueues    = prometheus.NewDesc("cmq_queues", "Queues in the broker.", nil, nil)
	descBrokerMem = prometheus.NewDesc("cmq_broker_bytes", "Bytes all retained messages count against the broker.", nil, nil)
	descUp        = prometheus.NewDesc("cmq_broker_ready", "1 while the broker is open and its journal healthy, else 0.", nil, nil)

	topicLabels    = []string{"topic"}
	subLabels      = []string{"topic", "subscription", "protocol"}
	descTopics     = prometheus.NewDesc("cmq_topics", "Topics in the broker.", nil, nil)
	descTopicPend  = prometheus.NewDesc("cmq_topic_pending_deliveries", "Deliveries not yet made over the topic's subscriptions (its msgCount): HTTP pushes waiting for an attempt or a retry, retried queue deliveries.", topicLabels, nil)
	descTopicSubs  = prometheus.NewDesc("cmq_topic_subscriptions", "Subscriptions of the topic.", topicLabels, nil)
	descTopicPub   = prometheus.NewDesc("cmq_topic_published_messages_total", "Messages published to the topic.", topicLabels, nil)
	descTopicDel   = prometheus.NewDesc("cmq_topic_delivered_total", "Deliveries made: messages sent to a subscription's queue or pushed and answered 2xx.", topicLabels, nil)
	descTopicFail  = prometheus.NewDesc("cmq_topic_failed_attempts_total", "Delivery attempts that failed: a queue send refused, a push that failed or was answered with another status.", topicLabels, nil)
	descTopicRetry = prometheus.NewDesc("cmq_topic_retried_attempts_total", "Failed attempts rescheduled by the subscription's retry strategy.", topicLabels, nil)
	descTopicDrop  = prometheus.NewDesc("cmq_topic_dropped_deliveries_total", "Deliveries given up: retries over, or a body the endpoint queue can never take.", topicLabels, nil)
	descSubPend    = prometheus.NewDesc("cmq_subscription_pending_deliveries", "Deliveries not yet made to the subscription (its msgCount).", subLabels, nil)
	descSubDel     = prometheus.NewDesc("cmq_subscription_delivered_total", "Deliveries made to the subscription.", subLabels, nil)
	descSubFail    = prometheus.NewDesc("cmq_subscription_failed_attempts_total", "Failed delivery attempts to the subscription.", subLabels, nil)
	descSubDrop    = prometheus.NewDesc("cmq_subscription_dropped_deliveries_total", "Deliveries to the subscription given up.", subLabels, nil)
)

func (statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descOldest, descWaiting, descBytes, descSent, descReceived,
		descDeleted, descThrottled, descRefused, descDLOut, descDLIn, descQueues, descBrokerMem, descUp,
		descTopics, descTopicPend, descTopicSubs, descTopicPub, descTopicDel, descTopicFail, descTopicRetry,
		descTopicDrop, descSubPend, descSubDel, descSubFail, descSubDrop} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.a.b.Stats()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	ready := 1.0
	if c.a.health() != nil {
		ready = 0
	}
	ch <- prometheus.MustNewConstMetric(descUp, gauge, ready)
	ch <- prometheus.MustNewConstMetric(descQueues, gauge, float64(len(st.Queues)))
	ch <- prometheus.MustNewConstMetric(descBrokerMem, gauge, float64(st.Bytes))
	for _, s := range st.Queues {
		n := s.Name
		for state, v := range map[string]int{"active": s.Active, "inactive": s.Inactive, "delayed": s.Delayed, "rewound": s.Rewound} {
			ch <- prometheus.MustNewConstMetric(descMessages, gauge, float64(v), n, state)
		}
		ch <- prometheus.MustNewConstMetric(descOldest, gauge, s.OldestMessageAge.Seconds(), n)
		ch <- prometheus.MustNewConstMetric(descWaiting, gauge, float64(s.WaitingReceivers), n)
		ch <- prometheus.MustNewConstMetric(descBytes, gauge, float64(s.Bytes), n)
		ch <- prometheus.MustNewConstMetric(descSent, counter, float64(s.Sent), n)
		ch <- prometheus.MustNewConstMetric(descReceived, counter, float64(s.Received), n)
		ch <- prometheus.MustNewConstMetric(descDeleted, counter, float64(s.Deleted), n)
		ch <- prometheus.MustNewConstMetric(descThrottled, counter, float64(s.Throttled), n)
		ch <- prometheus.MustNewConstMetric(descRefused, counter, float64(s.Refused), n)
		ch <- prometheus.MustNewConstMetric(descDLOut, counter, float64(s.DeadLettered), n)
		ch <- prometheus.MustNewConstMetric(descDLIn, counter, float64(s.DeadLetterIn), n)
	}
	ch <- prometheus.MustNewConstMetric(descTopics, gauge, float64(len(st.Topics)))
	for _, t := range st.Topics {
		n := t.Name
		ch <- prometheus.MustNewConstMetric(descTopicPend, gauge, float64(t.MsgCount), n)
		ch <- prometheus.MustNewConstMetric(descTopicSubs, gauge, float64(len(t.Subscriptions)), n)
		ch <- prometheus.MustNewConstMetric(descTopicPub, counter, float64(t.Published), n)
		ch <- prometheus.MustNewConstMetric(descTopicDel, counter, float64(t.Delivered), n)
		ch <- prometheus.MustNewConstMetric(descTopicFail, counter, float64(t.Failed), n)
		ch <- prometheus.MustNewConstMetric(descTopicRetry, counter, float64(t.Retried), n)
		ch <- prometheus.MustNewConstMetric(descTopicDrop, counter, float64(t.Dropped), n)
		for _, s := range t.Subscriptions {
			l := []string{n, s.Name, string(s.Protocol)}
			ch <- prometheus.MustNewConstMetric(descSubPend, gauge, float64(s.MsgCount), l...)
			ch <- prometheus.MustNewConstMetric(descSubDel, counter, float64(s.Delivered), l...)
			ch <- prometheus.MustNewConstMetric(descSubFail, counter, float64(s.Failed), l...)
			ch <- prometheus.MustNewConstMetric(descSubDrop, counter, float64(s.Dropped), l...)
		}
	}
}

// serve starts serving the admin listener on addr. It returns the
// address it listens on and stop, which shuts the listener down (cmqd
// calls it after the API server's shutdown, so that /readyz answers 503
// while requests drain).
func (a *admin) serve(ctx context.Context, addr string, console bool) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler:           a.handler(console),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		<-done
	}
	return ln.Addr().String(), stop, nil
}
