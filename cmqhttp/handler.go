// Package cmqhttp serves a [cmq.Broker] over Tencent CMQ's legacy HTTP API
// (Action=… on /v2/index.php), so that the official CMQ SDKs and other
// existing clients work against it unchanged.
//
// # Wire protocol
//
// [NewHandler] returns an http.Handler for the paths [Path] and [RootPath]
// (TDMQ-CMQ's endpoint style, with its route queries; see RootPath). It accepts GET
// (parameters in the query string) and POST (parameters in the body, read
// as form data whatever the Content-Type, the query string ignored); any
// other method is 4000/10410. A request larger than
// [Config].MaxRequestBytes (1 MiB by default) is 4000/10420. Every API
// outcome, failures included, is HTTP 200 with a JSON object holding a
// number "code" (0 on success), a string "message" ("(module)text" on
// failure, from [cmq.Error.WireMessage]), a fresh "requestId", and the
// action's fields at the top level; a path other than [Path] is 4000/10400.
// A GET is limited by the http.Server's MaxHeaderBytes too: give it room
// for MaxRequestBytes, or net/http refuses a long query string with its own
// HTTP 431 before the handler sees it.
//
// Parameters follow CMQ: names are case-sensitive, '_' and '.' in a name
// are the same character, a name may appear once (4000/10330), values are
// UTF-8; arrays are name.0, name.1, … or name.1, name.2, …, contiguous
// (4000/10380) and at most [cmq.Limits].BatchSize long (4000/10370);
// unknown parameters (RequestClient, clientRequestId,
// UserpollingWaitSeconds, Region, Token, …) are ignored. A missing required
// parameter is 4000/10390 naming it, an integer that does not parse is
// 4000/10360, and ranges are the broker's (4000/10350 and friends). Times
// and durations are whole seconds on the wire; durations set through the Go
// API that are not whole seconds are shown rounded up.
//
// # Signatures
//
// With [Config].Credentials set, every request must carry SecretId,
// Signature, Timestamp and Nonce. The signature is checked as CMQ documents
// it (see [StringToSign] and [Sign]; HmacSHA1, or HmacSHA256 when
// SignatureMethod=HmacSHA256) over the Host header with its port. On POST a
// signature made without the values that begin with '@' (the Python and PHP
// SDKs' rule) is accepted too. An unknown SecretId is 4100/10270; a wrong
// signature, a Timestamp more than [SignatureWindow] from the server's
// clock, or a Nonce already accepted within that window is 4100/10030.
// Without credentials nothing is checked.
//
// # Long polling
//
// ReceiveMessage and BatchReceiveMessage wait up to their
// pollingWaitSeconds, or the queue's, on the request's context: a client
// that goes away ends its wait at once with nothing consumed. A wait ended
// by its context, for example when the server shuts down, is answered with
// 7000/10200 (no message), the answer CMQ gives to any wait that ends
// empty.
package cmqhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/opencmq/cmq"
)

// Config configures a [Handler]. The zero Config serves without
// signature checks, discards logs and allows 1 MiB requests.
type Config struct {
	// Credentials maps SecretId to SecretKey. When it is empty, signatures
	// are not checked (local development).
	Credentials map[string]string
	// Logger receives one Debug record per request (action, queue, code,
	// duration). Nil discards.
	Logger *slog.Logger
	// MaxRequestBytes is the largest request accepted: the body of a POST,
	// the query string of a GET. 0 means 1 MiB, CMQ's limit.
	MaxRequestBytes int64
	// MaxNonces caps the nonces remembered against replays; when it is
	// full of nonces younger than the window, signed requests are refused
	// with 4480/10460. 0 means 1,000,000.
	MaxNonces int
	// Now is the clock that Timestamps are checked against. Nil means
	// time.Now.
	Now func() time.Time
}

// Handler serves CMQ's queue actions for one broker. Make one with
// [NewHandler]; it is safe for concurrent use.
type Handler struct {
	b        *cmq.Broker
	creds    map[string]string
	log      *slog.Logger
	maxBytes int64
	tooLarge *cmq.Error // 4000/10420 for a request over maxBytes
	now      func() time.Time
	nonces   *nonceCache
	actions  map[string]action
}

// action runs one CMQ action and returns the fields of its response.
type action func(ctx context.Context, p *params) (fields, error)

// fields are the action-specific members of a response.
type fields map[string]any

// NewHandler returns a Handler that serves b as configured by c. It does
// not own b: closing b is the caller's job.
func NewHandler(b *cmq.Broker, c Config) *Handler {
	h := &Handler{
		b:        b,
		creds:    make(map[string]string, len(c.Credentials)),
		log:      c.Logger,
		maxBytes: c.MaxRequestBytes,
		now:      c.Now,
	}
	for id, key := range c.Credentials {
		h.creds[id] = key
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBytes <= 0 {
		h.maxBytes = 1 << 20
	}
	h.tooLarge = detail(errParse, "request")
	if h.maxBytes != 1<<20 { // CMQ's text names its own limit
		h.tooLarge = &cmq.Error{Code: errParse.Code, Module: errParse.Module,
			Message: fmt.Sprintf("cannot parse request, or request size is more than %d bytes", h.maxBytes)}
	}
	if h.now == nil {
		h.now = time.Now
	}
	maxNonces := c.MaxNonces
	if maxNonces <= 0 {
		maxNonces = 1_000_000
	}
	h.nonces = newNonceCache(maxNonces)
	h.actions = map[string]action{
		"CreateQueue":                h.createQueue,
		"ListQueue":                  h.listQueue,
		"GetQueueAttributes":         h.getQueueAttributes,
		"SetQueueAttributes":         h.setQueueAttributes,
		"DeleteQueue":                h.deleteQueue,
		"RewindQueue":                h.rewindQueue,
		"SendMessage":                h.sendMessage,
		"BatchSendMessage":           h.batchSendMessage,
		"ReceiveMessage":             h.receiveMessage,
		"BatchReceiveMessage":        h.batchReceiveMessage,
		"DeleteMessage":              h.deleteMessage,
		"BatchDeleteMessage":         h.batchDeleteMessage,
		"ListDeadLetterSourceQueues": h.listDeadLetterSourceQueues,
		"UnbindDeadLetterQueue":      h.unbindDeadLetterQueue,
		"QueryQueueRoute":            h.queryQueueRoute,
		"QueryTopicRoute":            h.queryTopicRoute,
	}
	return h
}

// ServeHTTP answers one CMQ request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	action, queue, why := "", "", ""
	out, err := fields(nil), error(nil)
	var p *params
	func() {
		if !servesPath(r.URL.Path) {
			err = detail(errPath, r.URL.Path)
			return
		}
		if p, err = h.read(w, r); err != nil {
			return
		}
		queue, action = p.peek("queueName"), p.peek("Action")
		if len(h.creds) > 0 {
			if _, why, err = h.authenticate(r.Method, r.Host, r.URL.Path, p); err != nil {
				return
			}
		}
		if action, err = p.required("Action"); err != nil {
			return
		}
		run, ok := h.actions[action]
		if !ok {
			err = detail(errAction, action)
			return
		}
		out, err = run(actionContext(r, action), p)
	}()
	if out == nil {
		out = fields{}
	}
	code, msg := 0, ""
	if err != nil {
		e := cmq.AsError(err)
		code, msg = e.Code, e.WireMessage()
	}
	out["code"], out["message"], out["requestId"] = code, msg, reqID
	out["clientRequestId"] = clientRequestID(p)
	writeJSON(w, out)
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.String("requestId", reqID),
			slog.String("method", r.Method),
			slog.String("action", action),
			slog.Int("code", code),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		}
		if queue != "" {
			attrs = append(attrs, slog.String("queue", queue))
		}
		if msg != "" {
			attrs = append(attrs, slog.String("message", msg))
		}
		if why != "" {
			attrs = append(attrs, slog.String("reason", why))
		}
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "request", attrs...)
	}
}

// read checks the method and size and parses the parameters: the query
// string of a GET, the body of a POST whatever its Content-Type.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) (*params, error) {
	switch r.Method {
	case http.MethodGet:
		if int64(len(r.URL.RawQuery)) > h.maxBytes {
			return nil, h.tooLarge
		}
		return parseParams(r.URL.RawQuery)
	case http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBytes))
		if err != nil {
			return nil, h.tooLarge
		}
		return parseParams(string(body))
	}
	return nil, detail(errMethod, r.Method)
}

// writeJSON writes v as the JSON response, HTTP 200, HTML characters
// unescaped.
func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value is a string, a number or a composite of them.
		panic(fmt.Sprintf("cmqhttp: encoding a response: %v", err))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// newRequestID returns a fresh request id: 32 hexadecimal digits.
func newRequestID() string {
	return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
}

// unix returns t in Unix seconds, 0 for the zero Time.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// seconds returns d in whole seconds, rounded up.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// noMessageOnCancel maps a receive ended by its context (the client went
// away, or the server is shutting down) to ErrNoMessage: the wait ended
// with nothing consumed.
func noMessageOnCancel(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return cmq.ErrNoMessage
	}
	return err
}
