package cmqhttp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/internal/cmqsigtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzHandler sends arbitrary parameter strings as GET, POST or another
// method, optionally signed, to a broker holding a queue "q" with one
// message and a dead-letter pair. Whatever arrives, the handler must not
// panic and must answer HTTP 200 with a well-formed CMQ response; every
// failure carries a "(module)" message. The seed corpus runs in plain
// go test; each input runs in its own synctest bubble, so long polls cost no
// wall-clock time.
func FuzzHandler(f *testing.F) {
	seeds := []string{
		"",
		"Action=ListQueue",
		"Action=ListQueue&searchWord=q&offset=0&limit=50",
		"Action=CreateQueue&queueName=new&pollingWaitSeconds=30&visibilityTimeout=1&maxMsgSize=1024&msgRetentionSeconds=60&rewindSeconds=60&maxMsgHeapNum=1000000",
		`Action=CreateQueue&queueName=new&deadLetterPolicy={"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":1}`,
		`Action=SetQueueAttributes&queueName=q&deadLetterPolicy={"deadLetterQueue":"dlq","policy":1,"maxTimeToLive":300}`,
		"Action=GetQueueAttributes&queueName=q",
		"Action=SetQueueAttributes&queueName=q&rewindSeconds=600",
		"Action=DeleteQueue&queueName=q",
		"Action=RewindQueue&queueName=q&startConsumeTime=946684800",
		"Action=SendMessage&queueName=q&msgBody=hello&delaySeconds=5",
		"Action=BatchSendMessage&queueName=q&msgBody.0=a&msgBody.1=b",
		"Action=BatchSendMessage&queueName=q&msgBody.1=a&msgBody.3=b",
		"Action=BatchSendMessage&queueName=q&msgBody_1=a&msgBody.1=b",
		"Action=ReceiveMessage&queueName=q&pollingWaitSeconds=30",
		"Action=ReceiveMessage&queueName=q&pollingWaitSeconds=-9223372036854775808",
		"Action=BatchReceiveMessage&queueName=q&numOfMsg=16&pollingWaitSeconds=3",
		"Action=DeleteMessage&queueName=q&receiptHandle=00000000000000000000000000000001",
		"Action=BatchDeleteMessage&queueName=q&receiptHandle.0=x&receiptHandle.1=y",
		"Action=ListDeadLetterSourceQueues&deadLetterQueueName=dlq&limit=1",
		"Action=UnbindDeadLetterQueue&queueName=src",
		"Action=%zz",
		"Action=SendMessage&queueName=q&msgBody=%FF",
		"Action=SendMessage&queueName=q&msgBody=a&msgBody=b",
		"Action=RewindQueue&queueName=q&startConsumeTime=99999999999999999999",
		"Action=BatchSendMessage&queueName=q&msgBody.999999999=x",
	}
	for i, s := range seeds {
		f.Add(uint8(i%3), s, i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, method uint8, query string, signed bool) {
		synctest.Test(t, func(t *testing.T) {
			cfg := Config{}
			if signed {
				cfg.Credentials = map[string]string{"AKIDfuzz": "k"}
			}
			e := newEnv(t, cfg)
			fuzzSetup(t, e)
			m := []string{"GET", "POST", "PUT"}[method%3]
			if signed {
				query = signQuery(m, query)
			}
			req := httptest.NewRequestWithContext(t.Context(), m, "http://"+memHost+Path, strings.NewReader(query))
			if m == "GET" {
				req.URL.RawQuery = query
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			r := decode(t, rec.Body.Bytes())
			if r.code() != 0 {
				assert.Regexp(t, `^\(\d+\)`, r.str("message"))
			} else {
				assert.Equal(t, "", r.str("message"))
			}
			// The broker is still consistent and serving.
			if q, err := e.b.Queue("q"); err == nil {
				_, err := q.Attributes(t.Context())
				require.NoError(t, err)
			}
			c := e.c
			if signed {
				c = c.signed("AKIDfuzz", "k")
			}
			requireOK(t, c.call(t, t.Context(), "ListQueue"))
		})
	})
}

// fuzzSetup creates q (one message), dlq and src (bound to dlq).
func fuzzSetup(t *testing.T, e *env) {
	t.Helper()
	q, err := e.b.CreateQueue(t.Context(), "q", attrsZero)
	require.NoError(t, err)
	_, err = q.Send(t.Context(), "m", 0)
	require.NoError(t, err)
	_, err = e.b.CreateQueue(t.Context(), "dlq", attrsZero)
	require.NoError(t, err)
	_, err = e.b.CreateQueue(t.Context(), "src", attrsZero)
	require.NoError(t, err)
	require.NoError(t, mustQueue(t, e, "src").SetAttributes(t.Context(), cmq.QueueAttributes{
		DeadLetterPolicy: &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnMaxReceive, MaxReceiveCount: 3},
	}))
}

// signQuery adds common parameters and a valid signature to query when it
// parses; otherwise it returns query unchanged.
func signQuery(method, query string) string {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return query
	}
	flat := map[string]string{}
	for k, v := range vals {
		flat[k] = v[0]
	}
	flat["SecretId"] = "AKIDfuzz"
	flat["Timestamp"] = strconv.FormatInt(time.Now().Unix(), 10)
	flat["Nonce"] = "42"
	flat["Signature"] = cmqsigtest.Sign(method, memHost, flat, "k", flat["SignatureMethod"])
	out := url.Values{}
	for k, v := range flat {
		out.Set(k, v)
	}
	return out.Encode()
}
