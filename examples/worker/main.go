// Command worker runs a small job queue with package worker: a producer
// sends jobs, four handlers long-poll for them in batches, and each job is
// deleted once its handler returns nil. One job fails on its first try and
// comes back after a short retry delay; one handler panics and the worker
// recovers; one job is slow and keeps its lease while it runs, though the
// queue's visibility timeout is one second. Runs in about two seconds.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/worker"
)

const jobs = 12

func main() {
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	svc := b.Service() // in-process; a remote client works the same way
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A one-second visibility timeout: the slow job needs its lease renewed.
	if _, err := svc.CreateQueue(ctx, "jobs", cmq.QueueAttributes{
		VisibilityTimeout: cmq.Ptr(1 * time.Second),
		PollingWait:       cmq.Ptr(5 * time.Second),
	}); err != nil {
		log.Fatal(err)
	}
	bodies := make([]string, jobs)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("job-%02d", i)
	}
	if _, err := svc.BatchSendMessage(ctx, "jobs", bodies, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("producer: sent %d jobs\n", jobs)

	var (
		mu   sync.Mutex
		done = map[string]int{} // job -> delivery that finished it
	)
	handler := func(ctx context.Context, m cmq.Message) error {
		switch {
		case m.Body == "job-03" && m.DequeueCount == 1:
			return errors.New("database unavailable")
		case m.Body == "job-07" && m.DequeueCount == 1:
			panic("nil map")
		case m.Body == "job-11":
			time.Sleep(1500 * time.Millisecond) // longer than the visibility timeout
		default:
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		done[m.Body] = m.DequeueCount
		if len(done) == jobs {
			cancel() // every job done: stop the worker
		}
		return nil
	}
	err = worker.Run(ctx, svc, "jobs", handler, worker.Options{
		Concurrency: 4,
		RetryDelay:  200 * time.Millisecond,
		GracePeriod: 5 * time.Second,
		OnError: func(m *cmq.Message, err error) {
			var p *worker.PanicError
			switch {
			case errors.As(err, &p):
				fmt.Printf("handler panicked on %s (%v): it comes back\n", m.Body, p.Value)
			case m != nil:
				fmt.Printf("handler failed on %s (%v): it comes back\n", m.Body, err)
			default:
				fmt.Println("worker:", err)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, job := range []string{"job-03", "job-07", "job-11"} {
		fmt.Printf("%s finished on delivery %d\n", job, done[job])
	}
	info, err := svc.GetQueueAttributes(context.Background(), "jobs")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("all %d jobs done; queue: active %d, inactive %d\n", len(done), info.ActiveMsgNum, info.InactiveMsgNum)
}
