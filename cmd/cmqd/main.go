// Command cmqd serves a CMQ broker over Tencent CMQ's legacy HTTP API
// (/v2/index.php) and TDMQ-CMQ's endpoint style (/, with QueryQueueRoute
// and QueryTopicRoute), so the official CMQ and TDMQ-CMQ SDKs work against
// it unchanged; the wire rules are package cmqhttp's.
//
// With no flags it listens on 127.0.0.1:8080, checks no signatures and
// keeps everything in memory; with -data-dir it keeps queues, topics and
// messages in a write-ahead log in that directory (see Durability in
// package cmq; -sync chooses when changes reach the disk) and recovers them
// on the next start. Run "cmqd -h" for the flags: its usage text is their
// one description.
//
// SIGINT or SIGTERM shuts down gracefully: the server stops accepting,
// long polls end at once with "no message", in-flight requests finish
// (within -shutdown-timeout), then the broker is closed.
//
// A round trip with curl, against a cmqd without credentials:
//
//	U=http://127.0.0.1:8080/v2/index.php
//	curl -s $U -d Action=CreateQueue -d queueName=orders
//	curl -s $U -d Action=SendMessage -d queueName=orders -d msgBody=hello
//	H=$(curl -s $U -d Action=ReceiveMessage -d queueName=orders -d pollingWaitSeconds=1 | sed 's/.*"receiptHandle":"\([^"]*\)".*/\1/')
//	curl -s $U -d Action=DeleteMessage -d queueName=orders -d receiptHandle=$H
//	curl -s "$U?Action=GetQueueAttributes&queueName=orders"
//
// # Hostile load
//
// cmqd stays bounded under hostile load. Connections over -max-conns (or
// -max-conns-per-ip from one address; 0 behind a reverse proxy) are closed
// as soon as accepted. A request must arrive within -read-timeout and an
// answer leave within -write-timeout, counted once the answer is ready
// (after a long poll's wait). Headers are at most -max-header-bytes, so all
// pending headers take at most -max-conns × (-max-header-bytes + 4 KiB),
// about 68 MiB by default, and a GET's query string is bounded by it too
// (large requests must use POST, as the SDKs do). Requests and answers
// over 64 KiB draw on -max-memory and get 4480 after waiting 1 s for it.
// The messages the broker keeps are bounded by -max-stored-bytes: a send
// beyond gets 4410 (module 10053) and stores nothing. The server speaks
// HTTP/1.1 only, also over TLS (-tls-cert, -tls-key), so the connection
// cap bounds the requests in flight.
//
// # Admin listener
//
// With -admin-addr (e.g. 127.0.0.1:9090) cmqd serves, apart from the CMQ
// API:
//
//	/metrics       Prometheus text format
//	/healthz       liveness: 200 "ok" while the process serves
//	/readyz        readiness: 200 while the broker is open and, with
//	               -data-dir, its journal healthy; 503 once shutdown
//	               begins (while requests drain) or after a journal failure
//	/              the read-only console, with -console
//	/api/overview  the console's JSON, with -console
//
// With -secret-id, /metrics and the console ask for HTTP basic auth with
// the SecretId as user and the SecretKey as password (Prometheus:
// basic_auth in the scrape config); /healthz and /readyz stay open for
// probes. Metrics are read from the broker's Stats at scrape time; nothing
// runs between scrapes. Counters start at zero in each process.
//
//	cmq_queue_messages{queue,state}          gauge: state active, inactive, delayed, rewound
//	cmq_queue_oldest_message_age_seconds     gauge
//	cmq_queue_waiting_receivers              gauge: receives in a long poll
//	cmq_queue_bytes                          gauge: bodies plus a fixed overhead each
//	cmq_queue_sent_messages_total            counter
//	cmq_queue_received_messages_total        counter: a redelivery counts again
//	cmq_queue_deleted_messages_total         counter
//	cmq_queue_throttled_calls_total          counter: refused by the QPS limit
//	cmq_queue_refused_calls_total            counter: other calls that reached the queue and failed
//	cmq_queue_dead_lettered_messages_total   counter: moved out to the dead-letter queue
//	cmq_queue_dead_letter_in_messages_total  counter: arrived from its sources
//	cmq_queues, cmq_topics, cmq_broker_bytes, cmq_broker_ready   gauges
//	cmq_topic_pending_deliveries{topic}, cmq_topic_subscriptions{topic}   gauges
//	cmq_topic_{published_messages,delivered,failed_attempts,retried_attempts,dropped_deliveries}_total{topic}
//	cmq_subscription_pending_deliveries{topic,subscription,protocol}      gauge
//	cmq_subscription_{delivered,failed_attempts,dropped_deliveries}_total{topic,subscription,protocol}
//	cmqd_request_duration_seconds{action,code}       histogram, long polls included
//	go_*, process_*                          the Go runtime and the process
//
// The console is one embedded page: no build step, nothing fetched from
// elsewhere. It lists the queues with their counts, counters and
// attributes, the dead-letter bindings, and the topics with their
// subscriptions (protocol, endpoint, filter, pending, delivered, failed,
// dropped), and refreshes every 3 s from /api/overview.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "cmqd:", err)
		os.Exit(1)
	}
}

// errUsage is returned by run when the command line is wrong; the problem
// and the usage text have been written to stderr.
var errUsage = errors.New("usage")

const usageHeader = `Usage: cmqd [flags]

cmqd serves a CMQ broker over Tencent CMQ's HTTP API (/v2/index.php).
With no flags it listens on 127.0.0.1:8080, checks no signatures and keeps
everything in memory; with -data-dir it keeps queues and messages in a
write-ahead log in that directory and recovers them on the next start.
Ranges are MIN:MAX or MIN:MAX:DEFAULT (durations like 30s, 12h; with
MIN:MAX the default moves into the range). SIGINT or SIGTERM shuts
down gracefully. Flags override the environment.

Flags:
`

// config is the parsed command line.
type config struct {
	addr            string
	secretID        string
	secretKey       string
	limits          cmq.Limits
	maxRequestBytes int64
	maxNonces       int
	logLevel        slog.Level
	shutdownTimeout time.Duration
	maxConns        int
	maxConnsPerIP   int
	readTimeout     time.Duration
	writeTimeout    time.Duration
	maxHeaderBytes  int
	maxMemory       int64
	maxStoredBytes  int64 // 0: a quarter of the machine's memory; -1: no budget
	tlsCert         string
	tlsKey          string
	dataDir         string
	sync            cmq.SyncPolicy
	adminAddr       string
	console         bool
}

// flagSet returns cmqd's flags, bound to c, reading the credentials'
// defaults from the environment through getenv.
func flagSet(c *config, getenv func(string) string) *flag.FlagSet {
	*c = config{limits: cmq.DefaultLimits()}
	fs := flag.NewFlagSet("cmqd", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen `address`")
	fs.StringVar(&c.secretID, "secret-id", getenv("CMQ_SECRET_ID"), "SecretId clients sign with (env CMQ_SECRET_ID); none: signatures are not checked")
	fs.StringVar(&c.secretKey, "secret-key", getenv("CMQ_SECRET_KEY"), "SecretKey for -secret-id (env CMQ_SECRET_KEY)")
	fs.IntVar(&c.limits.Queues, "max-queues", c.limits.Queues, "most queues")
	fs.IntVar(&c.limits.QPS, "qps", c.limits.QPS, "messages per second per queue for each of send, receive and delete; 0 = unlimited")
	fs.IntVar(&c.limits.MsgSize.Max, "max-msg-size", c.limits.MsgSize.Max, "largest maxMsgSize a queue may have, in `bytes` (the maximum of -msg-size; give one or the other)")
	fs.IntVar(&c.limits.BatchBytes, "batch-bytes", c.limits.BatchBytes, "most `bytes` of bodies in one batch send")
	fs.IntVar(&c.limits.BatchSize, "batch-size", c.limits.BatchSize, "most messages in one batch send, receive or delete")
	fs.IntVar(&c.limits.QueueNameLength, "queue-name-length", c.limits.QueueNameLength, "longest queue name")
	fs.IntVar(&c.limits.DeadLetterSources, "dead-letter-sources", c.limits.DeadLetterSources, "most source queues per dead-letter queue")
	l := &c.limits
	fs.Var(durationRange{&l.Delay}, "delay", "`range` of delaySeconds")
	fs.Var(intRange{&l.MsgHeapNum}, "msg-heap-num", "`range` of maxMsgHeapNum, e.g. 1:1000000000:10 for queues of 10 messages unless created with more")
	fs.Var(durationRange{&l.PollingWait}, "polling-wait", "`range` of pollingWaitSeconds, e.g. 0:5m for long polls of up to 5 minutes")
	fs.Var(durationRange{&l.VisibilityTimeout}, "visibility-timeout", "`range` of visibilityTimeout")
	fs.Var(intRange{&l.MsgSize}, "msg-size", "`range` of maxMsgSize in bytes")
	fs.Var(durationRange{&l.MsgRetention}, "msg-retention", "`range` of msgRetentionSeconds")
	fs.Var(intRange{&l.MaxReceiveCount}, "max-receive-count", "`range` of a dead-letter policy's maxReceiveCount")
	fs.Var(durationRange{&l.MaxTimeToLive}, "max-time-to-live", "`range` of a dead-letter policy's maxTimeToLive")
	fs.Var(intRange{&l.ListLimit}, "list-limit", "`range` of a list's limit")
	fs.Int64Var(&c.maxRequestBytes, "max-request-bytes", 1<<20, "largest request in `bytes`: POST body or GET query string (4000/10420 beyond)")
	fs.IntVar(&c.maxNonces, "max-nonces", 100_000, "most nonces remembered against replays, per SecretId (about 50 bytes each); a full table forgets the Timestamp second farthest from now and refuses it (4480) until it leaves the 300 s window")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error; debug logs every request")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long shutdown waits for in-flight requests")
	fs.IntVar(&c.maxConns, "max-conns", 1024, "most connections open at once; more are closed as soon as accepted; 0 = no cap")
	fs.IntVar(&c.maxConnsPerIP, "max-conns-per-ip", 128, "most connections open at once from one remote address; 0 = no cap (behind a reverse proxy)")
	fs.DurationVar(&c.readTimeout, "read-timeout", 30*time.Second, "longest time to read a whole request, headers and body (headers alone: at most 10s)")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 30*time.Second, "longest time to write one answer, counted once it is ready (after a long poll)")
	fs.IntVar(&c.maxHeaderBytes, "max-header-bytes", 64<<10, "largest request line and headers, in `bytes`; also bounds a GET's query string (larger requests must use POST); all pending headers take at most max-conns times this (+4 KiB each)")
	fs.Int64Var(&c.maxMemory, "max-memory", 256<<20, "most `bytes` that requests and answers over 64 KiB hold at once (a request twice its size, an answer its JSON); beyond, they wait 1s, then get 4480")
	fs.Int64Var(&c.maxStoredBytes, "max-stored-bytes", 0, "most `bytes` of messages the broker keeps, each counted as its body + 128; sends beyond get 4410 (module 10053); 0 = a quarter of the machine's memory (the lesser of MemTotal and the cgroup's limit: the heap may grow to twice what it holds), -1 = no budget")
	fs.StringVar(&c.dataDir, "data-dir", "", "keep queues and messages in this `directory` (a write-ahead log; one cmqd per directory); none: memory only, lost at exit")
	fs.Var(syncFlag{&c.sync}, "sync", "with -data-dir, when changes reach the disk: `always` (the default: fsync before each answer; concurrent requests share one), none (the kernel decides; survives a crash of cmqd, not of the machine) or a duration such as 10ms (a power loss loses at most that)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM), with -tls-key")
	fs.StringVar(&c.tlsKey, "tls-key", "", "private key `file` (PEM) for -tls-cert")
	fs.StringVar(&c.adminAddr, "admin-addr", "", "serve /metrics (Prometheus), /healthz and /readyz on this `address`, e.g. 127.0.0.1:9090; none: no admin listener")
	fs.BoolVar(&c.console, "console", false, "serve the read-only web console at / on -admin-addr (with -secret-id: HTTP basic auth with SecretId and SecretKey, as /metrics)")
	return fs
}

// usage writes the usage text: what "cmqd -h" prints.
func usage(w io.Writer) {
	var c config
	fs := flagSet(&c, func(string) string { return "" })
	fs.SetOutput(w)
	io.WriteString(w, usageHeader)
	fs.PrintDefaults()
}

// parseConfig reads flags from args and, for the credentials, the
// environment through getenv; flags win. Flag syntax errors are written to
// errOut.
func parseConfig(args []string, getenv func(string) string, errOut io.Writer) (config, error) {
	var c config
	fs := flagSet(&c, getenv)
	fs.SetOutput(errOut)
	fs.Usage = func() {} // run prints it where it belongs
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["max-msg-size"] && set["msg-size"] {
		return c, errors.New("give -max-msg-size or -msg-size, not both (-msg-size MIN:MAX[:DEFAULT] sets the maximum too)")
	}
	if (c.secretID == "") != (c.secretKey == "") {
		return c, errors.New("give both -secret-id and -secret-key, or neither")
	}
	if set["max-msg-size"] {
		// A smaller maximum message size also lowers the default below it.
		c.limits.MsgSize.Default = min(c.limits.MsgSize.Default, c.limits.MsgSize.Max)
	}
	if c.maxRequestBytes < 1 {
		return c, errors.New("-max-request-bytes must be positive")
	}
	if c.maxNonces < 1 {
		return c, errors.New("-max-nonces must be positive")
	}
	if c.console && c.adminAddr == "" {
		return c, errors.New("-console needs -admin-addr")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("give both -tls-cert and -tls-key, or neither")
	}
	switch {
	case c.maxConns < 0, c.maxConnsPerIP < 0:
		return c, errors.New("-max-conns and -max-conns-per-ip must not be negative")
	case c.readTimeout <= 0, c.writeTimeout <= 0:
		return c, errors.New("-read-timeout and -write-timeout must be positive")
	case c.maxHeaderBytes < 1:
		return c, errors.New("-max-header-bytes must be positive")
	case c.maxMemory < 1:
		return c, errors.New("-max-memory must be positive")
	case c.maxStoredBytes < -1:
		return c, errors.New("-max-stored-bytes must be positive, 0 (from the machine) or -1 (no budget)")
	}
	if err := c.limits.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// run is cmqd: it parses args (the environment through getenv), then
// serves until ctx is done and shuts down gracefully. "-h" prints the usage
// text to stdout and returns nil; a wrong command line prints the problem
// and the usage text to stderr and returns errUsage. Logs go to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return nil
	case err != nil:
		fmt.Fprintln(stderr, "cmqd:", err)
		usage(stderr)
		return errUsage
	}
	return serve(ctx, c, stderr, nil)
}

// serve runs the server of c until ctx is done, logging to logOut. wrap,
// when not nil, wraps the handler (tests observe requests with it).
func serve(ctx context.Context, c config, logOut io.Writer, wrap func(http.Handler) http.Handler) error {
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: c.logLevel}))
	c.limits.MemoryBytes = storedBudget(c.maxStoredBytes, machineMemory(os.ReadFile))
	opts := []cmq.Option{cmq.WithLimits(c.limits), cmq.WithLogger(log)}
	var b *cmq.Broker
	var err error
	if c.dataDir != "" {
		b, err = cmq.Open(ctx, c.dataDir, append(opts, cmq.WithSync(c.sync))...)
	} else {
		b, err = cmq.NewBroker(opts...)
	}
	if err != nil {
		return err
	}
	defer b.Close()
	hc := cmqhttp.Config{Logger: log, MaxRequestBytes: c.maxRequestBytes, MaxNonces: c.maxNonces,
		MaxMemory: c.maxMemory, WriteTimeout: c.writeTimeout}
	if c.secretID != "" {
		hc.Credentials = map[string]string{c.secretID: c.secretKey}
	}
	stopping := func() {} // readiness turns 503 when shutdown begins
	if c.adminAddr != "" {
		adm := newAdmin(b, hc.Credentials, log)
		hc.Observe = adm.observe
		addr, stopAdmin, err := adm.serve(ctx, c.adminAddr, c.console)
		if err != nil {
			return err
		}
		defer stopAdmin() // after the API server's shutdown
		stopping = func() { adm.draining.Store(true) }
		log.Info("cmqd admin listening", "admin", addr, "console", c.console)
	}
	var h http.Handler = cmqhttp.NewHandler(b, hc)
	if wrap != nil {
		h = wrap(h)
	}
	var tlsConfig *tls.Config
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	inner, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	ln := newLimitListener(inner, c.maxConns, c.maxConnsPerIP)
	// Requests run on base: cancelling it ends every long poll.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler: h,
		// The whole request, headers and body; net/http lifts the
		// deadline once the body is read (a long poll is not cut), and
		// the handler sets one for writing when the answer is ready.
		ReadTimeout:       c.readTimeout,
		ReadHeaderTimeout: min(c.readTimeout, 10*time.Second),
		MaxHeaderBytes:    c.maxHeaderBytes,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
		// HTTP/1.1 only: the connection cap then bounds the requests in
		// flight, which HTTP/2's streams would multiply. CMQ's SDKs
		// speak HTTP/1.1.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	log.Info("cmqd listening", "addr", ln.Addr().String(), "tls", tlsConfig != nil, "signatures", c.secretID != "",
		"qps", c.limits.QPS, "maxQueues", c.limits.Queues, "maxConns", c.maxConns, "maxMemory", c.maxMemory,
		"maxStoredBytes", c.limits.MemoryBytes)
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
			return
		}
		served <- srv.Serve(ln)
	}()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("cmqd shutting down")
	stopping()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.shutdownTimeout)
	defer cancel()
	// Shutdown closes the listeners, then runs cancelBase: long polls
	// return now, and Shutdown waits for their answers.
	srv.RegisterOnShutdown(cancelBase)
	err = srv.Shutdown(sctx)
	<-served // http.ErrServerClosed
	b.Close()
	if err != nil {
		log.Warn("cmqd shutdown incomplete", "err", err)
		srv.Close()
		return err
	}
	log.Info("cmqd stopped")
	return nil
}

// intRange and durationRange are flag values for a [cmq.Range]: "MIN:MAX"
// or "MIN:MAX:DEFAULT". With MIN:MAX the default is kept, moved into the
// new range if it falls outside.
type (
	intRange      struct{ r *cmq.Range[int] }
	durationRange struct{ r *cmq.Range[time.Duration] }
)

func (v intRange) String() string      { return rangeString(v.r) }
func (v durationRange) String() string { return rangeString(v.r) }
func (v intRange) Set(s string) error  { return setRange(v.r, s, strconv.Atoi) }
func (v durationRange) Set(s string) error {
	return setRange(v.r, s, time.ParseDuration)
}

func rangeString[T int | time.Duration](r *cmq.Range[T]) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("%v:%v:%v", r.Min, r.Max, r.Default)
}

func setRange[T int | time.Duration](r *cmq.Range[T], s string, parse func(string) (T, error)) error {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return errors.New("want MIN:MAX or MIN:MAX:DEFAULT")
	}
	var vals [3]T
	for i, p := range parts {
		v, err := parse(p)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	if len(parts) == 2 {
		vals[2] = min(max(r.Default, vals[0]), vals[1])
	}
	*r = cmq.Range[T]{Min: vals[0], Max: vals[1], Default: vals[2]}
	return nil
}

// storedBudget returns the broker's memory budget ([cmq.Limits].MemoryBytes)
// for -max-stored-bytes flag given a machine of mem bytes (0: unknown): the
// flag if positive, none for -1, else a quarter of the machine's memory
// (the garbage collector lets the heap grow to about twice what is live),
// or 1 GiB if that is unknown.
func storedBudget(flag, mem int64) int64 {
	switch {
	case flag > 0:
		return flag
	case flag < 0:
		return 0
	case mem > 0:
		return mem / 4
	}
	return 1 << 30
}

// machineMemory returns the bytes of memory this process may use: the
// lesser of /proc/meminfo's MemTotal and the cgroup's limit (v2
// memory.max, or v1 memory.limit_in_bytes), 0 if neither is known. read
// reads a file (os.ReadFile).
func machineMemory(read func(string) ([]byte, error)) int64 {
	var mem int64
	if b, err := read("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err == nil && kb > 0 {
					mem = kb << 10
				}
				break
			}
		}
	}
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := read(f)
		if err != nil {
			continue
		}
		// "max" (v2) or a huge number (v1) mean no limit.
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (mem == 0 || n < mem) {
			mem = n
		}
		break
	}
	return mem
}

// syncFlag is the -sync flag: a cmq.SyncPolicy.
type syncFlag struct{ p *cmq.SyncPolicy }

func (f syncFlag) String() string {
	if f.p == nil {
		return "always"
	}
	return f.p.String()
}

func (f syncFlag) Set(s string) error {
	p, err := cmq.ParseSyncPolicy(s)
	if err != nil {
		return err
	}
	*f.p = p
	return nil
}
