// Command cmqd serves an in-process CMQ broker over Tencent CMQ's legacy
// HTTP API (/v2/index.php) and TDMQ-CMQ's endpoint style (/, with
// QueryQueueRoute and QueryTopicRoute), so the official CMQ and TDMQ-CMQ
// SDKs work against it.
//
// Usage:
//
//	cmqd [flags]
//
// With no flags it listens on 127.0.0.1:8080 and checks no signatures.
// Flags:
//
//	-addr string           listen address (default "127.0.0.1:8080")
//	-secret-id string      SecretId clients sign with (env CMQ_SECRET_ID)
//	-secret-key string     SecretKey for -secret-id (env CMQ_SECRET_KEY)
//	-max-queues int        most queues (default 1000)
//	-qps int               messages per second per queue for each of send,
//	                       receive and delete; 0 = unlimited (default 5000)
//	-max-msg-size int      largest maxMsgSize a queue may have, in bytes
//	                       (default 1048576)
//	-batch-bytes int       most bytes of bodies in one batch send
//	                       (default 1048576)
//	-max-request-bytes int largest request (default 1048576)
//	-max-nonces int        most nonces remembered against replays; when full,
//	                       signed requests get 4480 (default 1000000)
//	-batch-size int        most messages in one batch (default 16)
//	-queue-name-length int longest queue name (default 64)
//	-dead-letter-sources int  most source queues per dead-letter queue (default 6)
//
// Every range of the broker's limits has a flag too, "MIN:MAX" or
// "MIN:MAX:DEFAULT" (durations in Go's syntax, such as 30s or 12h):
//
//	-delay, -msg-heap-num, -polling-wait, -visibility-timeout, -msg-size,
//	-msg-retention, -max-receive-count, -max-time-to-live, -list-limit
//
// for example -msg-heap-num 1:1000000000:10 for queues that hold 10
// messages unless created with more, or -polling-wait 0:5m to allow long
// polls of up to 5 minutes. -max-msg-size N is -msg-size with only the
// maximum changed.
//
//	-log-level string      debug, info, warn or error (default "info"); debug
//	                       logs one line per request
//	-shutdown-timeout duration  how long shutdown waits for requests (default 10s)
//
// A GET whose request line and headers exceed -max-request-bytes plus 64 KiB
// is refused by net/http itself (HTTP 431, not a CMQ answer); the SDKs send
// such requests as POST. Flags override the environment. SIGINT or SIGTERM shuts down gracefully:
// the server stops accepting, long polls end at once with "no message",
// in-flight requests finish, then the broker is closed. Messages live in
// memory only.
package main

import (
	"context"
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
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "cmqd:", err)
		os.Exit(1)
	}
}

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
}

// parseConfig reads flags from args and, for the credentials, the
// environment through getenv; flags win.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	c := config{limits: cmq.DefaultLimits()}
	fs := flag.NewFlagSet("cmqd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.secretID, "secret-id", getenv("CMQ_SECRET_ID"), "SecretId clients sign with (env CMQ_SECRET_ID); none: signatures are not checked")
	fs.StringVar(&c.secretKey, "secret-key", getenv("CMQ_SECRET_KEY"), "SecretKey for -secret-id (env CMQ_SECRET_KEY)")
	fs.IntVar(&c.limits.Queues, "max-queues", c.limits.Queues, "most queues")
	fs.IntVar(&c.limits.QPS, "qps", c.limits.QPS, "messages per second per queue for each of send, receive and delete; 0 = unlimited")
	fs.IntVar(&c.limits.MsgSize.Max, "max-msg-size", c.limits.MsgSize.Max, "largest maxMsgSize a queue may have, in bytes")
	fs.IntVar(&c.limits.BatchBytes, "batch-bytes", c.limits.BatchBytes, "most bytes of bodies in one batch send")
	fs.IntVar(&c.limits.BatchSize, "batch-size", c.limits.BatchSize, "most messages in one batch send, receive or delete")
	fs.IntVar(&c.limits.QueueNameLength, "queue-name-length", c.limits.QueueNameLength, "longest queue name")
	fs.IntVar(&c.limits.DeadLetterSources, "dead-letter-sources", c.limits.DeadLetterSources, "most source queues per dead-letter queue")
	l := &c.limits
	fs.Var(durationRange{&l.Delay}, "delay", "range of delaySeconds, MIN:MAX[:DEFAULT]")
	fs.Var(intRange{&l.MsgHeapNum}, "msg-heap-num", "range of maxMsgHeapNum, MIN:MAX[:DEFAULT]")
	fs.Var(durationRange{&l.PollingWait}, "polling-wait", "range of pollingWaitSeconds, MIN:MAX[:DEFAULT]")
	fs.Var(durationRange{&l.VisibilityTimeout}, "visibility-timeout", "range of visibilityTimeout, MIN:MAX[:DEFAULT]")
	fs.Var(intRange{&l.MsgSize}, "msg-size", "range of maxMsgSize in bytes, MIN:MAX[:DEFAULT]")
	fs.Var(durationRange{&l.MsgRetention}, "msg-retention", "range of msgRetentionSeconds, MIN:MAX[:DEFAULT]")
	fs.Var(intRange{&l.MaxReceiveCount}, "max-receive-count", "range of a dead-letter policy's maxReceiveCount, MIN:MAX")
	fs.Var(durationRange{&l.MaxTimeToLive}, "max-time-to-live", "range of a dead-letter policy's maxTimeToLive, MIN:MAX")
	fs.Var(intRange{&l.ListLimit}, "list-limit", "range of a list's limit, MIN:MAX[:DEFAULT]")
	fs.Int64Var(&c.maxRequestBytes, "max-request-bytes", 1<<20, "largest request: POST body or GET query string")
	fs.IntVar(&c.maxNonces, "max-nonces", 1_000_000, "most nonces remembered against replays (a 300 s window); when full, signed requests get 4480")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error; debug logs every request")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long shutdown waits for in-flight requests")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (c.secretID == "") != (c.secretKey == "") {
		return c, errors.New("give both -secret-id and -secret-key, or neither")
	}
	// A smaller maximum message size also lowers the default below it.
	c.limits.MsgSize.Default = min(c.limits.MsgSize.Default, c.limits.MsgSize.Max)
	if c.maxRequestBytes < 1 {
		return c, errors.New("-max-request-bytes must be positive")
	}
	if c.maxNonces < 1 {
		return c, errors.New("-max-nonces must be positive")
	}
	if err := c.limits.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// wrapHandler lets tests observe requests; it is the identity otherwise.
var wrapHandler = func(h http.Handler) http.Handler { return h }

// run serves until ctx is done, then shuts down gracefully. Logs go to
// stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: c.logLevel}))
	b, err := cmq.NewBroker(cmq.WithLimits(c.limits), cmq.WithLogger(log))
	if err != nil {
		return err
	}
	defer b.Close()
	hc := cmqhttp.Config{Logger: log, MaxRequestBytes: c.maxRequestBytes, MaxNonces: c.maxNonces}
	if c.secretID != "" {
		hc.Credentials = map[string]string{c.secretID: c.secretKey}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	// Requests run on base: cancelling it ends every long poll.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           wrapHandler(cmqhttp.NewHandler(b, hc)),
		ReadHeaderTimeout: 10 * time.Second,
		// Room for a GET whose query string is at the request limit, so
		// that the handler, not net/http, answers one over it (10420).
		MaxHeaderBytes: int(min(c.maxRequestBytes, 1<<30)) + 64<<10,
		IdleTimeout:    2 * time.Minute,
		BaseContext:    func(net.Listener) context.Context { return base },
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("cmqd listening", "addr", ln.Addr().String(), "signatures", c.secretID != "",
		"qps", c.limits.QPS, "maxQueues", c.limits.Queues)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("cmqd shutting down")
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
