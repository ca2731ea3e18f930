package worker_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/worker"
)

// Four handlers consume a queue; the worker stops once every job is done.
func ExampleRun() {
	b, _ := cmq.NewBroker()
	defer b.Close()
	svc := b.Service() // or a remote client: the worker takes any cmq.Service
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc.CreateQueue(ctx, "jobs", cmq.QueueAttributes{})
	svc.BatchSendMessage(ctx, "jobs", []string{"resize a.png", "resize b.png", "resize c.png"}, 0)

	var mu sync.Mutex
	var done []string
	handler := func(ctx context.Context, m cmq.Message) error {
		mu.Lock()
		defer mu.Unlock()
		done = append(done, m.Body)
		if len(done) == 3 {
			cancel() // stop receiving; the worker deletes what finished
		}
		return nil // deletes the message; an error would leave it to come back
	}
	err := worker.Run(ctx, svc, "jobs", handler, worker.Options{
		Concurrency: 4,
		RetryDelay:  5 * time.Second,
	})
	slices.Sort(done)
	fmt.Println(strings.Join(done, ", "), err)
	info, _ := svc.GetQueueAttributes(context.Background(), "jobs")
	fmt.Println("left:", info.ActiveMsgNum+info.InactiveMsgNum)
	// Output:
	// resize a.png, resize b.png, resize c.png <nil>
	// left: 0
}
