package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/internal/cmqsigtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	def := cmq.DefaultLimits()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	noEnv := env(nil)
	tests := []struct {
		name    string
		args    []string
		getenv  func(string) string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{"defaults", nil, noEnv, func(t *testing.T, c config) {
			assert.Equal(t, config{addr: "127.0.0.1:8080", limits: def, maxRequestBytes: 1 << 20, maxNonces: 100_000,
				logLevel: slog.LevelInfo, shutdownTimeout: 10 * time.Second, maxConns: 1024, maxConnsPerIP: 128,
				readTimeout: 30 * time.Second, writeTimeout: 30 * time.Second, maxHeaderBytes: 64 << 10, maxMemory: 256 << 20}, c)
		}, ""},
		{"flags", []string{"-addr", "127.0.0.1:0", "-secret-id", "AKIDa", "-secret-key", "k", "-max-queues", "5",
			"-qps", "0", "-max-msg-size", "2048", "-batch-bytes", "4096", "-max-request-bytes", "9999",
			"-log-level", "debug", "-shutdown-timeout", "3s", "-max-nonces", "77", "-max-conns", "10", "-max-conns-per-ip", "0",
			"-read-timeout", "5s", "-write-timeout", "6s", "-max-header-bytes", "4096", "-max-memory", "1000000",
			"-tls-cert", "c.pem", "-tls-key", "k.pem"}, noEnv, func(t *testing.T, c config) {
			want := def
			want.Queues, want.QPS, want.BatchBytes = 5, 0, 4096
			want.MsgSize.Max, want.MsgSize.Default = 2048, 2048
			assert.Equal(t, config{addr: "127.0.0.1:0", secretID: "AKIDa", secretKey: "k", limits: want,
				maxRequestBytes: 9999, maxNonces: 77, logLevel: slog.LevelDebug, shutdownTimeout: 3 * time.Second,
				maxConns: 10, maxConnsPerIP: 0, readTimeout: 5 * time.Second, writeTimeout: 6 * time.Second,
				maxHeaderBytes: 4096, maxMemory: 1_000_000, tlsCert: "c.pem", tlsKey: "k.pem"}, c)
		}, ""},
		{"every limit", []string{"-batch-size", "32", "-queue-name-length", "10", "-dead-letter-sources", "2",
			"-delay", "0s:2h", "-msg-heap-num", "1:1000000000:10", "-polling-wait", "0:5m:1s",
			"-visibility-timeout", "1ms:1h:2s", "-msg-size", "1:100", "-msg-retention", "1s:48h",
			"-max-receive-count", "1:5", "-max-time-to-live", "1s:1h", "-list-limit", "1:500:100"}, noEnv, func(t *testing.T, c config) {
			want := def
			want.BatchSize, want.QueueNameLength, want.DeadLetterSources = 32, 10, 2
			want.Delay = cmq.Range[time.Duration]{Min: 0, Max: 2 * time.Hour}
			want.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1_000_000_000, Default: 10}
			want.PollingWait = cmq.Range[time.Duration]{Min: 0, Max: 5 * time.Minute, Default: time.Second}
			want.VisibilityTimeout = cmq.Range[time.Duration]{Min: time.Millisecond, Max: time.Hour, Default: 2 * time.Second}
			want.MsgSize = cmq.Range[int]{Min: 1, Max: 100, Default: 100} // the default moves into the range
			want.MsgRetention = cmq.Range[time.Duration]{Min: time.Second, Max: 48 * time.Hour, Default: 48 * time.Hour}
			want.MaxReceiveCount = cmq.Range[int]{Min: 1, Max: 5, Default: 1}
			want.MaxTimeToLive = cmq.Range[time.Duration]{Min: time.Second, Max: time.Hour, Default: 300 * time.Second}
			want.ListLimit = cmq.Range[int]{Min: 1, Max: 500, Default: 100}
			assert.Equal(t, want, c.limits)
		}, ""},
		{"range with one part", []string{"-delay", "5s"}, noEnv, nil, `invalid value "5s" for flag -delay: want MIN:MAX or MIN:MAX:DEFAULT`},
		{"range with four parts", []string{"-list-limit", "1:2:3:4"}, noEnv, nil, "want MIN:MAX or MIN:MAX:DEFAULT"},
		{"range not a number", []string{"-msg-heap-num", "1:x"}, noEnv, nil, `invalid value "1:x" for flag -msg-heap-num`},
		{"range not a duration", []string{"-polling-wait", "0:30"}, noEnv, nil, `invalid value "0:30" for flag -polling-wait`},
		{"range reversed", []string{"-msg-retention", "2h:1h"}, noEnv, nil, "cmq: invalid Limits.MsgRetention"},
		{"default outside", []string{"-list-limit", "1:10:11"}, noEnv, nil, "cmq: invalid Limits.ListLimit"},
		{"zero batch size", []string{"-batch-size", "0"}, noEnv, nil, "cmq: invalid Limits.BatchSize"},
		{"zero nonces", []string{"-max-nonces", "0"}, noEnv, nil, "-max-nonces must be positive"},
		{"credentials from env", nil, env(map[string]string{"CMQ_SECRET_ID": "AKIDenv", "CMQ_SECRET_KEY": "envkey"}),
			func(t *testing.T, c config) {
				assert.Equal(t, "AKIDenv", c.secretID)
				assert.Equal(t, "envkey", c.secretKey)
			}, ""},
		{"flags override env", []string{"-secret-key", "flagkey"}, env(map[string]string{"CMQ_SECRET_ID": "AKIDenv", "CMQ_SECRET_KEY": "envkey"}),
			func(t *testing.T, c config) {
				assert.Equal(t, "AKIDenv", c.secretID)
				assert.Equal(t, "flagkey", c.secretKey)
			}, ""},
		{"max-msg-size above default keeps the default", []string{"-max-msg-size", "100000"}, noEnv, func(t *testing.T, c config) {
			assert.Equal(t, cmq.Range[int]{Min: 1024, Max: 100000, Default: 65536}, c.limits.MsgSize)
		}, ""},
		{"max-msg-size and msg-size", []string{"-max-msg-size", "2048", "-msg-size", "1:100"}, noEnv, nil,
			"give -max-msg-size or -msg-size, not both"},
		{"msg-size and max-msg-size", []string{"-msg-size", "1:100", "-max-msg-size", "2048"}, noEnv, nil,
			"give -max-msg-size or -msg-size, not both"},
		{"cert without key", []string{"-tls-cert", "c.pem"}, noEnv, nil, "give both -tls-cert and -tls-key, or neither"},
		{"negative conns", []string{"-max-conns", "-1"}, noEnv, nil, "must not be negative"},
		{"zero read timeout", []string{"-read-timeout", "0s"}, noEnv, nil, "-read-timeout and -write-timeout must be positive"},
		{"zero memory", []string{"-max-memory", "0"}, noEnv, nil, "-max-memory must be positive"},
		{"stored bytes", []string{"-max-stored-bytes", "12345"}, noEnv, func(t *testing.T, c config) {
			assert.Equal(t, int64(12345), c.maxStoredBytes)
		}, ""},
		{"no stored budget", []string{"-max-stored-bytes", "-1"}, noEnv, func(t *testing.T, c config) {
			assert.Equal(t, int64(-1), c.maxStoredBytes)
		}, ""},
		{"negative stored bytes", []string{"-max-stored-bytes", "-2"}, noEnv, nil, "-max-stored-bytes must be positive, 0"},
		{"id without key", []string{"-secret-id", "AKIDa"}, noEnv, nil, "give both -secret-id and -secret-key, or neither"},
		{"key without id from env", nil, env(map[string]string{"CMQ_SECRET_KEY": "k"}), nil, "give both"},
		{"negative qps", []string{"-qps", "-1"}, noEnv, nil, "cmq: invalid Limits.QPS"},
		{"zero queues", []string{"-max-queues", "0"}, noEnv, nil, "cmq: invalid Limits.Queues"},
		{"max-msg-size below its minimum", []string{"-max-msg-size", "1000"}, noEnv, nil, "cmq: invalid Limits.MsgSize"},
		{"zero batch bytes", []string{"-batch-bytes", "0"}, noEnv, nil, "cmq: invalid Limits.BatchBytes"},
		{"zero request bytes", []string{"-max-request-bytes", "0"}, noEnv, nil, "-max-request-bytes must be positive"},
		{"bad log level", []string{"-log-level", "loud"}, noEnv, nil, `invalid value "loud" for flag -log-level`},
		{"not a number", []string{"-qps", "many"}, noEnv, nil, `invalid value "many" for flag -qps`},
		{"unknown flag", []string{"-port", "1"}, noEnv, nil, "flag provided but not defined: -port"},
		{"argument", []string{"serve"}, noEnv, nil, `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			c, err := parseConfig(tt.args, tt.getenv, &out)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Empty(t, out.String())
			tt.check(t, c)
		})
	}
}

// -h prints the usage text to stdout and succeeds; a wrong command line
// prints the problem and the usage text to stderr and fails.
func TestRunUsage(t *testing.T) {
	noEnv := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"-h"}, noEnv, &stdout, &stderr))
	assert.Empty(t, stderr.String())
	assert.True(t, strings.HasPrefix(stdout.String(), "Usage: cmqd [flags]\n"), stdout.String())
	var c config
	flagSet(&c, noEnv).VisitAll(func(f *flag.Flag) {
		assert.Regexp(t, `\n  -`+f.Name+`[ \n]`, stdout.String(), "flag %s is in the usage text", f.Name)
	})

	stdout.Reset()
	err := run(t.Context(), []string{"-port", "1"}, noEnv, &stdout, &stderr)
	require.ErrorIs(t, err, errUsage)
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "flag provided but not defined: -port")
	assert.Contains(t, stderr.String(), "Usage: cmqd [flags]")
}

// The README shows the output of "cmqd -h" as it is, between the markers
// <!-- cmqd -h --> and <!-- end cmqd -h -->.
func TestREADMEUsage(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- cmqd -h -->\n```text\n(.*?)```\n<!-- end cmqd -h -->").FindSubmatch(readme)
	require.NotNil(t, m, "README.md has no cmqd -h block")
	var out bytes.Buffer
	usage(&out)
	assert.Equal(t, "$ cmqd -h\n"+out.String(), string(m[1]), "README.md's cmqd -h block is stale: paste the output of go run ./cmd/cmqd -h")
}

func TestRunListenError(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"-addr", "127.0.0.1:-1"}, func(string) string { return "" }, &out, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen tcp")
}

// logSink collects cmqd's log output and reports the address it listens on.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addr  chan string
	found bool
}

var addrRE = regexp.MustCompile(`msg="cmqd listening" addr=(\S+)`)

func newLogSink() *logSink { return &logSink{addr: make(chan string, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if m := addrRE.FindSubmatch(s.buf.Bytes()); m != nil && !s.found {
		s.found = true
		s.addr <- string(m[1])
	}
	return len(p), nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// start runs cmqd with args and env on 127.0.0.1:0; it returns the base URL
// and a function that stops it and returns run's error.
func start(t *testing.T, args []string, env map[string]string) (string, *logSink, func() error) {
	t.Helper()
	return startWith(t, func(ctx context.Context, logs io.Writer) error {
		return run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, io.Discard, logs)
	})
}

// startServe is start with the handler wrapped by wrap.
func startServe(t *testing.T, args []string, wrap func(http.Handler) http.Handler) (string, *logSink, func() error) {
	t.Helper()
	c, err := parseConfig(append([]string{"-addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	return startWith(t, func(ctx context.Context, logs io.Writer) error { return serve(ctx, c, logs, wrap) })
}

// startWith runs serve until the returned stop is called, and returns the
// address it listens on, read from its log.
func startWith(t *testing.T, serve func(ctx context.Context, logs io.Writer) error) (string, *logSink, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	sink := newLogSink()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, sink) }()
	var addr string
	select {
	case addr = <-sink.addr:
	case err := <-done:
		cancel()
		t.Fatalf("run returned early: %v", err)
	}
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return "http://" + addr, sink, stop
}

// call sends a signed (when id is set) POST without Content-Type, as the
// Python SDK does, and decodes the answer.
func call(t *testing.T, ctx context.Context, base, id, key string, kv ...string) map[string]any {
	t.Helper()
	vals := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		vals[kv[i]] = kv[i+1]
	}
	if id != "" {
		vals["SecretId"] = id
		vals["Timestamp"] = strconv.FormatInt(time.Now().Unix(), 10)
		vals["Nonce"] = strconv.FormatUint(nonce.Add(1), 10)
		vals["Signature"] = cmqsigtest.Sign("POST", strings.TrimPrefix(base, "http://"), vals, key, "")
	}
	form := url.Values{}
	for k, v := range vals {
		form.Set(k, v)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v2/index.php", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var r map[string]any
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	return r
}

var nonce atomic.Uint64

func code(r map[string]any) int { return int(r["code"].(float64)) }

// A full round trip through run(): credentials from the environment, a
// signed create, send, receive and delete over a real connection, a
// refused unsigned request, then a graceful stop.
func TestRunRoundTrip(t *testing.T) {
	base, logs, stop := start(t, []string{"-log-level", "debug"},
		map[string]string{"CMQ_SECRET_ID": "AKIDrun", "CMQ_SECRET_KEY": "runkey"})
	ctx := t.Context()
	id, key := "AKIDrun", "runkey"

	r := call(t, ctx, base, id, key, "Action", "CreateQueue", "queueName", "jobs")
	require.Equal(t, 0, code(r), r)
	r = call(t, ctx, base, id, key, "Action", "SendMessage", "queueName", "jobs", "msgBody", "job #1")
	require.Equal(t, 0, code(r), r)
	msgID := r["msgId"]
	r = call(t, ctx, base, id, key, "Action", "ReceiveMessage", "queueName", "jobs", "pollingWaitSeconds", "1")
	require.Equal(t, 0, code(r), r)
	assert.Equal(t, "job #1", r["msgBody"])
	assert.Equal(t, msgID, r["msgId"])
	r = call(t, ctx, base, id, key, "Action", "DeleteMessage", "queueName", "jobs", "receiptHandle", r["receiptHandle"].(string))
	require.Equal(t, 0, code(r), r)
	r = call(t, ctx, base, id, key, "Action", "GetQueueAttributes", "queueName", "jobs")
	require.Equal(t, 0, code(r), r)
	assert.Equal(t, []any{0.0, 0.0, 0.0}, []any{r["activeMsgNum"], r["inactiveMsgNum"], r["minMsgTime"]})

	r = call(t, ctx, base, "", "", "Action", "ListQueue")
	assert.Equal(t, 4000, code(r))
	assert.Equal(t, "(10390)lacked of required parameter SecretId", r["message"])
	r = call(t, ctx, base, id, "wrong", "Action", "ListQueue")
	assert.Equal(t, 4100, code(r))
	assert.Equal(t, "(10030)authentication failed", r["message"])

	require.NoError(t, stop())
	out := logs.String()
	assert.Contains(t, out, `level=INFO msg="cmqd listening"`)
	assert.Contains(t, out, "signatures=true")
	assert.Contains(t, out, "level=DEBUG msg=request")
	assert.Contains(t, out, "action=SendMessage code=0")
	assert.Contains(t, out, `reason="signature mismatch"`)
	assert.Contains(t, out, `level=INFO msg="cmqd shutting down"`)
	assert.Contains(t, out, `level=INFO msg="cmqd stopped"`)
	assert.NotContains(t, out, "runkey", "the secret key is never logged")
}

// With no flags cmqd checks no signatures; at the default log level it
// logs no requests.
func TestRunUnsigned(t *testing.T) {
	base, logs, stop := start(t, nil, nil)
	r := call(t, t.Context(), base, "", "", "Action", "CreateQueue", "queueName", "q")
	require.Equal(t, 0, code(r), r)
	r = call(t, t.Context(), base, "", "", "Action", "ListQueue")
	require.Equal(t, 0, code(r), r)
	assert.Equal(t, 1.0, r["totalCount"])
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "signatures=false")
	assert.NotContains(t, logs.String(), "msg=request")
}

// Shutdown ends a long poll at once with "no message" and returns nil.
func TestRunShutdownEndsLongPoll(t *testing.T) {
	entered := make(chan struct{}, 8)
	base, _, stop := startServe(t, []string{"-shutdown-timeout", "20s"}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			h.ServeHTTP(w, r)
		})
	})
	r := call(t, t.Context(), base, "", "", "Action", "CreateQueue", "queueName", "q")
	require.Equal(t, 0, code(r), r)
	<-entered

	got := make(chan map[string]any, 1)
	go func() {
		got <- call(t, t.Context(), base, "", "", "Action", "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "30")
	}()
	<-entered
	begin := time.Now()
	require.NoError(t, stop())
	r = <-got
	assert.Equal(t, 7000, code(r), r)
	assert.Equal(t, "(10200)no message", r["message"])
	assert.Less(t, time.Since(begin), 10*time.Second, "shutdown did not wait for the 30 s poll")
}

// A GET is bounded by -max-header-bytes (net/http answers HTTP 431 beyond
// it), then by -max-request-bytes (the handler answers 4000/10420).
func TestRunLargeGET(t *testing.T) {
	get := func(t *testing.T, base string, size int) (int, map[string]any) {
		q := "Action=ListQueue&x=" + strings.Repeat("a", size-len("Action=ListQueue&x="))
		req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/v2/index.php?"+q, nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil // refused while the request was still being sent
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return res.StatusCode, nil
		}
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		var r map[string]any
		require.NoError(t, json.Unmarshal(body, &r))
		return res.StatusCode, r
	}
	t.Run("default header limit", func(t *testing.T) {
		base, _, _ := start(t, nil, nil)
		st, r := get(t, base, 60_000)
		require.NotNil(t, r)
		require.Equal(t, http.StatusOK, st)
		assert.Equal(t, 0, code(r), r)
		st, _ = get(t, base, 140_000)
		assert.Contains(t, []int{0, http.StatusRequestHeaderFieldsTooLarge}, st, "refused by net/http")
	})
	t.Run("raised header limit", func(t *testing.T) {
		base, _, _ := start(t, []string{"-max-request-bytes", "2000000", "-max-header-bytes", "2100000"}, nil)
		for _, tt := range []struct {
			size int
			code int
		}{{1_500_000, 0}, {2_000_001, 4000}} {
			st, r := get(t, base, tt.size)
			require.Equal(t, http.StatusOK, st)
			assert.Equal(t, tt.code, code(r), r)
			if tt.code != 0 {
				assert.Equal(t, "(10420)cannot parse request, or request size is more than 2000000 bytes", r["message"])
			}
		}
	})
}

func TestStoredBudget(t *testing.T) {
	tests := []struct {
		name      string
		flag, mem int64
		want      int64
	}{
		{"flag", 1000, 8 << 30, 1000},
		{"no budget", -1, 8 << 30, 0},
		{"from the machine", 0, 8 << 30, 2 << 30},
		{"machine unknown", 0, 0, 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, storedBudget(tt.flag, tt.mem))
		})
	}
}

func TestMachineMemory(t *testing.T) {
	const meminfo = "MemFree:         1000 kB\nMemTotal:       8388608 kB\nSwapTotal: 0 kB\n"
	tests := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"meminfo only", map[string]string{"/proc/meminfo": meminfo}, 8 << 30},
		{"cgroup v2 lower", map[string]string{"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory.max": "1073741824\n"}, 1 << 30},
		{"cgroup v2 unlimited", map[string]string{"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory.max": "max\n"}, 8 << 30},
		{"cgroup v1 lower", map[string]string{"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n"}, 512 << 20},
		{"cgroup v1 unlimited", map[string]string{"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 8 << 30},
		{"cgroup only", map[string]string{"/sys/fs/cgroup/memory.max": "1073741824"}, 1 << 30},
		{"garbage", map[string]string{"/proc/meminfo": "MemTotal: lots", "/sys/fs/cgroup/memory.max": "-5"}, 0},
		{"nothing", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func(name string) ([]byte, error) {
				if v, ok := tt.files[name]; ok {
					return []byte(v), nil
				}
				return nil, os.ErrNotExist
			}
			assert.Equal(t, tt.want, machineMemory(read))
		})
	}
	assert.Positive(t, machineMemory(os.ReadFile), "this machine's memory is known")
}

// cmqd applies -max-stored-bytes (1300: two messages of 500 + 128): a
// send beyond it gets 4410 from module 10053, and the log states the
// budget.
func TestRunStoredBudget(t *testing.T) {
	base, logs, stop := start(t, []string{"-max-stored-bytes", "1300"}, nil)
	ctx := t.Context()
	require.Equal(t, 0, code(call(t, ctx, base, "", "", "Action", "CreateQueue", "queueName", "q")))
	body := strings.Repeat("m", 500)
	for range 2 {
		require.Equal(t, 0, code(call(t, ctx, base, "", "", "Action", "SendMessage", "queueName", "q", "msgBody", body)))
	}
	r := call(t, ctx, base, "", "", "Action", "SendMessage", "queueName", "q", "msgBody", body)
	assert.Equal(t, 4410, code(r), r)
	assert.Contains(t, r["message"], "(10053)")
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "maxStoredBytes=1300")
}

// With -data-dir, queues and messages outlive cmqd: a message sent, and a
// lease taken, before a shutdown are there after a restart, with the same
// id and receipt handle; a second cmqd on the same directory is refused.
func TestRunDataDir(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	args := []string{"-data-dir", dir, "-sync", "always"}
	base, _, stop := start(t, args, nil)
	r := call(t, ctx, base, "", "", "Action", "CreateQueue", "queueName", "jobs", "visibilityTimeout", "3600")
	require.Equal(t, 0, code(r), r)
	r = call(t, ctx, base, "", "", "Action", "SendMessage", "queueName", "jobs", "msgBody", "leased")
	require.Equal(t, 0, code(r), r)
	r = call(t, ctx, base, "", "", "Action", "SendMessage", "queueName", "jobs", "msgBody", "kept")
	require.Equal(t, 0, code(r), r)
	r = call(t, ctx, base, "", "", "Action", "ReceiveMessage", "queueName", "jobs")
	require.Equal(t, 0, code(r), r)
	require.Equal(t, "leased", r["msgBody"])
	handle := r["receiptHandle"].(string)

	err := run(ctx, []string{"-addr", "127.0.0.1:0", "-data-dir", dir}, func(string) string { return "" }, io.Discard, io.Discard)
	require.Error(t, err, "a second cmqd on the same directory")
	assert.Contains(t, err.Error(), "lock")
	require.NoError(t, stop())

	base, _, _ = start(t, args, nil)
	r = call(t, ctx, base, "", "", "Action", "GetQueueAttributes", "queueName", "jobs")
	require.Equal(t, 0, code(r), r)
	assert.Equal(t, []any{1.0, 1.0}, []any{r["activeMsgNum"], r["inactiveMsgNum"]})
	r = call(t, ctx, base, "", "", "Action", "ReceiveMessage", "queueName", "jobs")
	require.Equal(t, 0, code(r), r)
	assert.Equal(t, "kept", r["msgBody"], "the message leased before the restart is still invisible")
	r = call(t, ctx, base, "", "", "Action", "DeleteMessage", "queueName", "jobs", "receiptHandle", handle)
	assert.Equal(t, 0, code(r), "the handle of a lease taken before the restart still works: %v", r)
}
