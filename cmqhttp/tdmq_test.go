package cmqhttp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/internal/cmqsigtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sdkClient builds requests the way TDMQ-CMQ's Go SDK does: a form POST
// (or GET) to the endpoint's path, "/" by default, Content-Type
// application/x-www-form-urlencoded, RequestClient SDK_GO_1.2.0, a
// clientRequestId, a Token when set, appId when there are no credentials,
// a uint32 Nonce, and a signature over METHOD + host + path + "?" + the
// parameters sorted by name with raw values and '_' in names read as '.'.
// It is written here from that description, not taken from the SDK.
type sdkClient struct {
	base, path       string
	hc               *http.Client
	method           string
	id, key, token   string
	sigMethod        string
	appID, requestID uint64
	nonce            uint64
}

// sdkResponse decodes an answer with the SDK's field types: a JSON string
// where it expects a uint64 fails the decode.
type sdkResponse struct {
	Code          int      `json:"code"`
	Message       string   `json:"Message"`
	RequestID     string   `json:"requestId"`
	ClientID      uint64   `json:"clientRequestId"`
	Addr          []string `json:"addr"`
	MsgID         string   `json:"msgId"`
	ReceiptHandle string   `json:"receiptHandle"`
	MsgIDs        []struct {
		MsgID string `json:"msgId"`
	} `json:"msgList"`
	MsgInfos []struct {
		MsgID         string `json:"msgId"`
		ReceiptHandle string `json:"receiptHandle"`
	} `json:"msgInfoList"`
	Errors []struct {
		Code          int    `json:"code"`
		Message       string `json:"Message"`
		ReceiptHandle string `json:"receiptHandle"`
	} `json:"errorList"`
}

func (c *sdkClient) do(t *testing.T, ctx context.Context, action string, kv ...string) sdkResponse {
	t.Helper()
	v := url.Values{}
	v.Set("Action", action)
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	v.Set("RequestClient", "SDK_GO_1.2.0")
	if c.requestID > 0 {
		v.Set("clientRequestId", strconv.FormatUint(c.requestID, 10))
	}
	host := strings.TrimPrefix(c.base, "http://")
	if c.id == "" {
		if c.appID > 0 {
			v.Set("appId", strconv.FormatUint(c.appID, 10))
		}
	} else {
		if c.token != "" {
			v.Set("Token", c.token)
		}
		c.nonce++
		v.Set("SecretId", c.id)
		v.Set("SignatureMethod", c.sigMethod)
		v.Set("Nonce", strconv.FormatUint(c.nonce, 10))
		v.Set("Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
		v.Set("Signature", sdkSign(c.method, host, c.path, v, c.key, c.sigMethod))
	}
	var req *http.Request
	var err error
	if c.method == http.MethodGet {
		req, err = http.NewRequestWithContext(ctx, c.method, c.base+c.path+"?"+v.Encode(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, c.method, c.base+c.path, strings.NewReader(v.Encode()))
	}
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var r sdkResponse
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	return r
}

// sdkSign signs as the SDK does; path is the endpoint's.
func sdkSign(method, host, path string, v url.Values, key, sigMethod string) string {
	m := make(map[string]string, len(v))
	for k := range v {
		m[k] = v.Get(k)
	}
	return cmqsigtest.SignPath(method, host, path, m, key, sigMethod)
}

func sdkFor(c *client, path string) *sdkClient {
	return &sdkClient{base: c.base, path: path, hc: c.hc, method: http.MethodPost, sigMethod: "HmacSHA1", requestID: 4_000_000_000}
}

func (c *sdkClient) signed(id, key string) *sdkClient {
	d := *c
	d.id, d.key = id, key
	return &d
}

// The SDK's whole data flow against "/" (and "/v2/index.php"), signed both
// ways and sent both ways, every answer echoing clientRequestId as the
// uint64 the SDK decodes.
func TestTDMQDataFlow(t *testing.T) {
	for _, path := range []string{RootPath, Path} {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			for _, sm := range []string{"HmacSHA1", "HmacSHA256"} {
				t.Run(path+" "+method+" "+sm, func(t *testing.T) {
					b, c := server(t, signedCfg, nil)
					ctx := t.Context()
					_, err := b.CreateQueue(ctx, "q", attrsZero)
					require.NoError(t, err)
					s := sdkFor(c, path).signed(e2eID, e2eKey)
					s.method, s.sigMethod, s.token = method, sm, "session-token"

					check := func(r sdkResponse, code int) {
						t.Helper()
						assert.Equal(t, code, r.Code, r.Message)
						assert.Equal(t, s.requestID, r.ClientID, "clientRequestId echoed")
						assert.Regexp(t, `^[0-9a-f]{32}$`, r.RequestID)
						s.requestID++
					}
					r := s.do(t, ctx, "SendMessage", "queueName", "q", "msgBody", "hello & <tdmq>", "delaySeconds", "0")
					check(r, 0)
					assert.NotEmpty(t, r.MsgID)
					r = s.do(t, ctx, "BatchSendMessage", "queueName", "q", "msgBody.0", "a", "msgBody.1", "b", "delaySeconds", "0")
					check(r, 0)
					assert.Len(t, r.MsgIDs, 2)
					r = s.do(t, ctx, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0")
					check(r, 0)
					require.NotEmpty(t, r.ReceiptHandle)
					r = s.do(t, ctx, "DeleteMessage", "queueName", "q", "receiptHandle", r.ReceiptHandle)
					check(r, 0)
					r = s.do(t, ctx, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "16", "pollingWaitSeconds", "0")
					check(r, 0)
					require.Len(t, r.MsgInfos, 2)
					r = s.do(t, ctx, "BatchDeleteMessage", "queueName", "q", "receiptHandle.0", r.MsgInfos[0].ReceiptHandle, "receiptHandle.1", "bogus")
					check(r, 6010)
					require.Len(t, r.Errors, 1)
					assert.Equal(t, 4430, r.Errors[0].Code)
					assert.Equal(t, "(10260)receipt handle is invalid", r.Errors[0].Message)
					r = s.do(t, ctx, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0")
					check(r, 7000)
					assert.Equal(t, "(10200)no message", r.Message)
					r = s.do(t, ctx, "QueryQueueRoute", "queueName", "q")
					check(r, 0)
					assert.Equal(t, []string{strings.TrimPrefix(c.base, "http://")}, r.Addr)
					// Management actions are served on "/" too.
					r = s.do(t, ctx, "CreateQueue", "queueName", "made-here")
					check(r, 0)
				})
			}
		}
	}
}

// A signature covers the path requested: one made for the other path is
// refused.
func TestTDMQSignaturePath(t *testing.T) {
	_, c := server(t, signedCfg, nil)
	ctx := t.Context()
	tests := []struct{ sendTo, signFor string }{
		{RootPath, Path},
		{Path, RootPath},
	}
	for i, tt := range tests {
		s := sdkFor(c, tt.sendTo).signed(e2eID, e2eKey)
		s.nonce = uint64(1000 * (i + 1)) // nonces are remembered per SecretId
		v := url.Values{"Action": {"ListQueue"}, "SecretId": {e2eID}, "Nonce": {"77"},
			"Timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}}
		v.Set("Signature", sdkSign("POST", strings.TrimPrefix(c.base, "http://"), tt.signFor, v, e2eKey, ""))
		req, err := http.NewRequestWithContext(ctx, "POST", c.base+tt.sendTo, strings.NewReader(v.Encode()))
		require.NoError(t, err)
		res, err := s.hc.Do(req)
		require.NoError(t, err)
		var r sdkResponse
		require.NoError(t, json.NewDecoder(res.Body).Decode(&r))
		res.Body.Close()
		assert.Equal(t, errAuth.Code, r.Code, "sent to %s, signed for %s", tt.sendTo, tt.signFor)
		assert.Equal(t, errAuth.WireMessage(), r.Message)
		// The same request signed for where it goes passes.
		assert.Equal(t, 0, s.do(t, ctx, "ListQueue").Code)
	}
}

// clientRequestId is echoed as a number in every answer, failures and the
// legacy path included: its value when it is an unsigned integer, else 0.
func TestTDMQClientRequestID(t *testing.T) {
	_, c := server(t, Config{}, nil)
	tests := []struct {
		sent string // "" sends none
		want uint64
	}{
		{"", 0},
		{"0", 0},
		{"1231231231", 1231231231},
		{"18446744073709551615", 18446744073709551615},
		{"18446744073709551616", 0},
		{"-1", 0},
		{"abc", 0},
		{" 7", 0},
	}
	for _, tt := range tests {
		for _, path := range []string{RootPath, Path, "/elsewhere"} {
			for _, action := range []string{"ListQueue", "NoSuchAction"} {
				body := "Action=" + action
				if tt.sent != "" {
					body += "&clientRequestId=" + url.QueryEscape(tt.sent)
				}
				res, err := c.hc.Post(c.base+path, "", strings.NewReader(body))
				require.NoError(t, err)
				raw, err := io.ReadAll(res.Body)
				res.Body.Close()
				require.NoError(t, err)
				var m map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(raw, &m))
				want := tt.want
				if path == "/elsewhere" {
					want = 0 // a request to a path not served is not read
				}
				assert.Equal(t, strconv.FormatUint(want, 10), string(m["clientRequestId"]), "%q %s %s", tt.sent, path, action)
			}
		}
	}
}

// Route queries: the server's own address for a queue that exists, CMQ's
// errors otherwise; the same for topics.
func TestTDMQRoutes(t *testing.T) {
	b, c := server(t, Config{}, nil)
	ctx := t.Context()
	_, err := b.CreateQueue(ctx, "orders", attrsZero)
	require.NoError(t, err)
	_, err = b.CreateTopic(ctx, "events", cmq.TopicAttributes{})
	require.NoError(t, err)
	s := sdkFor(c, RootPath)
	s.appID = 1250000000 // a private deployment's unsigned request
	self := []string{strings.TrimPrefix(c.base, "http://")}
	tests := []struct {
		action string
		kv     []string
		code   int
		msg    string
		addr   []string
	}{
		{"QueryQueueRoute", []string{"queueName", "orders"}, 0, "", self},
		{"QueryQueueRoute", []string{"queueName", "ORDERS"}, 0, "", self},
		{"QueryQueueRoute", []string{"queueName", "missing"}, 4440, cmq.ErrQueueNotExist.WireMessage(), nil},
		{"QueryQueueRoute", []string{"queueName", "1bad"}, 4000, cmq.ErrQueueNameFormat.WireMessage(), nil},
		{"QueryQueueRoute", []string{"queueName", strings.Repeat("a", 65)}, 4000, cmq.ErrQueueNameFormat.WireMessage(), nil},
		{"QueryQueueRoute", nil, 4000, detail(errMissing, "queueName").WireMessage(), nil},
		{"QueryTopicRoute", []string{"topicName", "events"}, 0, "", self},
		{"QueryTopicRoute", []string{"topicName", "EVENTS"}, 0, "", self},
		{"QueryTopicRoute", []string{"topicName", "a-1"}, 4440, cmq.ErrTopicNotExist.WireMessage(), nil},
		{"QueryTopicRoute", []string{"topicName", "1bad"}, 4000, errTopicName.WireMessage(), nil},
		{"QueryTopicRoute", []string{"topicName", "a_b"}, 4000, errTopicName.WireMessage(), nil},
		{"QueryTopicRoute", []string{"topicName", ""}, 4000, errTopicName.WireMessage(), nil},
		{"QueryTopicRoute", []string{"topicName", strings.Repeat("a", 65)}, 4000, errTopicName.WireMessage(), nil},
		{"QueryTopicRoute", nil, 4000, detail(errMissing, "topicName").WireMessage(), nil},
		{"PublishMessage", []string{"topicName", "nope", "msgBody", "x"}, 4440, cmq.ErrTopicNotExist.WireMessage(), nil},
	}
	for _, tt := range tests {
		r := s.do(t, ctx, tt.action, tt.kv...)
		assert.Equal(t, tt.code, r.Code, "%s %v", tt.action, tt.kv)
		assert.Equal(t, tt.msg, r.Message, "%s %v", tt.action, tt.kv)
		assert.Equal(t, tt.addr, r.Addr, "%s %v", tt.action, tt.kv)
		assert.Equal(t, s.requestID, r.ClientID)
	}
}

func TestRouteAddr(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 8080}
	tests := []struct {
		host string
		tls  bool
		want string
	}{
		{"cmq.example.com:9000", false, "cmq.example.com:9000"},
		{"cmq.example.com", false, "cmq.example.com:80"},
		{"cmq.example.com", true, "cmq.example.com:443"},
		{"[::1]:8080", false, "[::1]:8080"},
		{"[::1]", false, "[::1]:80"},
		{"127.0.0.1", true, "127.0.0.1:443"},
		{"", false, "10.0.0.5:8080"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", nil)
		r.Host = tt.host
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
		assert.Equal(t, tt.want, routeAddr(r), "%q tls=%v", tt.host, tt.tls)
	}
}
