package cmq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/opencmq/cmq"
)

// The whole life of a message: create a queue, send, receive, delete, and
// read the queue's counts.
func Example() {
	ctx := context.Background()
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	q, err := b.CreateQueue(ctx, "orders", cmq.QueueAttributes{
		VisibilityTimeout: cmq.Ptr(time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}
	id, err := q.Send(ctx, "order #1", 0)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := q.Send(ctx, "order #2", time.Hour); err != nil { // delayed
		log.Fatal(err)
	}

	m, err := q.Receive(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("received:", m.Body, "same id:", m.ID == id, "dequeue count:", m.DequeueCount)

	info, err := q.Attributes(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("active:", info.ActiveMsgNum, "inactive:", info.InactiveMsgNum, "delayed:", info.DelayMsgNum)

	// Delete with the receipt handle before the visibility timeout ends.
	if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
		log.Fatal(err)
	}
	info, err = q.Attributes(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("active:", info.ActiveMsgNum, "inactive:", info.InactiveMsgNum, "delayed:", info.DelayMsgNum)
	fmt.Println("visibility timeout:", info.VisibilityTimeout, "max message size:", info.MaxMsgSize)
	// Output:
	// received: order #1 same id: true dequeue count: 1
	// active: 0 inactive: 1 delayed: 1
	// active: 0 inactive: 0 delayed: 1
	// visibility timeout: 1m0s max message size: 65536
}

func ExampleQueue_BatchSend() {
	ctx := context.Background()
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	q, err := b.CreateQueue(ctx, "events", cmq.QueueAttributes{})
	if err != nil {
		log.Fatal(err)
	}

	// Up to 16 bodies; the ids come back in the order of the bodies.
	ids, err := q.BatchSend(ctx, []string{"created", "paid", "shipped"}, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(ids), "sent")

	ms, err := q.BatchReceive(ctx, 16, 0)
	if err != nil {
		log.Fatal(err)
	}
	for i, m := range ms {
		fmt.Println(m.Body, m.ID == ids[i])
	}

	// A batch is all or nothing.
	_, err = q.BatchSend(ctx, []string{"ok", ""}, 0)
	fmt.Println(errors.Is(err, cmq.ErrEmptyMessage))
	_, err = q.BatchSend(ctx, make([]string, 17), 0)
	fmt.Println(errors.Is(err, cmq.ErrBatchSize))
	// Output:
	// 3 sent
	// created true
	// paid true
	// shipped true
	// true
	// true
}

func ExampleQueue_Receive() {
	ctx := context.Background()
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	q, err := b.CreateQueue(ctx, "jobs", cmq.QueueAttributes{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := q.Send(ctx, "resize image 42", 0); err != nil {
		log.Fatal(err)
	}

	m, err := q.Receive(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Body, m.DequeueCount)

	// The message is inactive now: nothing is visible. With a wait of 0 the
	// receive does not wait; CMQ reports an empty queue as code 7000.
	_, err = q.Receive(ctx, 0)
	if errors.Is(err, cmq.ErrNoMessage) {
		e := cmq.AsError(err)
		fmt.Println(e.Code, e.WireMessage())
	}
	// Output:
	// resize image 42 1
	// 7000 (10200)no message
}

func ExampleBroker_ListQueues() {
	ctx := context.Background()
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	for _, name := range []string{"orders-eu", "Orders-US", "billing", "orders-asia"} {
		if _, err := b.CreateQueue(ctx, name, cmq.QueueAttributes{}); err != nil {
			log.Fatal(err)
		}
	}

	// Names match ignoring case and come sorted by name.
	page, total, err := b.ListQueues(ctx, cmq.ListOptions{Search: "ORDERS", Limit: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("total:", total)
	for _, q := range page {
		fmt.Println(q.Name)
	}
	page, _, err = b.ListQueues(ctx, cmq.ListOptions{Search: "orders", Offset: 2})
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range page {
		fmt.Println(q.Name)
	}
	// Output:
	// total: 3
	// orders-asia
	// orders-eu
	// Orders-US
}

func ExampleError() {
	ctx := context.Background()
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	_, err = b.Queue("missing")

	// Match with errors.Is; read CMQ's code and module for a wire answer.
	fmt.Println(errors.Is(err, cmq.ErrQueueNotExist))
	var e *cmq.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Module)
		fmt.Println(e.WireMessage())
		fmt.Println(e)
	}

	// A more specific message still matches its sentinel.
	_, err = b.CreateQueue(ctx, "q", cmq.QueueAttributes{PollingWait: cmq.Ptr(time.Minute)})
	fmt.Println(errors.Is(err, cmq.ErrOutOfRange), cmq.AsError(err).WireMessage())
	// Output:
	// true
	// 4440 10100
	// (10100)queue is not existed, or deleted
	// cmq: queue is not existed, or deleted (code 4440, module 10100)
	// true (10350)parameter pollingWaitSeconds value or length is out of range
}

func ExampleQueue_BatchDelete() {
	ctx := context.Background()
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	q, err := b.CreateQueue(ctx, "jobs", cmq.QueueAttributes{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := q.BatchSend(ctx, []string{"a", "b"}, 0); err != nil {
		log.Fatal(err)
	}
	ms, err := q.BatchReceive(ctx, 2, 0)
	if err != nil {
		log.Fatal(err)
	}

	// Every valid handle is deleted; the results say which failed.
	handles := []string{ms[0].ReceiptHandle, "not-a-handle", ms[1].ReceiptHandle}
	results, err := q.BatchDelete(ctx, handles)
	fmt.Println(cmq.AsError(err).Code, errors.Is(err, cmq.ErrBatchDeletePartial))
	for i, r := range results {
		if r != nil {
			fmt.Println(i, cmq.AsError(r).Code)
		} else {
			fmt.Println(i, "deleted")
		}
	}

	// Deleting the same handles again fails for all of them.
	_, err = q.BatchDelete(ctx, handles)
	fmt.Println(cmq.AsError(err).Code, errors.Is(err, cmq.ErrBatchDeleteFailed))
	// Output:
	// 6010 true
	// 0 deleted
	// 1 4430
	// 2 deleted
	// 6020 true
}

// A Broker with limits of its own: here a queue may hold at most 2
// messages, for a test of what a full queue does. WithLimits starts from
// DefaultLimits, CMQ's own.
func ExampleBroker() {
	ctx := context.Background()
	l := cmq.DefaultLimits()
	l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1000, Default: 2}
	b, err := cmq.NewBroker(cmq.WithLimits(l))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	q, err := b.CreateQueue(ctx, "small", cmq.QueueAttributes{})
	if err != nil {
		log.Fatal(err)
	}
	_, err = q.BatchSend(ctx, []string{"a", "b", "c"}, 0)
	fmt.Println(err)
	_, err = q.BatchSend(ctx, []string{"a", "b"}, 0)
	fmt.Println(err)
	_, err = q.Send(ctx, "c", 0)
	fmt.Println(errors.Is(err, cmq.ErrHeapFull))
	// Output:
	// cmq: reach maximum retention number of message (code 4410, module 10240)
	// <nil>
	// true
}

// Code written against [cmq.Service] addresses queues by name, as CMQ's
// API does, and runs unchanged against the in-process broker or a remote
// CMQ endpoint: only the constructor of svc changes.
func ExampleBroker_Service() {
	ctx := context.Background()
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	svc := b.Service() // in-process; a remote client would be built here
	if err := process(ctx, svc); err != nil {
		log.Fatal(err)
	}

	// Extensions CMQ's API lacks are found with a type assertion.
	if x, ok := svc.(cmq.ServiceExtensions); ok {
		fmt.Println("purge:", x.PurgeQueue(ctx, "orders"))
	}
	// Output:
	// sent 1 message
	// processed "order #1"
	// queue is empty: true
	// purge: <nil>
}

// process is code that needs nothing but a cmq.Service.
func process(ctx context.Context, svc cmq.Service) error {
	if _, err := svc.CreateQueue(ctx, "orders", cmq.QueueAttributes{}); err != nil {
		return err
	}
	if _, err := svc.SendMessage(ctx, "orders", "order #1", 0); err != nil {
		return err
	}
	fmt.Println("sent 1 message")
	m, err := svc.ReceiveMessage(ctx, "orders", time.Second)
	if err != nil {
		return err
	}
	if err := svc.DeleteMessage(ctx, "orders", m.ReceiptHandle); err != nil {
		return err
	}
	fmt.Printf("processed %q\n", m.Body)
	_, err = svc.ReceiveMessage(ctx, "orders", 0)
	fmt.Println("queue is empty:", errors.Is(err, cmq.ErrNoMessage))
	return nil
}
