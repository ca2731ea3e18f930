package cmqclient

import (
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
)

// The test vector of CMQ's signature documentation, and the SHA-256 and GET
// variants computed from the same string.
func TestSignVector(t *testing.T) {
	ps := []param{
		{"queueName", "test1"}, {"msgBody", "msg"}, {"delaySeconds", "0"},
		{"clientRequestId", "1231231231"}, {"Timestamp", "1534154812"},
		{"SignatureMethod", "HmacSHA1"}, {"SecretId", "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT"},
		{"RequestClient", "SDK_Python_1.3"}, {"Nonce", "2889712707386595659"}, {"Action", "SendMessage"},
	}
	const key = "pPgfLipfEXZ7VcRzhAMIyPaU7UbQyFFx"
	s := stringToSign("POST", "cmq-queue-gz.api.tencentyun.com", "/v2/index.php", ps)
	assert.Equal(t, "POSTcmq-queue-gz.api.tencentyun.com/v2/index.php?Action=SendMessage&Nonce=2889712707386595659&RequestClient=SDK_Python_1.3&SecretId=AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT&SignatureMethod=HmacSHA1&Timestamp=1534154812&clientRequestId=1231231231&delaySeconds=0&msgBody=msg&queueName=test1", s)
	tests := []struct{ method, s, want string }{
		{HmacSHA1, s, "C16WEtEXsD5v5tnaUMLAbZewXhI="},
		{HmacSHA256, s, "XPh4vnKmqz+7dMB5OVM7vodL3MunEEKMrHdwS9J2shk="},
		{HmacSHA1, "GET" + s[len("POST"):], "fkR3mzm6NfEbQqgF0B+Fd4rFLtM="},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, sign(tt.method, key, tt.s), tt.method)
	}
	// '_' in a name is signed as '.'; the path is the one requested.
	assert.Equal(t, "POSTh:1/?a.b=x_y", stringToSign("POST", "h:1", "/", []param{{"a_b", "x_y"}}))

	// The pooled signer gives the same signatures, again and again (its
	// states are reset between uses).
	for _, m := range []string{HmacSHA1, HmacSHA256} {
		sg := newSigner(m, key, "cmq-queue-gz.api.tencentyun.com", "/v2/index.php")
		for range 3 {
			assert.Equal(t, sign(m, key, s), sg.sign(ps), m)
		}
	}
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
