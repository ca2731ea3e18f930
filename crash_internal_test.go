package cmq

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash tests re-run this test binary as a child process that works on
// a durable broker and reports each acknowledgement on its standard output
// only after the call returned; the parent kills it with SIGKILL at a
// random moment, reopens the directory and checks that everything
// acknowledged is there. They wait for events (lines from the child, its
// exit), bounded in time; the child's own waits are real, since it is a
// real process that is killed.

// crashLimits lets visibility timeouts be short, so that a child sees
// received messages come back within its lifetime.
func crashLimits() Limits {
	l := DefaultLimits()
	l.VisibilityTimeout.Min = time.Millisecond
	return l
}

const (
	envCrashDir    = "CMQ_CRASH_DIR"
	envCrashSeed   = "CMQ_CRASH_SEED"
	envCrashSync   = "CMQ_CRASH_SYNC"
	envCrashPoison = "CMQ_CRASH_POISON"
)

// startChild runs the test named run as a child process with env, and
// returns it with a reader of its standard output.
func startChild(t *testing.T, run string, env ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// crashAcks is what the children of one directory acknowledged, across
// rounds.
type crashAcks struct {
	sent     map[string]string // id -> queue
	deleted  map[string]bool
	deleting map[string]bool // deletes begun: they may have happened without an acknowledgement
	received map[string]int  // id -> highest dequeue count acknowledged
	history  map[string][]string
}

func (a *crashAcks) read(t *testing.T, line string) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return // not an acknowledgement (a test framework line)
	}
	if a.history == nil {
		a.history = map[string][]string{}
	}
	a.history[f[2]] = append(a.history[f[2]], line)
	switch f[0] {
	case "S":
		if _, dup := a.sent[f[2]]; dup {
			t.Errorf("message id %s acknowledged twice for a send", f[2])
		}
		a.sent[f[2]] = f[1]
	case "D":
		a.deleted[f[2]] = true
	case "d":
		a.deleting[f[2]] = true
	case "R":
		n, _ := strconv.Atoi(f[3])
		a.received[f[2]] = max(a.received[f[2]], n)
	}
}

func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary")
	}
	rounds := 6
	if soaking() {
		rounds = 200
	}
	dir := t.TempDir()
	acks := &crashAcks{sent: map[string]string{}, deleted: map[string]bool{}, deleting: map[string]bool{}, received: map[string]int{}}
	policies := []string{"always", "none", "5ms"}
	for round := range rounds {
		policy := policies[round%len(policies)]
		cmd, out := startChild(t, "TestCrashChild",
			envCrashDir+"="+dir, envCrashSeed+"="+strconv.Itoa(round), envCrashSync+"="+policy)
		killAfter := 20 + rand.IntN(400) // acknowledgements before the kill
		sc := bufio.NewScanner(out)
		n := 0
		deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		for sc.Scan() {
			acks.read(t, sc.Text())
			if n++; n == killAfter {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		deadline.Stop()
		if n < killAfter {
			t.Fatalf("round %d: the child ended after %d acknowledgements, before the kill", round, n)
		}
		checkCrashState(t, dir, acks)
	}
}

// checkCrashState reopens dir and checks it against acks.
func checkCrashState(t *testing.T, dir string, acks *crashAcks) {
	t.Helper()
	b, err := Open(context.Background(), dir, WithLimits(crashLimits()))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer b.Close()
	type found struct {
		queue string
		m     *message
	}
	byID := map[string]found{}
	for _, name := range []string{"work", "dead", "rw"} {
		q, err := b.Queue(name)
		if err != nil {
			t.Fatalf("queue %s: %v", name, err)
		}
		now, err := q.lock()
		if err != nil {
			t.Fatal(err)
		}
		var recount [4]int // active, inactive, delayed, rewound
		for m := q.log.first(); m != nil; m = m.newer {
			id := q.messageID(m.seq)
			if m.dead != nil {
				id = m.dead.id
			}
			byID[id] = found{name, m}
			switch {
			case m.where == inNone:
				recount[3]++
			case m.visibleAt <= now:
				recount[0]++
			case m.dequeues == 0:
				recount[2]++
			default:
				recount[1]++
			}
		}
		if got := [4]int{q.active, q.inactive, q.delayed, q.rewound}; got != recount {
			t.Errorf("queue %s: counts %v, a recount says %v", name, got, recount)
		}
		q.unlock()
	}
	for id, queue := range acks.sent {
		f, ok := byID[id]
		switch {
		case acks.deleted[id] && queue == "work":
			if ok {
				t.Errorf("message %s: deleted (acknowledged), but back in %s", id, f.queue)
			}
		case acks.deleted[id]:
			// rw keeps deleted messages for rewind.
		case !ok && !acks.deleting[id]:
			t.Errorf("message %s sent to %s (acknowledged) is lost; acknowledged: %q", id, queue, acks.history[id])
		}
		if !ok || queue != "work" {
			continue
		}
		want := acks.received[id]
		got := int(f.m.dequeues)
		if f.queue == "dead" {
			got = f.m.dead.src.DequeueCount
		}
		if got < want {
			t.Errorf("message %s: dequeue count went back from %d to %d", id, want, got)
		}
	}
}

// TestCrashChild is the child of TestCrashKill9: it runs a random
// concurrent workload until it is killed, printing an acknowledgement
// after each call returns: "S queue id", "D queue id", "R queue id count";
// and "d queue id" before a delete begins.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" || os.Getenv(envCrashPoison) != "" {
		t.Skip("the child of TestCrashKill9")
	}
	seed, _ := strconv.Atoi(os.Getenv(envCrashSeed))
	policy, err := ParseSyncPolicy(os.Getenv(envCrashSync))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := Open(ctx, dir, WithLimits(crashLimits()), WithSync(policy))
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]*Queue{}
	for _, c := range []struct {
		name  string
		attrs QueueAttributes
	}{
		{"dead", QueueAttributes{}},
		{"work", QueueAttributes{VisibilityTimeout: Ptr(20 * time.Millisecond),
			DeadLetterPolicy: &DeadLetterPolicy{DeadLetterQueue: "dead", Kind: DeadLetterOnMaxReceive, MaxReceiveCount: 3}}},
		{"rw", QueueAttributes{VisibilityTimeout: Ptr(20 * time.Millisecond), RewindPeriod: Ptr(time.Hour)}},
	} {
		x, err := b.CreateQueue(ctx, c.name, c.attrs)
		if errors.Is(err, ErrQueueExists) {
			x, err = b.Queue(c.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		q[c.name] = x
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // one write(2): after the call returned
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(seed), uint64(g)))
			var handles []string
			var names []string // queue of each handle
			for i := 0; ; i++ {
				name := []string{"work", "work", "rw"}[r.IntN(3)]
				x := q[name]
				switch op := r.IntN(10); {
				case op < 3:
					id, err := x.Send(ctx, fmt.Sprintf("s%d-g%d-%d", seed, g, i), time.Duration(r.IntN(2))*time.Millisecond)
					if err == nil {
						ack("S %s %s", name, id)
					}
				case op < 4:
					bodies := []string{"b1", "b2", "b3"}
					ids, err := x.BatchSend(ctx, bodies, 0)
					if err == nil {
						for _, id := range ids {
							ack("S %s %s", name, id)
						}
					}
				case op < 7:
					ms, err := x.BatchReceive(ctx, 1+r.IntN(3), 0)
					if err == nil {
						for _, m := range ms {
							ack("R %s %s %d", name, m.ID, m.DequeueCount)
							handles = append(handles, m.ReceiptHandle)
							names = append(names, name+" "+m.ID)
						}
					}
				case op < 9 && len(handles) > 0:
					k := r.IntN(len(handles))
					qn, id, _ := strings.Cut(names[k], " ")
					ack("d %s %s", qn, id) // begun: it may take effect though the ack never comes
					if err := q[qn].Delete(ctx, handles[k]); err == nil {
						ack("D %s %s", qn, id)
					}
					handles = append(handles[:k], handles[k+1:]...)
					names = append(names[:k], names[k+1:]...)
				case op == 9 && len(handles) > 0:
					k := r.IntN(len(handles))
					qn, _, _ := strings.Cut(names[k], " ")
					q[qn].ChangeVisibility(ctx, handles[k], time.Duration(r.IntN(30))*time.Millisecond)
				default:
					q["rw"].Rewind(ctx, time.Unix(0, b.now()-int64(time.Second)))
				}
				if i%64 == 0 {
					time.Sleep(time.Millisecond) // let visibility timeouts pass now and then
				}
			}
		})
	}
	wg.Wait()
}

// TestCrashPoison: a child that kills itself right after every receive of
// one message, on a queue with maxReceiveCount 3: the message is in the
// dead-letter queue within 4 restarts.
func TestCrashPoison(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary")
	}
	dir := t.TempDir()
	for run := 1; ; run++ {
		if run > 4 {
			t.Fatal("the poison message was not dead-lettered within 4 restarts")
		}
		cmd, out := startChild(t, "TestCrashPoisonChild", envCrashDir+"="+dir, envCrashPoison+"=1")
		deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		lines, _ := io.ReadAll(out)
		cmd.Wait()
		deadline.Stop()
		if strings.Contains(string(lines), "EMPTY") {
			break
		}
		if !strings.Contains(string(lines), fmt.Sprintf("R %d", run)) {
			t.Fatalf("run %d: child said %q, want the receive count %d", run, lines, run)
		}
	}
	b, err := Open(context.Background(), dir, WithLimits(crashLimits()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d, _ := b.Queue("pd")
	m, err := d.Receive(context.Background(), 0)
	if err != nil || m.Body != "poison" || m.DeadLetter == nil || m.DeadLetter.DequeueCount != 3 {
		t.Fatalf("dead-letter queue: %+v, %v; want the poison message received 3 times", m, err)
	}
}

// TestCrashPoisonChild is the child of TestCrashPoison.
func TestCrashPoisonChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" || os.Getenv(envCrashPoison) == "" {
		t.Skip("the child of TestCrashPoison")
	}
	ctx := context.Background()
	b, err := Open(ctx, dir, WithLimits(crashLimits()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateQueue(ctx, "pd", QueueAttributes{}); err == nil {
		q, err := b.CreateQueue(ctx, "p", QueueAttributes{VisibilityTimeout: Ptr(20 * time.Millisecond),
			DeadLetterPolicy: &DeadLetterPolicy{DeadLetterQueue: "pd", Kind: DeadLetterOnMaxReceive, MaxReceiveCount: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Send(ctx, "poison", 0); err != nil {
			t.Fatal(err)
		}
	}
	q, err := b.Queue("p")
	if err != nil {
		t.Fatal(err)
	}
	m, err := q.Receive(ctx, 2*time.Second)
	if errors.Is(err, ErrNoMessage) {
		fmt.Println("EMPTY")
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("R %d\n", m.DequeueCount)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// soaking reports whether the tests run with -soak (a flag of the
// package's external tests, in the same binary).
func soaking() bool {
	f := flag.Lookup("soak")
	return f != nil && f.Value.String() != "0s"
}
