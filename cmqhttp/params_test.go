package cmqhttp

import (
	"context"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// paramCase is a request and its expected outcome (nil: success). In kv,
// "$now+N" and "$now-N" stand for the current Unix time plus or minus N.
type paramCase struct {
	name   string
	action string
	kv     []string
	want   *cmq.Error
}

// waits reports whether tt long-polls (such cases stay out of wall-clock
// tests).
func (tt paramCase) waits() bool {
	i := slices.Index(tt.kv, "pollingWaitSeconds")
	return tt.want == cmq.ErrNoMessage && i >= 0 && tt.kv[i+1] != "0"
}

// paramCases covers every parameter of every action: parsing, ranges and
// error codes. Each case runs against a broker set up by setupParamQueues.
func paramCases() []paramCase {
	oor := func(name string) *cmq.Error { return outOfRange(name) }
	big := "99999999999999999999"
	long := "a" + strings.Repeat("b", 64)
	pol := func(s string) []string { return []string{"queueName", "new", "deadLetterPolicy", s} }
	return []paramCase{
		// Action
		{"no Action", "", nil, detail(errMissing, "Action")},
		{"unknown Action", "PeekMessage", nil, detail(errAction, "PeekMessage")},

		// CreateQueue
		{"create", "CreateQueue", []string{"queueName", "new"}, nil},
		{"create no name", "CreateQueue", nil, detail(errMissing, "queueName")},
		{"create empty name", "CreateQueue", []string{"queueName", ""}, cmq.ErrQueueNameFormat},
		{"create name starts with digit", "CreateQueue", []string{"queueName", "1q"}, cmq.ErrQueueNameFormat},
		{"create name with _", "CreateQueue", []string{"queueName", "a_b"}, cmq.ErrQueueNameFormat},
		{"create name 64", "CreateQueue", []string{"queueName", long[:64]}, nil},
		{"create name 65", "CreateQueue", []string{"queueName", long}, cmq.ErrQueueNameFormat},
		{"create exists", "CreateQueue", []string{"queueName", "Q"}, cmq.ErrQueueExists},
		{"create name as array", "CreateQueue", []string{"queueName.1", "x"}, detail(errNotRepeated, "queueName")},
		{"maxMsgHeapNum min", "CreateQueue", []string{"queueName", "new", "maxMsgHeapNum", "1000000"}, nil},
		{"maxMsgHeapNum max", "CreateQueue", []string{"queueName", "new", "maxMsgHeapNum", "1000000000"}, nil},
		{"maxMsgHeapNum below", "CreateQueue", []string{"queueName", "new", "maxMsgHeapNum", "999999"}, oor("maxMsgHeapNum")},
		{"maxMsgHeapNum above", "CreateQueue", []string{"queueName", "new", "maxMsgHeapNum", "1000000001"}, oor("maxMsgHeapNum")},
		{"maxMsgHeapNum huge", "CreateQueue", []string{"queueName", "new", "maxMsgHeapNum", big}, oor("maxMsgHeapNum")},
		{"maxMsgHeapNum text", "CreateQueue", []string{"queueName", "new", "maxMsgHeapNum", "many"}, detail(errType, "maxMsgHeapNum")},
		{"maxMsgHeapNum empty", "CreateQueue", []string{"queueName", "new", "maxMsgHeapNum", ""}, detail(errType, "maxMsgHeapNum")},
		{"maxMsgHeapNum float", "CreateQueue", []string{"queueName", "new", "maxMsgHeapNum", "1e6"}, detail(errType, "maxMsgHeapNum")},
		{"pollingWaitSeconds 0", "CreateQueue", []string{"queueName", "new", "pollingWaitSeconds", "0"}, nil},
		{"pollingWaitSeconds 30", "CreateQueue", []string{"queueName", "new", "pollingWaitSeconds", "30"}, nil},
		{"pollingWaitSeconds 31", "CreateQueue", []string{"queueName", "new", "pollingWaitSeconds", "31"}, oor("pollingWaitSeconds")},
		{"pollingWaitSeconds -1", "CreateQueue", []string{"queueName", "new", "pollingWaitSeconds", "-1"}, oor("pollingWaitSeconds")},
		{"pollingWaitSeconds huge", "CreateQueue", []string{"queueName", "new", "pollingWaitSeconds", "9223372036854775807"}, oor("pollingWaitSeconds")},
		{"pollingWaitSeconds huge negative", "CreateQueue", []string{"queueName", "new", "pollingWaitSeconds", "-9223372036854775808"}, oor("pollingWaitSeconds")},
		{"pollingWaitSeconds text", "CreateQueue", []string{"queueName", "new", "pollingWaitSeconds", "1s"}, detail(errType, "pollingWaitSeconds")},
		{"visibilityTimeout 1", "CreateQueue", []string{"queueName", "new", "visibilityTimeout", "1"}, nil},
		{"visibilityTimeout 43200", "CreateQueue", []string{"queueName", "new", "visibilityTimeout", "43200"}, nil},
		{"visibilityTimeout 0", "CreateQueue", []string{"queueName", "new", "visibilityTimeout", "0"}, oor("visibilityTimeout")},
		{"visibilityTimeout 43201", "CreateQueue", []string{"queueName", "new", "visibilityTimeout", "43201"}, oor("visibilityTimeout")},
		{"visibilityTimeout text", "CreateQueue", []string{"queueName", "new", "visibilityTimeout", "x"}, detail(errType, "visibilityTimeout")},
		{"maxMsgSize 1024", "CreateQueue", []string{"queueName", "new", "maxMsgSize", "1024"}, nil},
		{"maxMsgSize 1048576", "CreateQueue", []string{"queueName", "new", "maxMsgSize", "1048576"}, nil},
		{"maxMsgSize 1023", "CreateQueue", []string{"queueName", "new", "maxMsgSize", "1023"}, oor("maxMsgSize")},
		{"maxMsgSize 1048577", "CreateQueue", []string{"queueName", "new", "maxMsgSize", "1048577"}, oor("maxMsgSize")},
		{"maxMsgSize text", "CreateQueue", []string{"queueName", "new", "maxMsgSize", "1k"}, detail(errType, "maxMsgSize")},
		{"msgRetentionSeconds 60", "CreateQueue", []string{"queueName", "new", "msgRetentionSeconds", "60"}, nil},
		{"msgRetentionSeconds 1296000", "CreateQueue", []string{"queueName", "new", "msgRetentionSeconds", "1296000"}, nil},
		{"msgRetentionSeconds 59", "CreateQueue", []string{"queueName", "new", "msgRetentionSeconds", "59"}, oor("msgRetentionSeconds")},
		{"msgRetentionSeconds 1296001", "CreateQueue", []string{"queueName", "new", "msgRetentionSeconds", "1296001"}, oor("msgRetentionSeconds")},
		{"msgRetentionSeconds text", "CreateQueue", []string{"queueName", "new", "msgRetentionSeconds", "x"}, detail(errType, "msgRetentionSeconds")},
		{"rewindSeconds 0", "CreateQueue", []string{"queueName", "new", "rewindSeconds", "0"}, nil},
		{"rewindSeconds = retention", "CreateQueue", []string{"queueName", "new", "rewindSeconds", "60", "msgRetentionSeconds", "60"}, nil},
		{"rewindSeconds > retention", "CreateQueue", []string{"queueName", "new", "rewindSeconds", "61", "msgRetentionSeconds", "60"}, cmq.ErrRewindPeriod},
		{"rewindSeconds -1", "CreateQueue", []string{"queueName", "new", "rewindSeconds", "-1"}, oor("rewindSeconds")},
		{"rewindSeconds text", "CreateQueue", []string{"queueName", "new", "rewindSeconds", "x"}, detail(errType, "rewindSeconds")},
		{"unknown parameters ignored", "CreateQueue", []string{"queueName", "new", "Region", "gz", "Token", "t", "clientRequestId", "1", "RequestClient", "SDK_Python_1.3"}, nil},
		{"policy empty means none", "CreateQueue", pol(""), nil},
		{"policy 0", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":1}`), nil},
		{"policy 0 max", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":1000}`), nil},
		{"policy 0 strings", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":"0","maxReceiveCount":"7"}`), nil},
		{"policy 1", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":1,"maxTimeToLive":43200}`), nil},
		{"policy not JSON", "CreateQueue", pol("dlq"), errPolicyJSON},
		{"policy JSON array", "CreateQueue", pol("[]"), errPolicyJSON},
		{"policy JSON null", "CreateQueue", pol("null"), errPolicyJSON},
		{"policy JSON string", "CreateQueue", pol(`"x"`), errPolicyJSON},
		{"policy truncated", "CreateQueue", pol(`{"deadLetterQueue":"dlq"`), errPolicyJSON},
		{"policy no queue", "CreateQueue", pol(`{"policy":0,"maxReceiveCount":1}`), cmq.ErrDeadLetterMissingQueue},
		{"policy queue not string", "CreateQueue", pol(`{"deadLetterQueue":5,"policy":0,"maxReceiveCount":1}`), cmq.ErrDeadLetterMissingQueue},
		{"policy queue empty", "CreateQueue", pol(`{"deadLetterQueue":"","policy":0,"maxReceiveCount":1}`), cmq.ErrDeadLetterMissingQueue},
		{"policy no policy", "CreateQueue", pol(`{"deadLetterQueue":"dlq","maxReceiveCount":1}`), cmq.ErrDeadLetterPolicyKind},
		{"policy 2", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":2,"maxReceiveCount":1}`), cmq.ErrDeadLetterPolicyKind},
		{"policy true", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":true}`), cmq.ErrDeadLetterPolicyKind},
		{"policy 0.5", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":0.5}`), cmq.ErrDeadLetterPolicyKind},
		{"maxReceiveCount missing", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":0}`), cmq.ErrDeadLetterPolicy},
		{"maxReceiveCount 0", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":0}`), cmq.ErrDeadLetterPolicy},
		{"maxReceiveCount 1001", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":1001}`), cmq.ErrDeadLetterPolicy},
		{"maxReceiveCount 1.5", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":1.5}`), cmq.ErrDeadLetterPolicy},
		{"maxReceiveCount text", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":0,"maxReceiveCount":"x"}`), cmq.ErrDeadLetterPolicy},
		{"maxTimeToLive 299", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":1,"maxTimeToLive":299}`), cmq.ErrDeadLetterPolicy},
		{"maxTimeToLive 43201", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":1,"maxTimeToLive":43201}`), cmq.ErrDeadLetterPolicy},
		{"maxTimeToLive huge", "CreateQueue", pol(`{"deadLetterQueue":"dlq","policy":1,"maxTimeToLive":` + big + `}`), cmq.ErrDeadLetterPolicy},
		{"maxTimeToLive not below retention", "CreateQueue", []string{"queueName", "new", "msgRetentionSeconds", "300",
			"deadLetterPolicy", `{"deadLetterQueue":"dlq","policy":1,"maxTimeToLive":300}`}, cmq.ErrDeadLetterPolicy},
		{"policy queue missing", "CreateQueue", pol(`{"deadLetterQueue":"nope","policy":0,"maxReceiveCount":1}`), cmq.ErrDeadLetterQueueNotExist},
		{"policy queue bad name", "CreateQueue", pol(`{"deadLetterQueue":"1 x","policy":0,"maxReceiveCount":1}`), cmq.ErrDeadLetterQueueNotExist},
		{"policy queue is a source", "SetQueueAttributes", []string{"queueName", "dlq", "deadLetterPolicy", `{"deadLetterQueue":"q","policy":0,"maxReceiveCount":1}`}, nil},
		{"policy queue is itself", "SetQueueAttributes", []string{"queueName", "q", "deadLetterPolicy", `{"deadLetterQueue":"q","policy":0,"maxReceiveCount":1}`}, cmq.ErrDeadLetterNested},

		// ListQueue
		{"list", "ListQueue", nil, nil},
		{"list limit 1", "ListQueue", []string{"limit", "1"}, nil},
		{"list limit 50", "ListQueue", []string{"limit", "50"}, nil},
		{"list limit 0 is the default", "ListQueue", []string{"limit", "0"}, nil},
		{"list limit 51", "ListQueue", []string{"limit", "51"}, oor("limit")},
		{"list limit -1", "ListQueue", []string{"limit", "-1"}, oor("limit")},
		{"list limit text", "ListQueue", []string{"limit", "ten"}, detail(errType, "limit")},
		{"list offset past the end", "ListQueue", []string{"offset", "100", "limit", "20"}, nil},
		{"list offset -1", "ListQueue", []string{"offset", "-1"}, oor("offset")},
		{"list offset text", "ListQueue", []string{"offset", "x"}, detail(errType, "offset")},
		{"list searchWord", "ListQueue", []string{"searchWord", "no such queue"}, nil},

		// GetQueueAttributes, SetQueueAttributes, DeleteQueue
		{"get", "GetQueueAttributes", []string{"queueName", "q"}, nil},
		{"get case-insensitive", "GetQueueAttributes", []string{"queueName", "Q"}, nil},
		{"get no name", "GetQueueAttributes", nil, detail(errMissing, "queueName")},
		{"get missing", "GetQueueAttributes", []string{"queueName", "nope"}, cmq.ErrQueueNotExist},
		{"get bad name", "GetQueueAttributes", []string{"queueName", "-x"}, cmq.ErrQueueNameFormat},
		{"set", "SetQueueAttributes", []string{"queueName", "q", "pollingWaitSeconds", "5", "visibilityTimeout", "60", "maxMsgSize", "4096", "msgRetentionSeconds", "600", "rewindSeconds", "60", "maxMsgHeapNum", "2000000"}, nil},
		{"set nothing", "SetQueueAttributes", []string{"queueName", "q"}, nil},
		{"set missing", "SetQueueAttributes", []string{"queueName", "nope", "visibilityTimeout", "60"}, cmq.ErrQueueNotExist},
		{"set visibilityTimeout 0", "SetQueueAttributes", []string{"queueName", "q", "visibilityTimeout", "0"}, oor("visibilityTimeout")},
		{"set retention below rewind", "SetQueueAttributes", []string{"queueName", "rw", "msgRetentionSeconds", "599"}, cmq.ErrRewindPeriod},
		{"set text", "SetQueueAttributes", []string{"queueName", "q", "maxMsgSize", "big"}, detail(errType, "maxMsgSize")},
		{"delete queue", "DeleteQueue", []string{"queueName", "q"}, nil},
		{"delete queue missing", "DeleteQueue", []string{"queueName", "nope"}, cmq.ErrQueueNotExist},
		{"delete queue no name", "DeleteQueue", nil, detail(errMissing, "queueName")},

		// RewindQueue
		{"rewind", "RewindQueue", []string{"queueName", "rw", "startConsumeTime", "$now+0"}, nil},
		{"rewind earliest", "RewindQueue", []string{"queueName", "rw", "startConsumeTime", "$now-599"}, nil},
		{"rewind too early", "RewindQueue", []string{"queueName", "rw", "startConsumeTime", "$now-601"}, cmq.ErrRewindTime},
		{"rewind future", "RewindQueue", []string{"queueName", "rw", "startConsumeTime", "$now+1"}, cmq.ErrRewindTime},
		{"rewind huge", "RewindQueue", []string{"queueName", "rw", "startConsumeTime", "9223372036854775807"}, cmq.ErrRewindTime},
		{"rewind huge negative", "RewindQueue", []string{"queueName", "rw", "startConsumeTime", "-9223372036854775808"}, cmq.ErrRewindTime},
		{"rewind too big", "RewindQueue", []string{"queueName", "rw", "startConsumeTime", big}, oor("startConsumeTime")},
		{"rewind disabled", "RewindQueue", []string{"queueName", "q", "startConsumeTime", "$now+0"}, cmq.ErrRewindDisabled},
		{"rewind no time", "RewindQueue", []string{"queueName", "rw"}, detail(errMissing, "startConsumeTime")},
		{"rewind text", "RewindQueue", []string{"queueName", "rw", "startConsumeTime", "now"}, detail(errType, "startConsumeTime")},
		{"rewind missing queue", "RewindQueue", []string{"queueName", "nope", "startConsumeTime", "$now+0"}, cmq.ErrQueueNotExist},

		// SendMessage
		{"send", "SendMessage", []string{"queueName", "q", "msgBody", "x"}, nil},
		{"send delay 3600", "SendMessage", []string{"queueName", "q", "msgBody", "x", "delaySeconds", "3600"}, nil},
		{"send delay 3601", "SendMessage", []string{"queueName", "q", "msgBody", "x", "delaySeconds", "3601"}, oor("delaySeconds")},
		{"send delay -1", "SendMessage", []string{"queueName", "q", "msgBody", "x", "delaySeconds", "-1"}, oor("delaySeconds")},
		{"send delay huge", "SendMessage", []string{"queueName", "q", "msgBody", "x", "delaySeconds", big}, oor("delaySeconds")},
		{"send delay text", "SendMessage", []string{"queueName", "q", "msgBody", "x", "delaySeconds", "1.5"}, detail(errType, "delaySeconds")},
		{"send no body", "SendMessage", []string{"queueName", "q"}, detail(errMissing, "msgBody")},
		{"send empty body", "SendMessage", []string{"queueName", "q", "msgBody", ""}, cmq.ErrEmptyMessage},
		{"send body at max", "SendMessage", []string{"queueName", "q", "msgBody", strings.Repeat("x", 65536)}, nil},
		{"send body too large", "SendMessage", []string{"queueName", "q", "msgBody", strings.Repeat("x", 65537)}, cmq.ErrMessageTooLarge},
		{"send multibyte counts bytes", "SendMessage", []string{"queueName", "q", "msgBody", strings.Repeat("é", 32769)}, cmq.ErrMessageTooLarge},
		{"send missing queue", "SendMessage", []string{"queueName", "nope", "msgBody", "x"}, cmq.ErrQueueNotExist},
		{"send no queue", "SendMessage", []string{"msgBody", "x"}, detail(errMissing, "queueName")},

		// BatchSendMessage (arrays: TestArrays)
		{"batch send", "BatchSendMessage", []string{"queueName", "q", "msgBody.0", "x", "delaySeconds", "10"}, nil},
		{"batch send delay 3601", "BatchSendMessage", []string{"queueName", "q", "msgBody.0", "x", "delaySeconds", "3601"}, oor("delaySeconds")},
		{"batch send empty body", "BatchSendMessage", []string{"queueName", "q", "msgBody.0", "x", "msgBody.1", ""}, cmq.ErrEmptyMessage},
		{"batch send body too large", "BatchSendMessage", []string{"queueName", "q", "msgBody.1", strings.Repeat("x", 65537)}, cmq.ErrMessageTooLarge},
		{"batch send scalar body", "BatchSendMessage", []string{"queueName", "q", "msgBody", "x"}, detail(errMissing, "msgBody.n")},

		// ReceiveMessage, BatchReceiveMessage
		{"receive empty", "ReceiveMessage", []string{"queueName", "q"}, cmq.ErrNoMessage},
		{"receive wait 30", "ReceiveMessage", []string{"queueName", "q", "pollingWaitSeconds", "30"}, cmq.ErrNoMessage},
		{"receive wait 31", "ReceiveMessage", []string{"queueName", "q", "pollingWaitSeconds", "31"}, oor("pollingWaitSeconds")},
		{"receive wait -1", "ReceiveMessage", []string{"queueName", "q", "pollingWaitSeconds", "-1"}, oor("pollingWaitSeconds")},
		{"receive wait huge", "ReceiveMessage", []string{"queueName", "q", "pollingWaitSeconds", big}, oor("pollingWaitSeconds")},
		{"receive wait text", "ReceiveMessage", []string{"queueName", "q", "pollingWaitSeconds", "x"}, detail(errType, "pollingWaitSeconds")},
		{"receive UserpollingWaitSeconds ignored", "ReceiveMessage", []string{"queueName", "q", "UserpollingWaitSeconds", "30000"}, cmq.ErrNoMessage},
		{"receive missing queue", "ReceiveMessage", []string{"queueName", "nope"}, cmq.ErrQueueNotExist},
		{"batch receive 1", "BatchReceiveMessage", []string{"queueName", "q", "numOfMsg", "1"}, cmq.ErrNoMessage},
		{"batch receive 16", "BatchReceiveMessage", []string{"queueName", "q", "numOfMsg", "16"}, cmq.ErrNoMessage},
		{"batch receive 0", "BatchReceiveMessage", []string{"queueName", "q", "numOfMsg", "0"}, cmq.ErrBatchSize},
		{"batch receive 17", "BatchReceiveMessage", []string{"queueName", "q", "numOfMsg", "17"}, cmq.ErrBatchSize},
		{"batch receive huge", "BatchReceiveMessage", []string{"queueName", "q", "numOfMsg", "9223372036854775807"}, cmq.ErrBatchSize},
		{"batch receive no count", "BatchReceiveMessage", []string{"queueName", "q"}, detail(errMissing, "numOfMsg")},
		{"batch receive text", "BatchReceiveMessage", []string{"queueName", "q", "numOfMsg", "all"}, detail(errType, "numOfMsg")},
		{"batch receive wait 31", "BatchReceiveMessage", []string{"queueName", "q", "numOfMsg", "1", "pollingWaitSeconds", "31"}, oor("pollingWaitSeconds")},

		// DeleteMessage, BatchDeleteMessage
		{"delete bad handle", "DeleteMessage", []string{"queueName", "q", "receiptHandle", "x"}, cmq.ErrInvalidReceiptHandle},
		{"delete no handle", "DeleteMessage", []string{"queueName", "q"}, detail(errMissing, "receiptHandle")},
		{"delete missing queue", "DeleteMessage", []string{"queueName", "nope", "receiptHandle", "x"}, cmq.ErrQueueNotExist},
		{"batch delete bad handle", "BatchDeleteMessage", []string{"queueName", "q", "receiptHandle.1", "x"}, cmq.ErrBatchDeleteFailed},
		{"batch delete no handles", "BatchDeleteMessage", []string{"queueName", "q"}, detail(errMissing, "receiptHandle.n")},
		{"batch delete gap", "BatchDeleteMessage", []string{"queueName", "q", "receiptHandle.1", "x", "receiptHandle.3", "y"}, detail(errNotContig, "receiptHandle")},
		{"batch delete missing queue", "BatchDeleteMessage", []string{"queueName", "nope", "receiptHandle.1", "x"}, cmq.ErrQueueNotExist},

		// Dead letters
		{"sources", "ListDeadLetterSourceQueues", []string{"deadLetterQueueName", "dlq"}, nil},
		{"sources no name", "ListDeadLetterSourceQueues", nil, detail(errMissing, "deadLetterQueueName")},
		{"sources missing", "ListDeadLetterSourceQueues", []string{"deadLetterQueueName", "nope"}, cmq.ErrQueueNotExist},
		{"sources bad name", "ListDeadLetterSourceQueues", []string{"deadLetterQueueName", "9"}, cmq.ErrQueueNameFormat},
		{"sources limit 51", "ListDeadLetterSourceQueues", []string{"deadLetterQueueName", "dlq", "limit", "51"}, oor("limit")},
		{"sources offset text", "ListDeadLetterSourceQueues", []string{"deadLetterQueueName", "dlq", "offset", "x"}, detail(errType, "offset")},
		{"unbind none", "UnbindDeadLetterQueue", []string{"queueName", "q"}, cmq.ErrDeadLetterQueueNotExist},
		{"unbind missing", "UnbindDeadLetterQueue", []string{"queueName", "nope"}, cmq.ErrQueueNotExist},
		{"unbind no name", "UnbindDeadLetterQueue", nil, detail(errMissing, "queueName")},
	}
}

// setupParamQueues creates q (no rewind), rw (rewind 600 s) and dlq.
func setupParamQueues(t *testing.T, b *cmq.Broker) {
	t.Helper()
	_, err := b.CreateQueue(t.Context(), "q", attrsZero)
	require.NoError(t, err)
	_, err = b.CreateQueue(t.Context(), "rw", cmq.QueueAttributes{RewindPeriod: cmq.Ptr(600 * time.Second)})
	require.NoError(t, err)
	_, err = b.CreateQueue(t.Context(), "dlq", attrsZero)
	require.NoError(t, err)
}

var nowRE = regexp.MustCompile(`^\$now([+-]\d+)$`)

// runParamCase sends tt with c and checks the outcome.
func runParamCase(t *testing.T, ctx context.Context, c *client, tt paramCase) {
	t.Helper()
	kv := slices.Clone(tt.kv)
	for i, v := range kv {
		if m := nowRE.FindStringSubmatch(v); m != nil {
			off, _ := strconv.ParseInt(m[1], 10, 64)
			kv[i] = strconv.FormatInt(time.Now().Unix()+off, 10)
		}
	}
	vals := c.params(tt.action, kv...)
	if tt.action == "" {
		delete(vals, "Action")
		if c.id != "" {
			c.sign(vals)
		}
	}
	st, r := c.send(t, ctx, vals)
	assert.Equal(t, http.StatusOK, st)
	if tt.want == nil {
		requireOK(t, r)
		return
	}
	// The broker may add a detail after CMQ's text.
	assert.Equal(t, tt.want.Code, r.code(), "code; response %v", r)
	assert.True(t, strings.HasPrefix(r.str("message"), tt.want.WireMessage()),
		"message %q, want %q", r.str("message"), tt.want.WireMessage())
}

// TestParameters runs paramCases in virtual time, in memory.
func TestParameters(t *testing.T) {
	for _, tt := range paramCases() {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, Config{})
				setupParamQueues(t, e.b)
				runParamCase(t, t.Context(), e.c, tt)
			})
		})
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := parsePolicy(`{"deadLetterQueue":"d","policy":1,"maxReceiveCount":"4","maxTimeToLive":600,"extra":[1]}`)
	require.NoError(t, err)
	assert.Equal(t, cmq.DeadLetterPolicy{DeadLetterQueue: "d", Kind: cmq.DeadLetterOnTimeToLive, MaxReceiveCount: 4, MaxTimeToLive: 600 * time.Second}, *p)
}

func TestSecs(t *testing.T) {
	assert.Equal(t, 5*time.Second, secs(5))
	assert.Equal(t, -5*time.Second, secs(-5))
	assert.Equal(t, time.Duration(math.MaxInt64), secs(math.MaxInt64))
	assert.Equal(t, time.Duration(math.MinInt64), secs(math.MinInt64))
	assert.Equal(t, time.Duration(maxSecs)*time.Second, secs(maxSecs))
	assert.Equal(t, int64(1), seconds(time.Millisecond), "rounded up")
	assert.Equal(t, int64(30), seconds(30*time.Second))
}
