package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/internal/benchserver"
)

// childEnv, when set, makes the test binary a server instead of running
// tests: "cmqd" runs cmqd's run with the binary's arguments, "nethttp" the
// minimal net/http server. BenchmarkProcess starts them so.
const childEnv = "CMQD_BENCH_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "cmqd", "nethttp":
		if err := child(os.Getenv(childEnv), os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown child %q\n", childEnv, os.Getenv(childEnv))
		os.Exit(2)
	}
}

// child serves until SIGTERM, SIGINT or the end of its stdin (the parent's
// end of the pipe closes when the parent exits, so a child never outlives
// it). It writes a line with addr=<listen address> to stdout when ready.
func child(kind string, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if kind == "cmqd" {
		// cmqd's logs, "cmqd listening" with addr= among them, go to
		// stdout.
		return run(ctx, args, os.Getenv, os.Stdout, os.Stdout)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: benchserver.Handler()}
	fmt.Printf("msg=\"nethttp listening\" addr=%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// proc is a child server.
type proc struct {
	addr string // host:port
	cmd  *exec.Cmd
}

// startChild re-executes the test binary as a child server of kind with
// args and returns once it has written its listen address. Cleanup kills
// it.
func startChild(b *testing.B, kind string, args ...string) *proc {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+kind)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	b.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		r.Close()
	})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		found := false
		for sc.Scan() {
			if found {
				continue // drain, so the child never blocks on a full pipe
			}
			if _, rest, ok := strings.Cut(sc.Text(), " addr="); ok {
				addr, _, _ := strings.Cut(rest, " ")
				addrc <- addr
				found = true
			}
		}
		if !found {
			close(addrc)
		}
	}()
	select {
	case addr, ok := <-addrc:
		if !ok {
			b.Fatalf("%s child exited before listening", kind)
		}
		return &proc{addr: addr, cmd: cmd}
	case <-time.After(30 * time.Second):
		b.Fatalf("%s child: no listen address within 30s", kind)
	}
	return nil
}

// cpu returns the CPU time (user + system) the child has used so far, from
// /proc/<pid>/stat (clock ticks of 10 ms, USER_HZ on Linux); ok is false
// where that file cannot be read.
func (p *proc) cpu() (time.Duration, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * 10 * time.Millisecond, true
}

const benchClients = 8

// BenchmarkProcess measures cmqd run as its own process (cmqd's run, the
// real server: listener caps, timeouts, cmqhttp's handler over a broker
// with -qps 0) against a minimal net/http server, also its own process,
// that parses the form and answers a fixed JSON of the same shape, both on
// 127.0.0.1. The benchmark process drives both with cmqclient, the same
// calls and so the same HTTP round trips: a send + receive + delete cycle
// of one message (single) or of 16 (batch16, three round trips for 16
// messages), from 1 client or from 8 goroutines sharing one client (one
// connection each), each on a queue of its own; unsigned, and signed
// (HmacSHA1; cmqd checks the signature and the nonce, the minimal server
// checks nothing). Each pair cmqd/nethttp runs next to each other so
// their ratio is of one moment.
//
// ns/rt is wall time per HTTP round trip, ns/msg per message;
// server-cpu-ns/rt is the server process's CPU time per round trip (from
// /proc, 10 ms resolution; Linux only).
//
//	go test -run '^$' -bench Process -benchmem ./cmd/cmqd
func BenchmarkProcess(b *testing.B) {
	const id, key = "AKIDbench", "benchkey"
	cmqdArgs := []string{"-addr", "127.0.0.1:0", "-qps", "0", "-max-conns-per-ip", "0"}
	servers := map[string]*proc{
		"unsigned/cmqd": startChild(b, "cmqd", cmqdArgs...),
		"signed/cmqd":   startChild(b, "cmqd", append(cmqdArgs, "-secret-id", id, "-secret-key", key)...),
		"nethttp":       startChild(b, "nethttp"),
	}
	clients := map[string]*cmqclient.Client{}
	for _, signed := range []string{"unsigned", "signed"} {
		for _, srv := range []string{"cmqd", "nethttp"} {
			p := servers[srv]
			if srv == "cmqd" {
				p = servers[signed+"/cmqd"]
			}
			// A transport of the same settings for each client.
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConns = 256
			t.MaxIdleConnsPerHost = 64
			c := cmqclient.Config{MaxAttempts: 1, HTTPClient: &http.Client{Transport: t}}
			if signed == "signed" {
				c.SecretID, c.SecretKey = id, key
			}
			cl, err := cmqclient.New("http://"+p.addr, c)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cl.CloseIdleConnections)
			clients[signed+"/"+srv] = cl
			if srv == "cmqd" {
				for i := range benchClients {
					if _, err := cl.CreateQueue(context.Background(), queueName(i), cmq.QueueAttributes{}); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	// The last (longest) run of each sub-benchmark: ns/rt and
	// server-cpu-ns/rt, for the ratios logged at the end.
	type result struct{ rt, cpu float64 }
	results := map[string]result{}
	for _, signed := range []string{"unsigned", "signed"} {
		for _, n := range []int{1, 16} {
			name := "single"
			if n > 1 {
				name = fmt.Sprintf("batch%d", n)
			}
			bodies := make([]string, n)
			for i := range bodies {
				bodies[i] = strings.Repeat("x", 100)
			}
			for _, nc := range []int{1, benchClients} {
				for _, srv := range []string{"cmqd", "nethttp"} {
					p := servers[srv]
					if srv == "cmqd" {
						p = servers[signed+"/cmqd"]
					}
					c := clients[signed+"/"+srv]
					key := fmt.Sprintf("%s/%s/clients=%d/%s", signed, name, nc, srv)
					b.Run(key, func(b *testing.B) {
						op := func(ctx context.Context, g int) error {
							if n == 1 {
								return cycle(ctx, c, queueName(g))
							}
							return batchCycle(ctx, c, queueName(g), bodies)
						}
						cpu0, cpuOK := p.cpu()
						loop(b, nc, op)
						cpu1, _ := p.cpu()
						rts := float64(b.N) * 3
						r := result{rt: float64(b.Elapsed().Nanoseconds()) / rts}
						b.ReportMetric(r.rt, "ns/rt")
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
						if cpuOK {
							r.cpu = float64((cpu1 - cpu0).Nanoseconds()) / rts
							b.ReportMetric(r.cpu, "server-cpu-ns/rt")
						}
						results[key] = r
					})
				}
			}
		}
	}
	logRatios(b, func(key string) (rt, cpu float64, ok bool) {
		r, ok := results[key]
		return r.rt, r.cpu, ok
	})
}

// logRatios prints to stdout (b.Log of a benchmark with sub-benchmarks
// shows only with -v), for each case, cmqd's time per round trip over the
// minimal server's, and for cmqd signed over unsigned: wall time, and
// (in parentheses) the server's CPU time.
func logRatios(b *testing.B, get func(key string) (rt, cpu float64, ok bool)) {
	ratio := func(num, den string) string {
		nrt, ncpu, ok1 := get(num)
		drt, dcpu, ok2 := get(den)
		if !ok1 || !ok2 || drt == 0 {
			return "   -         "
		}
		s := fmt.Sprintf("%5.2fx", nrt/drt)
		if dcpu > 0 && ncpu > 0 {
			return s + fmt.Sprintf(" (%4.2fx)", ncpu/dcpu)
		}
		return s + "        "
	}
	var sb strings.Builder
	sb.WriteString("BenchmarkProcess ratios, wall time per round trip (server CPU per round trip):\n")
	sb.WriteString("case                      cmqd/nethttp    cmqd/nethttp    cmqd signed/\n")
	sb.WriteString("                          unsigned        signed          unsigned\n")
	for _, name := range []string{"single", "batch16"} {
		for _, nc := range []int{1, benchClients} {
			c := fmt.Sprintf("%s/clients=%d", name, nc)
			fmt.Fprintf(&sb, "%-25s %-15s %-15s %s\n", c,
				ratio("unsigned/"+c+"/cmqd", "unsigned/"+c+"/nethttp"),
				ratio("signed/"+c+"/cmqd", "signed/"+c+"/nethttp"),
				ratio("signed/"+c+"/cmqd", "unsigned/"+c+"/cmqd"))
		}
	}
	fmt.Print(sb.String())
}

func queueName(i int) string { return "bench" + strconv.Itoa(i) }

// loop runs op b.N times in all, from clients goroutines (goroutine g
// passes g).
func loop(b *testing.B, clients int, op func(context.Context, int) error) {
	ctx := context.Background()
	b.ReportAllocs()
	if clients == 1 {
		for b.Loop() {
			if err := op(ctx, 0); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	for g := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := op(ctx, g); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func cycle(ctx context.Context, c *cmqclient.Client, q string) error {
	if _, err := c.SendMessage(ctx, q, "hello", 0); err != nil {
		return err
	}
	m, err := c.ReceiveMessage(ctx, q, 0)
	if err != nil {
		return err
	}
	return c.DeleteMessage(ctx, q, m.ReceiptHandle)
}

func batchCycle(ctx context.Context, c *cmqclient.Client, q string, bodies []string) error {
	if _, err := c.BatchSendMessage(ctx, q, bodies, 0); err != nil {
		return err
	}
	ms, err := c.BatchReceiveMessage(ctx, q, len(bodies), 0)
	if err != nil {
		return err
	}
	if len(ms) != len(bodies) {
		return fmt.Errorf("received %d messages of %d", len(ms), len(bodies))
	}
	hs := make([]string, len(ms))
	for i, m := range ms {
		hs[i] = m.ReceiptHandle
	}
	_, err = c.BatchDeleteMessage(ctx, q, hs)
	return err
}
