package cmqclient

import (
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
)

// The client signs what CMQ's documentation signs (the vectors themselves
// are internal/signing's tests); '_' in a name is signed as '.'; the path
// is the one requested.
func TestStringToSign(t *testing.T) {
	ps := []param{
		{Name: "queueName", Value: "test1"}, {Name: "msgBody", Value: "msg"}, {Name: "delaySeconds", Value: "0"},
		{Name: "clientRequestId", Value: "1231231231"}, {Name: "Timestamp", Value: "1534154812"},
		{Name: "SignatureMethod", Value: "HmacSHA1"}, {Name: "SecretId", Value: "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT"},
		{Name: "RequestClient", Value: "SDK_Python_1.3"}, {Name: "Nonce", Value: "2889712707386595659"}, {Name: "Action", Value: "SendMessage"},
	}
	s := stringToSign("POST", "cmq-queue-gz.api.tencentyun.com", "/v2/index.php", ps)
	assert.Equal(t, "POSTcmq-queue-gz.api.tencentyun.com/v2/index.php?Action=SendMessage&Nonce=2889712707386595659&RequestClient=SDK_Python_1.3&SecretId=AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT&SignatureMethod=HmacSHA1&Timestamp=1534154812&clientRequestId=1231231231&delaySeconds=0&msgBody=msg&queueName=test1", s)
	assert.Equal(t, "POSTh:1/?a.b=x_y", stringToSign("POST", "h:1", "/", []param{{Name: "a_b", Value: "x_y"}}))
}

func TestWireError(t *testing.T) {
	tests := []struct {
		name     string
		code     int64
		msg      string
		want     *cmq.Error
		sentinel *cmq.Error // errors.Is must hold; nil: must match none checked
		same     bool       // the sentinel itself is returned
	}{
		{"no message", 7000, "(10200)no message", cmq.ErrNoMessage, cmq.ErrNoMessage, true},
		{"detail kept", 4000, "(10350)parameter delaySeconds value or length is out of range",
			&cmq.Error{Code: 4000, Module: 10350, Message: "parameter delaySeconds value or length is out of range"}, cmq.ErrOutOfRange, false},
		{"no module, unique code", 4430, "invalid receiptHandle",
			&cmq.Error{Code: 4430, Module: 10260, Message: "invalid receiptHandle"}, cmq.ErrInvalidReceiptHandle, false},
		{"no module, empty text", 7000, "", cmq.ErrNoMessage, cmq.ErrNoMessage, true},
		{"no module, shared code", 4000, "bad", &cmq.Error{Code: 4000, Module: 0, Message: "bad"}, nil, false},
		{"unknown module", 4100, "(10030)authentication failed", &cmq.Error{Code: 4100, Module: 10030, Message: "authentication failed"}, nil, false},
		{"not a module", 4000, "(abc)x", &cmq.Error{Code: 4000, Module: 0, Message: "(abc)x"}, nil, false},
		{"unclosed", 4000, "(10200", &cmq.Error{Code: 4000, Module: 0, Message: "(10200"}, nil, false},
		{"empty", 5000, "", &cmq.Error{Code: 5000, Module: 0, Message: "error code 5000"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wireError(tt.code, tt.msg)
			assert.Equal(t, tt.want, got)
			if tt.sentinel != nil {
				assert.ErrorIs(t, got, tt.sentinel)
			} else {
				assert.NotErrorIs(t, got, cmq.ErrInvalidParameter)
				assert.NotErrorIs(t, got, cmq.ErrNoMessage)
			}
			if tt.same {
				assert.Same(t, tt.sentinel, got)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{0, 0}, {time.Second, 1}, {time.Millisecond, 1}, {1500 * time.Millisecond, 2},
		{-time.Millisecond, -1}, {-time.Second, -1}, {-1500 * time.Millisecond, -2}, {30 * time.Second, 30},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, seconds(tt.d), "%v", tt.d)
	}
}

func TestDecodePolicy(t *testing.T) {
	want := &cmq.DeadLetterPolicy{DeadLetterQueue: "dlq", Kind: cmq.DeadLetterOnTimeToLive, MaxTimeToLive: 300 * time.Second}
	tests := []struct {
		raw     string
		want    *cmq.DeadLetterPolicy
		wantErr bool
	}{
		{``, nil, false},
		{`null`, nil, false},
		{`""`, nil, false},
		{`"{\"deadLetterQueue\":\"dlq\",\"policy\":1,\"maxTimeToLive\":300}"`, want, false},
		{`{"deadLetterQueue":"dlq","policy":"1","maxTimeToLive":"300"}`, want, false},
		{`{"policy":0}`, nil, false},
		{`"not json"`, nil, true},
		{`{"deadLetterQueue":5}`, nil, true},
		{`[1]`, nil, true},
	}
	for _, tt := range tests {
		got, err := decodePolicy([]byte(tt.raw))
		if tt.wantErr {
			assert.Error(t, err, tt.raw)
			continue
		}
		assert.NoError(t, err, tt.raw)
		assert.Equal(t, tt.want, got, tt.raw)
	}
}

// Nothing a server sends makes the client panic: decode and every
// conversion of a decoded response.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"code":0,"msgId":"a","msgBody":"b","enqueueTime":1,"dequeueCount":"2"}`,
		`{"code":"7000","message":"(10200)no message"}`,
		`{"code":6010,"errorList":[{"code":4430,"message":"(10260)x","receiptHandle":"h"}]}`,
		`{"code":0,"deadLetterPolicy":"{\"deadLetterQueue\":\"d\",\"policy\":1}","queueList":[{"queueId":"q"}]}`,
		`{"code":0,"msgInfoList":[{"msgId":"a","nextVisibleTime":99999999999999}]}`,
		`<html>`, ``, `null`, `{"code":1e3}`, `{"code":"(","message":")("}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decode(body)
		if err != nil {
			return
		}
		_ = wireError(int64(*r.Code), r.Message)
		_ = r.message()
		for i := range r.MsgInfoList {
			_ = r.MsgInfoList[i].message()
		}
		for _, e := range r.ErrorList {
			_ = wireError(int64(e.Code), e.Message)
		}
		_, _ = decodePolicy(r.DeadLetterPolicy)
		_ = summaries(r)
	})
}
