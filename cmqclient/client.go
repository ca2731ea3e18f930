package cmqclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/opencmq/cmq/internal/signing"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opencmq/cmq"
)

// Kind says which actions an endpoint offers.
type Kind int

const (
	// KindAuto detects the kind from the endpoint: [KindDataFlow] for a
	// host under tencenttdmq.com or an mqadapter.cmq host, [KindFull]
	// otherwise.
	KindAuto Kind = iota
	// KindFull: every queue action of CMQ's API (cmqd, a legacy CMQ
	// region).
	KindFull
	// KindDataFlow: TDMQ-CMQ's data-flow endpoint, messages only (send,
	// receive, delete and their batches). TDMQ manages queues through
	// another API (TencentCloud API 3.0), so the management actions return
	// [ErrUnsupported] without a request.
	KindDataFlow
)

func (k Kind) String() string {
	switch k {
	case KindAuto:
		return "auto"
	case KindFull:
		return "full"
	case KindDataFlow:
		return "data-flow"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Defaults of [Config].
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxAttempts      = 3
	DefaultRetryBackoff     = 50 * time.Millisecond
	DefaultMaxRetryBackoff  = time.Second
	DefaultMaxResponseBytes = 128 << 20
	// DefaultQueueWait is the longest wait assumed for a receive that
	// uses the queue's own pollingWaitSeconds ([cmq.QueueWait]): CMQ's
	// maximum.
	DefaultQueueWait = 30 * time.Second
	// LegacyPath is the path of CMQ's API on cmqd and on legacy CMQ
	// regions.
	LegacyPath = "/v2/index.php"
	// RequestClient is sent as the RequestClient parameter.
	RequestClient = "SDK_GO_OpenCMQ"
)

// Config configures a [Client]. The zero Config sends unsigned requests
// (for a cmqd without credentials), detects the endpoint's kind, and uses
// the defaults above.
type Config struct {
	// SecretID and SecretKey sign every request. Empty SecretID: requests
	// are not signed (cmqd without credentials accepts them).
	SecretID, SecretKey string
	// Token is the session token of temporary credentials, sent as Token.
	Token string
	// SignatureMethod is [HmacSHA1] (the default when empty) or
	// [HmacSHA256].
	SignatureMethod string
	// AppID is sent as appId on unsigned requests (TDMQ's private
	// deployments identify the account this way). 0 sends nothing.
	AppID uint64
	// Kind is the endpoint's kind; [KindAuto] (zero) detects it.
	Kind Kind
	// HTTPClient sends the requests. Nil means a client of this package's
	// own, whose Transport keeps up to 64 idle connections per host. Its
	// Timeout should be 0: the client sets a deadline per request (see
	// Timeout), and a fixed Timeout would cut long polls short.
	HTTPClient *http.Client
	// Timeout bounds one attempt of a request, on top of a receive's wait.
	// 0 means [DefaultTimeout].
	Timeout time.Duration
	// MaxAttempts is how many times a request is sent when the transport
	// fails (see the package doc); 0 means [DefaultMaxAttempts], 1 turns
	// retries off.
	MaxAttempts int
	// RetryBackoff is the backoff before the first retry; it doubles
	// for each further retry up to MaxRetryBackoff, with jitter (a random
	// half of it is taken off). 0 means [DefaultRetryBackoff] and
	// [DefaultMaxRetryBackoff].
	RetryBackoff, MaxRetryBackoff time.Duration
	// MaxResponseBytes bounds the body of a response; 0 means
	// [DefaultMaxResponseBytes].
	MaxResponseBytes int64
	// QueueWait is the longest wait of a receive that uses the queue's own
	// wait ([cmq.QueueWait]); 0 means [DefaultQueueWait].
	QueueWait time.Duration
}

// Client calls one CMQ endpoint. It implements [cmq.Service]. It is safe
// for concurrent use; make one per endpoint with [New] and share it (the
// zero Client is not usable). It holds no
// goroutine; [Client.CloseIdleConnections] lets go of idle connections.
type Client struct {
	url      string // the endpoint, as requests are sent to it
	host     string // signed host, with any port
	path     string // signed path
	kind     Kind
	c        Config
	hc       *http.Client
	ownHC    bool
	clientID atomic.Uint64
	signer   *signing.Signer // with credentials
}

// New returns a client for endpoint, an http or https URL:
//
//	http://127.0.0.1:8080                                 cmqd (path /v2/index.php)
//	https://cmq-gz.public.tencenttdmq.com                 TDMQ-CMQ (path /, data flow)
//	https://cmq-queue-gz.api.qcloud.com/v2/index.php      a legacy CMQ region
//
// An endpoint with no path is served at [LegacyPath] unless it is a
// TDMQ-CMQ host (see [KindAuto]), which is served at "/"; a path, "/"
// included, is kept as given (cmqd serves both "/v2/index.php" and "/").
// The path is part of what is signed. New fails, sending nothing, on an endpoint that is not
// such a URL or on a Config value out of range.
func New(endpoint string, c Config) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("cmqclient: endpoint: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("cmqclient: endpoint %q: the scheme must be http or https", endpoint)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("cmqclient: endpoint %q: want scheme://host[:port][/path], no user, query or fragment", endpoint)
	}
	tdmq := isTDMQHost(u.Hostname())
	switch {
	case u.Path != "":
	case tdmq:
		u.Path = "/"
	default:
		u.Path = LegacyPath
	}
	u.RawPath = ""
	switch c.SignatureMethod {
	case "":
		c.SignatureMethod = HmacSHA1
	case HmacSHA1, HmacSHA256:
	default:
		return nil, fmt.Errorf("cmqclient: SignatureMethod %q: want %s or %s", c.SignatureMethod, HmacSHA1, HmacSHA256)
	}
	if c.SecretID == "" && (c.SecretKey != "" || c.Token != "") {
		return nil, errors.New("cmqclient: SecretKey or Token without SecretID")
	}
	if c.SecretID != "" && c.SecretKey == "" {
		return nil, errors.New("cmqclient: SecretID without SecretKey")
	}
	switch c.Kind {
	case KindAuto:
		c.Kind = KindFull
		if tdmq {
			c.Kind = KindDataFlow
		}
	case KindFull, KindDataFlow:
	default:
		return nil, fmt.Errorf("cmqclient: unknown %v", c.Kind)
	}
	if c.Timeout < 0 || c.MaxAttempts < 0 || c.RetryBackoff < 0 || c.MaxRetryBackoff < 0 || c.MaxResponseBytes < 0 || c.QueueWait < 0 {
		return nil, errors.New("cmqclient: negative Timeout, MaxAttempts, RetryBackoff, MaxRetryBackoff, MaxResponseBytes or QueueWait")
	}
	c.Timeout = cmp(c.Timeout, DefaultTimeout)
	c.MaxAttempts = cmp(c.MaxAttempts, DefaultMaxAttempts)
	c.RetryBackoff = cmp(c.RetryBackoff, DefaultRetryBackoff)
	c.MaxRetryBackoff = max(cmp(c.MaxRetryBackoff, DefaultMaxRetryBackoff), c.RetryBackoff)
	c.MaxResponseBytes = cmp(c.MaxResponseBytes, DefaultMaxResponseBytes)
	c.QueueWait = cmp(c.QueueWait, DefaultQueueWait)
	cl := &Client{url: u.String(), host: u.Host, path: u.Path, kind: c.Kind, c: c, hc: c.HTTPClient}
	if cl.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 64
		cl.hc, cl.ownHC = &http.Client{Transport: t}, true
	}
	if c.SecretID != "" {
		cl.signer = signing.NewSigner(c.SignatureMethod, c.SecretKey)
	}
	cl.clientID.Store(rand.Uint64N(1 << 32))
	return cl, nil
}

// cmp returns v, or def when v is zero.
func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// isTDMQHost reports whether host is one of TDMQ-CMQ's data-flow hosts.
func isTDMQHost(host string) bool {
	host = strings.ToLower(host)
	return strings.HasSuffix(host, ".tencenttdmq.com") || strings.Contains(host, ".mqadapter.cmq.")
}

// Endpoint returns the URL requests are sent to.
func (c *Client) Endpoint() string { return c.url }

// Kind returns the endpoint's kind.
func (c *Client) Kind() Kind { return c.kind }

// CloseIdleConnections closes the idle connections of the client's
// transport. The client stays usable.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// management returns ErrUnsupported, naming action, on a data-flow
// endpoint.
func (c *Client) management(action string) error {
	if c.kind == KindDataFlow {
		return fmt.Errorf("cmqclient: %s: %w", action, ErrUnsupported)
	}
	return nil
}

// call sends action with ps and returns the decoded response when its code
// is 0, and otherwise the *cmq.Error it carries (with the response, for
// the errorList of a batch delete). wait is the long poll's wait, added to
// the attempt's timeout. A ctx already done sends nothing and returns
// ctx.Err().
func (c *Client) call(ctx context.Context, action string, wait time.Duration, ps ...param) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		r, retry, err := c.attempt(ctx, action, wait, ps)
		if err == nil || !retry || attempt >= c.c.MaxAttempts {
			return r, err
		}
		d := c.c.RetryBackoff << (attempt - 1)
		if d > c.c.MaxRetryBackoff || d <= 0 {
			d = c.c.MaxRetryBackoff
		}
		d -= rand.N(d/2 + 1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// attempt sends one request. retry reports a transport failure worth
// another attempt: no response (connection refused or reset, a timeout),
// or a 5xx whose body is not a CMQ response.
func (c *Client) attempt(ctx context.Context, action string, wait time.Duration, ps []param) (_ *response, retry bool, _ error) {
	actx, cancel := context.WithTimeout(ctx, c.c.Timeout+wait)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.url, strings.NewReader(c.form(action, ps)))
	if err != nil {
		return nil, false, fmt.Errorf("cmqclient: %s: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		if err := ctx.Err(); err != nil {
			// The caller's ctx ended the request: its error, as the
			// broker returns it.
			return nil, false, err
		}
		return nil, retryable(err), fmt.Errorf("cmqclient: %s %s: %w", action, c.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.c.MaxResponseBytes+1))
	if err != nil {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("cmqclient: %s: reading the response: %w: %w", action, ErrBadResponse, err)
	}
	if int64(len(body)) > c.c.MaxResponseBytes {
		return nil, false, fmt.Errorf("cmqclient: %s: %w: the response is longer than %d bytes", action, ErrBadResponse, c.c.MaxResponseBytes)
	}
	r, err := decode(body)
	if err != nil {
		// Any status with a CMQ body is a CMQ answer; without one, a 5xx
		// (a proxy's 502, 503, 504) is the transport's failure.
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("HTTP %s: %w", resp.Status, err)
		}
		return nil, resp.StatusCode >= 500, fmt.Errorf("cmqclient: %s: %w", action, err)
	}
	if *r.Code != 0 {
		return r, false, wireError(int64(*r.Code), r.Message)
	}
	return r, false, nil
}

// retryable reports whether a transport error may pass on retry: not a
// certificate that fails verification, nor a host that does not exist.
func retryable(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var dns *net.DNSError
	switch {
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &hn):
		return false
	case errors.As(err, &dns) && dns.IsNotFound:
		return false
	}
	return true
}

// form returns the request body: action's parameters, the common ones and,
// with credentials, the signature, form-encoded.
func (c *Client) form(action string, ps []param) string {
	all := make([]param, 0, len(ps)+10)
	all = append(all, param{Name: "Action", Value: action}, param{Name: "RequestClient", Value: RequestClient},
		param{Name: "clientRequestId", Value: strconv.FormatUint(c.clientID.Add(1), 10)})
	all = append(all, ps...)
	if c.c.SecretID == "" {
		if c.c.AppID != 0 {
			all = append(all, param{Name: "appId", Value: strconv.FormatUint(c.c.AppID, 10)})
		}
	} else {
		if c.c.Token != "" {
			all = append(all, param{Name: "Token", Value: c.c.Token})
		}
		all = append(all,
			param{Name: "SecretId", Value: c.c.SecretID},
			param{Name: "SignatureMethod", Value: c.c.SignatureMethod},
			param{Name: "Timestamp", Value: strconv.FormatInt(time.Now().Unix(), 10)},
			param{Name: "Nonce", Value: strconv.FormatUint(rand.Uint64N(1<<63-1)+1, 10)})
		all = append(all, param{Name: "Signature", Value: c.signer.Sign(http.MethodPost, c.host, c.path, all)})
	}
	n := len(all)
	for _, p := range all {
		n += len(p.Name) + len(p.Value) + 1
	}
	var b bytes.Buffer
	b.Grow(n + n/8) // room for a few escapes
	for i, p := range all {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.String()
}

// Client is a cmq.Service; it is not a cmq.ServiceExtensions, since CMQ's
// API has no such actions.
var _ cmq.Service = (*Client)(nil)
