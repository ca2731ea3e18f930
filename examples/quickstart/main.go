// Command quickstart creates a broker and a queue, sends a message,
// receives it and deletes it: the smallest complete use of package cmq.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/opencmq/cmq"
)

func main() {
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	q, err := b.CreateQueue(ctx, "orders", cmq.QueueAttributes{
		VisibilityTimeout: cmq.Ptr(30 * time.Second),
	})
	if err != nil {
		log.Fatal(err)
	}

	id, err := q.Send(ctx, "order #1001", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent", id)

	m, err := q.Receive(ctx, time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("received %q (dequeue count %d)\n", m.Body, m.DequeueCount)

	if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
		log.Fatal(err)
	}
	fmt.Println("deleted")

	// The queue is empty now: a receive with no wait says so with CMQ's
	// code 7000.
	_, err = q.Receive(ctx, 0)
	var e *cmq.Error
	if errors.As(err, &e) && errors.Is(err, cmq.ErrNoMessage) {
		fmt.Printf("empty: code %d, %s\n", e.Code, e.WireMessage())
	}

	info, err := q.Attributes(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("active %d, inactive %d, delayed %d\n", info.ActiveMsgNum, info.InactiveMsgNum, info.DelayMsgNum)
}
