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
	// MaxNonces caps the nonces remembered against replays, per SecretId
	// (about 50 bytes each). A full table forgets the Timestamp second
	// farthest from now and refuses that second from then on (4480/10460)
	// until it leaves the window; so does a table full of the request's
	// own second. Honest clients are never refused for longer than
	// [SignatureWindow]. 0 means 100,000 (about 5 MB per SecretId).
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

// action runs one CMQ action and returns its answer: nil when it has no
// fields of its own (the answer is then a bare [Response]).
type action func(ctx context.Context, p *params) (answer, error)

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
		h.tooLarge = errParse.WithMessage("cannot parse request, or request size is more than %d bytes", h.maxBytes)
	}
	if h.now == nil {
		h.now = time.Now
	}
	maxNonces := c.MaxNonces
	if maxNonces <= 0 {
		maxNonces = 100_000
	}
	h.nonces = newNonceCache(maxNonces, int64(SignatureWindow/time.Second))
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
	}
	return h
}

// ServeHTTP answers one CMQ request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	action, queue, why := "", "", ""
	out, err := answer(nil), error(nil)
	func() {
		if r.URL.Path != Path {
			err = detail(errPath, r.URL.Path)
			return
		}
		var p *params
		if p, err = h.read(w, r); err != nil {
			return
		}
		queue, action = p.peek("queueName"), p.peek("Action")
		if len(h.creds) > 0 {
			if why, err = h.authenticate(r.Method, r.Host, p); err != nil {
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
		out, err = run(r.Context(), p)
	}()
	if out == nil {
		out = &Response{}
	}
	code, msg := 0, ""
	if err != nil {
		e := cmq.AsError(err)
		code, msg = e.Code, e.WireMessage()
	}
	*out.common() = Response{Code: code, Message: msg, RequestID: reqID}
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
