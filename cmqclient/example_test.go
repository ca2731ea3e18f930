package cmqclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/cmqhttp"
)

// A client for a CMQ endpoint, here cmqd's handler on a loopback port,
// used through cmq.Service as an in-process broker would be.
func ExampleNew() {
	b, err := cmq.NewBroker()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	creds := map[string]string{"AKIDexample": "example-key"}
	srv := httptest.NewServer(cmqhttp.NewHandler(b, cmqhttp.Config{Credentials: creds}))
	defer srv.Close()

	c, err := cmqclient.New(srv.URL, cmqclient.Config{SecretID: "AKIDexample", SecretKey: "example-key"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()

	var svc cmq.Service = c
	ctx := context.Background()
	if _, err := svc.CreateQueue(ctx, "orders", cmq.QueueAttributes{}); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.SendMessage(ctx, "orders", "order #1001", 0); err != nil {
		log.Fatal(err)
	}
	m, err := svc.ReceiveMessage(ctx, "orders", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("received %q\n", m.Body)
	if err := svc.DeleteMessage(ctx, "orders", m.ReceiptHandle); err != nil {
		log.Fatal(err)
	}
	_, err = svc.ReceiveMessage(ctx, "orders", 0)
	fmt.Println("empty:", errors.Is(err, cmq.ErrNoMessage))
	// Output:
	// received "order #1001"
	// empty: true
}

// TDMQ-CMQ's data-flow endpoint has no management actions: the client
// says so without a request.
func ExampleClient_dataFlow() {
	c, err := cmqclient.New("https://cmq-gz.public.tencenttdmq.com", cmqclient.Config{SecretID: "AKIDexample", SecretKey: "key"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Kind(), c.Endpoint())
	_, err = c.CreateQueue(context.Background(), "orders", cmq.QueueAttributes{})
	fmt.Println(errors.Is(err, cmqclient.ErrUnsupported), err)
	// Output:
	// data-flow https://cmq-gz.public.tencenttdmq.com/
	// true cmqclient: CreateQueue: action not supported by this endpoint
}
