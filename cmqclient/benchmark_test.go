package cmqclient_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/cmqhttp"
	"github.com/opencmq/cmq/internal/benchserver"
)

// BenchmarkClient measures a send+receive+delete cycle through the client
// over loopback, one message at a time and in batches of 16, against
// cmqhttp's handler on a broker, and against a minimal net/http server that
// answers each action with a fixed body (the same client, transport and
// loopback, no queue): the difference is what cmqhttp and the broker cost.
// ns/msg is the time per message.
//
//	go test -run '^$' -bench Client -benchmem ./cmqclient
func BenchmarkClient(b *testing.B) {
	servers := []struct {
		name string
		h    func(b *testing.B) http.Handler
	}{
		{"cmqhttp", func(b *testing.B) http.Handler {
			l := cmq.DefaultLimits()
			l.QPS = 0 // no token bucket: measure the path, not the limit
			br, err := cmq.NewBroker(cmq.WithLimits(l))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { br.Close() })
			if _, err := br.CreateQueue(context.Background(), "bench", cmq.QueueAttributes{}); err != nil {
				b.Fatal(err)
			}
			return cmqhttp.NewHandler(br, cmqhttp.Config{})
		}},
		{"baseline", func(*testing.B) http.Handler { return benchserver.Handler() }},
	}
	for _, srv := range servers {
		for _, n := range []int{1, 16} {
			name := "single"
			if n > 1 {
				name = fmt.Sprintf("batch%d", n)
			}
			b.Run(srv.name+"/"+name, func(b *testing.B) {
				s := httptest.NewServer(srv.h(b))
				defer s.Close()
				c, err := cmqclient.New(s.URL, cmqclient.Config{MaxAttempts: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer c.CloseIdleConnections()
				ctx := context.Background()
				bodies := make([]string, n)
				for i := range bodies {
					bodies[i] = strings.Repeat("x", 100)
				}
				b.ReportAllocs()
				for b.Loop() {
					if n == 1 {
						cycle(b, ctx, c)
					} else {
						batchCycle(b, ctx, c, bodies)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
			})
		}
	}
}

func cycle(b *testing.B, ctx context.Context, c *cmqclient.Client) {
	if _, err := c.SendMessage(ctx, "bench", "hello", 0); err != nil {
		b.Fatal(err)
	}
	m, err := c.ReceiveMessage(ctx, "bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.DeleteMessage(ctx, "bench", m.ReceiptHandle); err != nil {
		b.Fatal(err)
	}
}

func batchCycle(b *testing.B, ctx context.Context, c *cmqclient.Client, bodies []string) {
	if _, err := c.BatchSendMessage(ctx, "bench", bodies, 0); err != nil {
		b.Fatal(err)
	}
	ms, err := c.BatchReceiveMessage(ctx, "bench", len(bodies), 0)
	if err != nil || len(ms) != len(bodies) {
		b.Fatal(len(ms), err)
	}
	hs := make([]string, len(ms))
	for i, m := range ms {
		hs[i] = m.ReceiptHandle
	}
	if _, err := c.BatchDeleteMessage(ctx, "bench", hs); err != nil {
		b.Fatal(err)
	}
}
