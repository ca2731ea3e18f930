package cmqtest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqtest"
)

// In a test: a CMQ server on a loopback port, a ready client, and the
// broker behind it. (An Example has no *testing.T, so this one is not run;
// ExampleStart is.)
func ExampleNewServer() {
	var t *testing.T // the test's t
	srv := cmqtest.NewServer(t)
	ctx := t.Context()

	// Code under test takes a cmq.Service: srv.Client here, the same
	// client pointed at cmqd or TDMQ-CMQ in production. Other SDKs take
	// srv.Endpoint, srv.SecretID and srv.SecretKey.
	var svc cmq.Service = srv.Client
	if _, err := svc.CreateQueue(ctx, "orders", cmq.QueueAttributes{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SendMessage(ctx, "orders", "order #1001", 0); err != nil {
		t.Fatal(err)
	}

	// The test inspects the broker directly.
	q, err := srv.Broker.Queue("orders")
	if err != nil {
		t.Fatal(err)
	}
	info, err := q.Attributes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ActiveMsgNum != 1 {
		t.Errorf("%d messages, want 1", info.ActiveMsgNum)
	}
}

// A server outside a test (in a TestMain, or a program).
func ExampleStart() {
	srv, err := cmqtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	if _, err := srv.Client.CreateQueue(ctx, "orders", cmq.QueueAttributes{}); err != nil {
		log.Fatal(err)
	}
	if _, err := srv.Client.SendMessage(ctx, "orders", "order #1001", 0); err != nil {
		log.Fatal(err)
	}
	m, err := srv.Client.ReceiveMessage(ctx, "orders", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("received %q\n", m.Body)
	_, err = srv.Client.ReceiveMessage(ctx, "orders", 0)
	fmt.Println("then:", errors.Is(err, cmq.ErrInvalidReceiptHandle), errors.Is(err, cmq.ErrNoMessage))
	// Output:
	// received "order #1001"
	// then: false true
}
