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
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/opencmq/cmq"
)

// Config configures a [Handler]. The zero Config serves without
// signature checks, discards logs, allows 1 MiB requests, buffers at most
// 256 MiB of large requests and answers and gives each answer 30 s to be
// written.
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
	// MaxMemory bounds the bytes that large requests and answers in flight
	// hold together: a request over [SmallBytes] reserves twice its size
	// (the body, and the parameters parsed from it) before it is read,
	// until its parameters have been used; an answer over SmallBytes
	// reserves its encoded size until it is written. One that finds the
	// budget spent waits up to MemoryWait, then is answered 4480/10460
	// (server busy); a received message that cannot be answered is made
	// visible again. Requests and answers up to SmallBytes are not counted:
	// the server's cap on connections bounds them. 0 means 256 MiB;
	// negative means no bound.
	MaxMemory int64
	// MemoryWait is how long a request or answer waits for MaxMemory.
	// 0 means 1 s.
	MemoryWait time.Duration
	// WriteTimeout bounds the writing of one answer. It is set when the
	// answer is ready, after a long poll's wait, so that a client that
	// does not read cannot hold the answer's memory and connection longer;
	// a received message whose answer fails is made visible again. 0 means
	// 30 s; negative means none.
	WriteTimeout time.Duration
	// Now is the clock that Timestamps are checked against. Nil means
	// time.Now.
	Now func() time.Time
	// Observe, when not nil, is called once per request after its answer
	// is written, with the action ("" unless it is one the handler
	// serves, so the values are few), CMQ's code in the answer, and the
	// time from the request's start (a long poll's wait included). cmqd
	// feeds its latency histograms with it. It must be safe for
	// concurrent use and quick.
	Observe func(action string, code int, d time.Duration)
}

// SmallBytes is the size up to which a request or an answer is not counted
// against [Config].MaxMemory.
const SmallBytes = 64 << 10

// Handler serves CMQ's queue actions for one broker. Make one with
// [NewHandler]; it is safe for concurrent use.
type Handler struct {
	b            *cmq.Broker
	creds        map[string]*verifier // by SecretId
	log          *slog.Logger
	maxBytes     int64
	tooLarge     *cmq.Error // 4000/10420 for a request over maxBytes
	now          func() time.Time
	nonces       *nonceCache
	mem          *budget
	writeTimeout time.Duration
	actions      map[string]action
	observe      func(action string, code int, d time.Duration)
}

// action runs one CMQ action and returns its answer: nil when it has no
// fields of its own (the answer is then a bare [Response]).
type action func(ctx context.Context, p *params) (answer, error)

// NewHandler returns a Handler that serves b as configured by c. It does
// not own b: closing b is the caller's job.
func NewHandler(b *cmq.Broker, c Config) *Handler {
	h := &Handler{
		b:        b,
		creds:    make(map[string]*verifier, len(c.Credentials)),
		log:      c.Logger,
		maxBytes: c.MaxRequestBytes,
		now:      c.Now,
		observe:  c.Observe,
	}
	for id, key := range c.Credentials {
		h.creds[id] = newVerifier(key)
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
	h.mem = newBudget(c.MaxMemory, c.MemoryWait)
	h.writeTimeout = c.WriteTimeout
	if h.writeTimeout == 0 {
		h.writeTimeout = 30 * time.Second
	}
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
	h.addTopicActions()
	return h
}

// ServeHTTP answers one CMQ request.
//
// Serve it with an http.Server whose ReadTimeout bounds the reading of a
// whole request (net/http lifts that deadline once the body is read, so it
// does not cut a long poll) and whose WriteTimeout is 0: ServeHTTP sets a
// write deadline of [Config].WriteTimeout when the answer is ready, after
// the wait.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	rc := http.NewResponseController(w)
	action, queue, why := "", "", ""
	out, err := answer(nil), error(nil)
	var p *params
	var clientID uint64
	defer func() { p.free() }()
	func() {
		if !servesPath(r.URL.Path) {
			err = detail(errPath, r.URL.Path)
			return
		}
		if p, err = h.read(r); err != nil {
			return
		}
		clientID = clientRequestID(p)
		queue, action = p.peek("queueName"), p.peek("Action")
		if len(h.creds) > 0 {
			if why, err = h.authenticate(r.Method, r.Host, r.URL.Path, p); err != nil {
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
	p.free()
	if g, ok := out.(handOver); ok && r.Context().Err() != nil {
		// The client left while its messages were taken: give them back
		// rather than answer a closed connection.
		g.giveBack()
		out, err, why = nil, cmq.ErrNoMessage, "client gone: messages made visible again"
	}
	// Only answers that hand messages over can be large: reserve their
	// memory before encoding them.
	var size int64
	if g, ok := out.(handOver); ok {
		if size = g.maxSize(); size <= SmallBytes {
			size = 0
		} else if h.mem.acquire(r.Context(), size) != nil {
			g.giveBack()
			why = fmt.Sprintf("no memory for an answer of up to %d bytes", size)
			out, err, size = nil, errBusy, 0
		}
	}
	body, code, msg := encode(out, err, reqID, clientID, size)
	if size > 0 {
		defer h.mem.release(size)
	}
	if h.writeTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(h.writeTimeout))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, werr := w.Write(body)
	if werr == nil {
		if werr = rc.Flush(); errors.Is(werr, http.ErrNotSupported) {
			werr = nil
		}
	}
	if g, ok := out.(handOver); ok && werr != nil {
		g.giveBack()
		why = "answer not written: messages made visible again"
	}
	if h.observe != nil {
		known := action
		if _, ok := h.actions[action]; !ok {
			known = ""
		}
		h.observe(known, code, time.Since(start))
	}
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
		if werr != nil {
			attrs = append(attrs, slog.String("writeError", werr.Error()))
		}
		h.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelDebug, "request", attrs...)
	}
}

// encode returns the JSON answer: out (a bare Response when nil) with the
// code and message of err, HTML characters unescaped.
func encode(out answer, err error, reqID string, clientID uint64, sizeHint int64) (body []byte, code int, msg string) {
	if out == nil {
		out = &Response{}
	}
	if err != nil {
		e := cmq.AsError(err)
		code, msg = e.Code, e.WireMessage()
	}
	*out.common() = Response{Code: code, Message: msg, RequestID: reqID, ClientRequestID: clientID}
	var buf bytes.Buffer
	buf.Grow(int(sizeHint)) // one allocation for a large answer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		// Every field is a string, a number or a composite of them.
		panic(fmt.Sprintf("cmqhttp: encoding a response: %v", err))
	}
	return buf.Bytes(), code, msg
}

// read checks the method and size and parses the parameters: the query
// string of a GET, the body of a POST whatever its Content-Type. A request
// over SmallBytes first reserves twice its size from the memory budget;
// the parameters' free gives it back.
func (h *Handler) read(r *http.Request) (*params, error) {
	var n int64
	switch r.Method {
	case http.MethodGet:
		n = int64(len(r.URL.RawQuery))
	case http.MethodPost:
		n = r.ContentLength
		if n < 0 { // chunked: the most it may be
			n = h.maxBytes
		}
	default:
		return nil, detail(errMethod, r.Method)
	}
	if n > h.maxBytes {
		return nil, h.tooLarge
	}
	var reserved int64
	if n > SmallBytes {
		reserved = 2 * n
		if err := h.mem.acquire(r.Context(), reserved); err != nil {
			return nil, errBusy
		}
	}
	text := r.URL.RawQuery
	if r.Method == http.MethodPost {
		body, ok := readBody(r.Body, r.ContentLength, h.maxBytes)
		if !ok {
			h.mem.release(reserved)
			return nil, h.tooLarge
		}
		text = body
	}
	p, err := parseParams(text)
	if err != nil {
		h.mem.release(reserved)
		return nil, err
	}
	p.release = func() { h.mem.release(reserved) }
	return p, nil
}

// bodyBufs holds the buffers request bodies are read into, each of at
// most SmallBytes (a larger body gets a buffer of its own, counted in the
// memory budget with the string made from it).
var bodyBufs = sync.Pool{New: func() any { return new([]byte) }}

// readBody reads a request body of n bytes (-1 if unknown) and returns it,
// or false if it is longer than limit or cannot be read. Its only
// allocation is the string returned, of exactly the body's size: the bytes
// are read into a pooled buffer, or, for a body over SmallBytes, into one
// of the size Content-Length gives.
func readBody(body io.Reader, n, limit int64) (string, bool) {
	bp := bodyBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	if n >= 0 && int64(cap(buf)) <= n {
		buf = make([]byte, 0, n+1) // one byte more to see the end
	}
	ok := false
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(512, len(buf)))
		}
		// Never read more than one byte past the limit.
		k, err := body.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+k]
		if int64(len(buf)) > limit {
			break
		}
		if err == io.EOF {
			ok = true
			break
		}
		if err != nil {
			break
		}
	}
	s := ""
	if ok {
		s = string(buf)
	}
	if cap(buf) <= SmallBytes {
		*bp = buf[:0]
	}
	bodyBufs.Put(bp)
	return s, ok
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
