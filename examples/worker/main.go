// Command worker runs a small job queue: a producer sends jobs, several
// consumers long-poll for them and delete each job once it is done, and
// one consumer crashes in the middle of a job. The crashed job is not lost:
// its visibility timeout ends, it becomes visible again, and another
// consumer finishes it. Runs in about two seconds.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/opencmq/cmq"
)

const jobs = 12

func main() {
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	// A short visibility timeout so the crashed job comes back quickly.
	q, err := b.CreateQueue(ctx, "jobs", cmq.QueueAttributes{
		VisibilityTimeout: cmq.Ptr(1 * time.Second),
	})
	if err != nil {
		log.Fatal(err)
	}

	// Cancelling polling ends the consumers' long polls.
	polling, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu   sync.Mutex
		done = map[string]string{} // job body -> consumer that finished it
		wg   sync.WaitGroup
	)
	finished := make(chan struct{})

	consumer := func(name string, crashOnFirst bool) {
		defer wg.Done()
		for {
			// Long poll: wait up to 5 s for a job; return at once when one
			// is sent or becomes visible again.
			m, err := q.Receive(polling, 5*time.Second)
			switch {
			case errors.Is(err, cmq.ErrNoMessage):
				continue
			case err != nil: // context cancelled or broker closed: stop
				return
			}
			if crashOnFirst {
				fmt.Printf("%s: crashed while working on %q (dequeue count %d)\n", name, m.Body, m.DequeueCount)
				return // never deletes: the job comes back after 1 s
			}
			// Work, then delete with the receipt handle of this receive.
			time.Sleep(20 * time.Millisecond)
			if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
				fmt.Printf("%s: delete %q: %v\n", name, m.Body, err)
				continue
			}
			mu.Lock()
			done[m.Body] = name
			if m.DequeueCount > 1 {
				fmt.Printf("%s: finished %q on delivery %d\n", name, m.Body, m.DequeueCount)
			}
			if len(done) == jobs {
				close(finished)
			}
			mu.Unlock()
		}
	}

	wg.Add(4)
	go consumer("crasher", true)
	go consumer("worker-1", false)
	go consumer("worker-2", false)
	go consumer("worker-3", false)

	bodies := make([]string, jobs)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("job-%02d", i)
	}
	ids, err := q.BatchSend(ctx, bodies, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("producer: sent %d jobs\n", len(ids))

	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		log.Fatal("jobs did not finish")
	}
	cancel()
	wg.Wait()

	per := map[string]int{}
	for _, who := range done {
		per[who]++
	}
	fmt.Printf("all %d jobs done: worker-1 %d, worker-2 %d, worker-3 %d\n",
		len(done), per["worker-1"], per["worker-2"], per["worker-3"])
	info, err := q.Attributes(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("queue: active %d, inactive %d\n", info.ActiveMsgNum, info.InactiveMsgNum)
}
