// Command service shows one piece of application code, written against
// cmq.Service, running unchanged in four places; only the constructor in
// main changes:
//
//	go run ./examples/service                          # in-process broker
//	go run ./examples/service -endpoint test           # cmqtest: a CMQ server on a loopback port
//	go run ./examples/service -endpoint http://127.0.0.1:8080   # cmqd
//	CMQ_SECRET_ID=AKID… CMQ_SECRET_KEY=… \
//	  go run ./examples/service -endpoint https://cmq-gz.public.tencenttdmq.com   # TDMQ-CMQ
//
// Against cmqd, CMQ_SECRET_ID and CMQ_SECRET_KEY sign the requests when
// cmqd checks signatures. TDMQ-CMQ's data-flow endpoint cannot create
// queues: create the queue ("orders" or -queue) in its console first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/cmqtest"
)

func main() {
	endpoint := flag.String("endpoint", "", `"" for an in-process broker, "test" for a cmqtest server, else a CMQ endpoint URL`)
	queue := flag.String("queue", "orders", "queue name")
	flag.Parse()
	svc, stop, err := open(*endpoint, os.Getenv("CMQ_SECRET_ID"), os.Getenv("CMQ_SECRET_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := orders(ctx, svc, *queue, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// open is the one place that differs between a test and production.
func open(endpoint, id, key string) (svc cmq.Service, stop func(), err error) {
	switch endpoint {
	case "": // in-process
		b, err := cmq.NewBroker()
		if err != nil {
			return nil, nil, err
		}
		return b.Service(), func() { b.Close() }, nil
	case "test": // a CMQ server on a loopback port (in a test: cmqtest.NewServer(t))
		srv, err := cmqtest.Start()
		if err != nil {
			return nil, nil, err
		}
		return srv.Client, srv.Close, nil
	}
	c, err := cmqclient.New(endpoint, cmqclient.Config{SecretID: id, SecretKey: key})
	if err != nil {
		return nil, nil, err
	}
	return c, c.CloseIdleConnections, nil
}

// orders is the application: it knows only cmq.Service.
func orders(ctx context.Context, svc cmq.Service, queue string, out io.Writer) error {
	_, err := svc.CreateQueue(ctx, queue, cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(30 * time.Second)})
	switch {
	case errors.Is(err, cmq.ErrQueueExists):
	case errors.Is(err, errors.ErrUnsupported): // TDMQ-CMQ: queues are made in its console
	case err != nil:
		return fmt.Errorf("create %s: %w", queue, err)
	}
	if _, err := svc.BatchSendMessage(ctx, queue, []string{"order #1001", "order #1002"}, 0); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	for n := 0; n < 2; {
		ms, err := svc.BatchReceiveMessage(ctx, queue, 16, time.Second)
		if errors.Is(err, cmq.ErrNoMessage) {
			continue // nothing yet: poll again
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		handles := make([]string, len(ms))
		for i, m := range ms {
			fmt.Fprintf(out, "processed %q\n", m.Body)
			handles[i] = m.ReceiptHandle
		}
		if _, err := svc.BatchDeleteMessage(ctx, queue, handles); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		n += len(ms)
	}
	return nil
}
