package cmqhttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/internal/cmqsigtest"
)

// discard is a ResponseWriter that keeps the last body it was given.
type discard struct {
	h    http.Header
	last []byte
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) Write(p []byte) (int, error) {
	d.last = append(d.last[:0], p...)
	return len(p), nil
}
func (d *discard) WriteHeader(int) {}

// BenchmarkHandler serves GetQueueAttributes in process, unsigned and
// signed (HmacSHA1), so that the cost of checking a signature (the string
// to sign, the HMAC, the nonce table) shows against the rest of a request:
// form parsing, the action, the JSON answer.
//
//	go test -run '^$' -bench Handler -benchmem ./cmqhttp
func BenchmarkHandler(b *testing.B) {
	const id, key, host = "AKIDbench", "benchkey", "bench.local"
	for _, signed := range []bool{false, true} {
		name := "unsigned"
		if signed {
			name = "signed"
		}
		b.Run(name, func(b *testing.B) {
			br, err := cmq.NewBroker()
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			if _, err := br.CreateQueue(context.Background(), "q", cmq.QueueAttributes{}); err != nil {
				b.Fatal(err)
			}
			cfg := Config{MaxNonces: 1 << 20} // more than one run's requests, all of one second
			if signed {
				cfg.Credentials = map[string]string{id: key}
			}
			h := NewHandler(br, cfg)
			nonce := uint64(0)
			body := func() string {
				vals := map[string]string{"Action": "GetQueueAttributes", "queueName": "q", "RequestClient": "SDK_GO_1.0"}
				if signed {
					nonce++
					vals["SecretId"] = id
					vals["Timestamp"] = strconv.FormatInt(time.Now().Unix(), 10)
					vals["Nonce"] = strconv.FormatUint(nonce, 10)
					vals["Signature"] = cmqsigtest.Sign(http.MethodPost, host, vals, key, "")
				}
				form := url.Values{}
				for k, v := range vals {
					form.Set(k, v)
				}
				return form.Encode()
			}
			// Signing is the client's work: bodies are made outside the timer.
			var bodies []string
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				if len(bodies) == 0 {
					b.StopTimer()
					for range 4096 {
						bodies = append(bodies, body())
					}
					b.StartTimer()
				}
				s := bodies[len(bodies)-1]
				bodies = bodies[:len(bodies)-1]
				r, _ := http.NewRequest(http.MethodPost, "http://"+host+Path, strings.NewReader(s))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.ContentLength = int64(len(s))
				clear(w.h)
				h.ServeHTTP(w, r)
			}
			if !strings.Contains(string(w.last), `"code":0,`) {
				b.Fatalf("answer %s", w.last)
			}
		})
	}
}
