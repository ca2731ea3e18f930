package cmqhttp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/internal/cmqsigtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// client is a small CMQ client for the tests. It signs when id is set.
type client struct {
	base        string // scheme://host[:port]
	hc          *http.Client
	id, key     string
	sigMethod   string // "" (SHA-1) or "HmacSHA256"
	method      string // "POST" (default) or "GET"
	contentType string // POST Content-Type; "" sends none
	nonce       atomic.Uint64
}

func newClient(base string, hc *http.Client) *client {
	return &client{base: base, hc: hc, method: http.MethodPost}
}

// signed returns a copy of c that signs with id and key.
func (c *client) signed(id, key string) *client {
	d := &client{base: c.base, hc: c.hc, id: id, key: key, sigMethod: c.sigMethod, method: c.method, contentType: c.contentType}
	d.nonce.Store(c.nonce.Load() + 1000)
	return d
}

// params builds the request parameters for action: kv are name, value
// pairs; common parameters and the signature are added when c signs.
func (c *client) params(action string, kv ...string) map[string]string {
	vals := map[string]string{"Action": action, "RequestClient": "SDK_GO_test"}
	for i := 0; i+1 < len(kv); i += 2 {
		vals[kv[i]] = kv[i+1]
	}
	if c.id != "" {
		vals["SecretId"] = c.id
		vals["Timestamp"] = strconv.FormatInt(time.Now().Unix(), 10)
		vals["Nonce"] = strconv.FormatUint(c.nonce.Add(1)+12345, 10)
		if c.sigMethod != "" {
			vals["SignatureMethod"] = c.sigMethod
		}
		c.sign(vals)
	}
	return vals
}

// sign (re)computes the Signature of vals.
func (c *client) sign(vals map[string]string) {
	vals["Signature"] = cmqsigtest.Sign(c.method, strings.TrimPrefix(strings.TrimPrefix(c.base, "http://"), "https://"), vals, c.key, vals["SignatureMethod"])
}

// call sends action with kv and decodes the answer; it requires HTTP 200.
func (c *client) call(t *testing.T, ctx context.Context, action string, kv ...string) resp {
	t.Helper()
	status, r := c.send(t, ctx, c.params(action, kv...))
	require.Equal(t, http.StatusOK, status, "HTTP status")
	return r
}

// send sends vals as they are.
func (c *client) send(t *testing.T, ctx context.Context, vals map[string]string) (int, resp) {
	t.Helper()
	form := url.Values{}
	for k, v := range vals {
		form.Set(k, v)
	}
	return c.sendRaw(t, ctx, c.method, Path, form.Encode())
}

// sendRaw sends an encoded parameter string with method to path.
func (c *client) sendRaw(t *testing.T, ctx context.Context, method, path, encoded string) (int, resp) {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequestWithContext(ctx, method, c.base+path+"?"+encoded, nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(encoded))
		if err == nil && c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
	}
	require.NoError(t, err)
	res, err := c.hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
	return res.StatusCode, decode(t, body)
}

// resp is a decoded response.
type resp map[string]any

func decode(t *testing.T, body []byte) resp {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var r resp
	require.NoError(t, dec.Decode(&r), "response %q", body)
	require.IsType(t, json.Number(""), r["code"], "code must be a JSON number: %s", body)
	require.IsType(t, "", r["message"], "message: %s", body)
	require.Regexp(t, `^[0-9a-f]{32}$`, r["requestId"], "requestId: %s", body)
	// Every answer echoes clientRequestId as a number (tdmq_test.go checks
	// its value); the tests here compare the other fields.
	require.IsType(t, json.Number(""), r["clientRequestId"], "clientRequestId must be a JSON number: %s", body)
	delete(r, "clientRequestId")
	return r
}

func (r resp) code() int { return r.int("code") }

func (r resp) int(k string) int {
	n, ok := r[k].(json.Number)
	if !ok {
		panic("response field " + k + " is not a number")
	}
	v, err := n.Int64()
	if err != nil {
		panic(err)
	}
	return int(v)
}

func (r resp) str(k string) string {
	s, _ := r[k].(string)
	return s
}

func (r resp) list(k string) []resp {
	l, _ := r[k].([]any)
	out := make([]resp, len(l))
	for i, x := range l {
		out[i] = resp(x.(map[string]any))
	}
	return out
}

var moduleRE = regexp.MustCompile(`^\((\d+)\)`)

// module returns the module code at the front of the message, 0 if none.
func (r resp) module() int {
	m := moduleRE.FindStringSubmatch(r.str("message"))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// requireOK fails unless r is a success.
func requireOK(t *testing.T, r resp) {
	t.Helper()
	require.Equal(t, 0, r.code(), "response %v", r)
	require.Equal(t, "", r.str("message"))
}

// assertErr checks code and module.
func assertErr(t *testing.T, r resp, code, module int) {
	t.Helper()
	assert.Equal(t, code, r.code(), "code; response %v", r)
	assert.Equal(t, module, r.module(), "module; response %v", r)
}

// assertIs checks that r carries e's code, module and wire message.
func assertIs(t *testing.T, r resp, e *cmq.Error) {
	t.Helper()
	assert.Equal(t, e.Code, r.code(), "code; response %v", r)
	assert.Equal(t, e.WireMessage(), r.str("message"), "message")
}

// handlerTransport is an in-memory http.RoundTripper that calls a handler
// directly, so tests can run inside a synctest bubble (real sockets cannot).
type handlerTransport struct{ h http.Handler }

func (tr handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := req.Clone(req.Context())
	if s.Host == "" {
		s.Host = req.URL.Host
	}
	s.RequestURI = req.URL.RequestURI()
	s.RemoteAddr = "192.0.2.1:40000"
	if s.Body == nil {
		s.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, s)
	return rec.Result(), nil
}

// memHost is the host in-memory clients use; it has a port, as the
// signature must cover it.
const memHost = "cmq.test:8080"

// env is a broker, its handler and an unsigned in-memory client. Build it
// inside the synctest bubble.
type env struct {
	b *cmq.Broker
	h *Handler
	c *client
}

func newEnv(t *testing.T, cfg Config, opts ...cmq.Option) *env {
	t.Helper()
	b, err := cmq.NewBroker(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	h := NewHandler(b, cfg)
	return &env{b: b, h: h, c: newClient("http://"+memHost, &http.Client{Transport: handlerTransport{h}})}
}

// limits returns DefaultLimits changed by f.
func limits(f func(*cmq.Limits)) cmq.Option {
	l := cmq.DefaultLimits()
	f(&l)
	return cmq.WithLimits(l)
}
