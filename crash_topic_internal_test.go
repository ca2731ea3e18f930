package cmq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashRT is a push transport made of a function.
type crashRT func(*http.Request) (*http.Response, error)

func (f crashRT) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCrashTopicKill9 kills a child that publishes to a topic with a queue
// subscription and an HTTP subscription whose receiver is down, then
// reopens the directory: every acknowledged publish must be in the queue
// exactly once, and its HTTP push, still pending, must be delivered once
// the receiver is up.
func TestCrashTopicKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary")
	}
	dir := t.TempDir()
	policies := []string{"always", "none", "5ms"}
	for round := range 3 {
		cmd, out := startChild(t, "TestCrashTopicChild",
			envCrashDir+"="+dir, envCrashSeed+"="+strconv.Itoa(round), envCrashSync+"="+policies[round])
		killAfter := 20 + rand.IntN(200)
		acked := map[string]string{} // body → publish id
		sc := bufio.NewScanner(out)
		deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "P" {
				t.Fatalf("child said %q", sc.Text())
			}
			acked[f[1]] = f[2]
			if len(acked) == killAfter {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		deadline.Stop()
		if len(acked) < killAfter {
			t.Fatalf("round %d: the child ended after %d acknowledgements, before the kill", round, len(acked))
		}
		checkCrashTopic(t, dir, round, acked)
	}
}

// checkCrashTopic reopens dir with a receiver that is up and checks the
// queue and the pushes against acked.
func checkCrashTopic(t *testing.T, dir string, round int, acked map[string]string) {
	t.Helper()
	var mu sync.Mutex
	pushed := map[string]bool{}
	all := make(chan struct{})
	closed := false
	rt := crashRT(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		pushed[r.Header.Get("x-cmq-message-id")] = true
		n := 0
		for _, id := range acked {
			if pushed[id] {
				n++
			}
		}
		if n == len(acked) && !closed {
			close(all)
			closed = true
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})
	b, err := Open(context.Background(), dir, WithLimits(crashLimits()), WithPushTransport(rt))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer b.Close()
	q, err := b.Queue("fan")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.lock(); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for m := q.log.first(); m != nil; m = m.newer {
		count[m.body]++
	}
	q.unlock()
	for body := range acked {
		if count[body] != 1 {
			t.Errorf("round %d: acknowledged publish %q is in the queue %d times, want 1", round, body, count[body])
		}
	}
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		mu.Lock()
		for body, id := range acked {
			if !pushed[id] {
				t.Errorf("round %d: the push of acknowledged publish %q (%s) was lost", round, body, id)
			}
		}
		mu.Unlock()
	}
}

// TestCrashTopicChild is the child of TestCrashTopicKill9: it publishes
// until it is killed, printing "P body id" after each publish returned.
// Its HTTP receiver is down, so every push stays pending.
func TestCrashTopicChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" || os.Getenv(envCrashPoison) != "" || os.Getenv(envCrashSync) == "" {
		t.Skip("the child of TestCrashTopicKill9")
	}
	seed, _ := strconv.Atoi(os.Getenv(envCrashSeed))
	policy, err := ParseSyncPolicy(os.Getenv(envCrashSync))
	if err != nil {
		t.Fatal(err)
	}
	down := crashRT(func(*http.Request) (*http.Response, error) { return nil, errors.New("receiver down") })
	ctx := context.Background()
	b, err := Open(ctx, dir, WithLimits(crashLimits()), WithSync(policy), WithPushTransport(down))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateQueue(ctx, "fan", QueueAttributes{}); err != nil && !errors.Is(err, ErrQueueExists) {
		t.Fatal(err)
	}
	tp, err := b.CreateTopic(ctx, "t", TopicAttributes{})
	if errors.Is(err, ErrTopicExists) {
		tp, err = b.Topic("t")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		a    SubscriptionAttributes
	}{
		{"sq", SubscriptionAttributes{Protocol: ProtocolQueue, Endpoint: "fan"}},
		{"sh", SubscriptionAttributes{Protocol: ProtocolHTTP, Endpoint: "http://receiver.test/"}},
	} {
		if _, err := tp.Subscribe(ctx, s.name, s.a); err != nil && !errors.Is(err, ErrSubscriptionExists) {
			t.Fatal(err)
		}
	}
	for i := 0; ; i++ {
		bodies := []string{fmt.Sprintf("r%d-%d", seed, i)}
		if i%3 == 0 {
			bodies = append(bodies, fmt.Sprintf("r%d-%db", seed, i))
		}
		ids, err := tp.BatchPublish(ctx, bodies, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		for k, id := range ids {
			fmt.Fprintf(os.Stdout, "P %s %s\n", bodies[k], id) // one write(2): after the publish returned
		}
	}
}
