package cmqhttp

import (
	"container/heap"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SignatureWindow is how far a request's Timestamp may be from the
// server's clock, either way, and how long a Nonce is remembered.
const SignatureWindow = 300 * time.Second

// Path is the one path CMQ's API is served on.
const Path = "/v2/index.php"

// StringToSign returns what CMQ's signature algorithm signs: method, host (with
// any port), Path, "?", then name=value for every parameter except
// Signature, sorted by name in byte order, with raw values and every '_' in
// a name replaced by '.', joined by '&'. With skipAt, values that begin
// with '@' are left out, as the Python and PHP SDKs do on POST.
func StringToSign(method, host string, params [][2]string, skipAt bool) string {
	return StringToSignAt(method, host, Path, params, skipAt)
}

// StringToSignAt is [StringToSign] for a request to path ([Path] or
// [RootPath]).
func StringToSignAt(method, host, path string, params [][2]string, skipAt bool) string {
	ps := slices.Clone(params)
	slices.SortFunc(ps, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	var sb strings.Builder
	sb.WriteString(method)
	sb.WriteString(host)
	sb.WriteString(path)
	sb.WriteByte('?')
	first := true
	for _, p := range ps {
		if p[0] == "Signature" || skipAt && strings.HasPrefix(p[1], "@") {
			continue
		}
		if !first {
			sb.WriteByte('&')
		}
		first = false
		sb.WriteString(normName(p[0]))
		sb.WriteByte('=')
		sb.WriteString(p[1])
	}
	return sb.String()
}

// Sign returns Base64(HMAC(key, s)) with SHA-256 when method is
// "HmacSHA256" and SHA-1 otherwise, as CMQ's SignatureMethod selects.
func Sign(method, key, s string) string {
	h := sha1.New
	if method == "HmacSHA256" {
		h = sha256.New
	}
	return signWith(h, key, s)
}

func signWith(h func() hash.Hash, key, s string) string {
	mac := hmac.New(h, []byte(key))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// authenticate checks the signature, timestamp and nonce of a request when
// credentials are configured. It returns the SecretId, and a detail for
// the log when it refuses.
func (h *Handler) authenticate(method, host, path string, p *params) (string, string, error) {
	id, err := p.required("SecretId")
	if err != nil {
		return "", "", err
	}
	key, ok := h.creds[id]
	switch {
	case !ok && !strings.HasPrefix(id, "AKID"):
		return id, "SecretId without AKID", errSecretAKID
	case !ok:
		return id, "unknown SecretId", errSecretID
	}
	got, err := p.required("Signature")
	if err != nil {
		return id, "", err
	}
	tsText, err := p.required("Timestamp")
	if err != nil {
		return id, "", err
	}
	nonceText, err := p.required("Nonce")
	if err != nil {
		return id, "", err
	}
	ts, err := parseInt("Timestamp", tsText)
	if err != nil {
		return id, "", err
	}
	nonce, err := strconv.ParseUint(nonceText, 10, 64)
	if err != nil {
		return id, "", detail(errType, "Nonce")
	}
	pairs := make([][2]string, len(p.list))
	hasAt := false
	for i, x := range p.list {
		pairs[i] = [2]string{x.name, x.value}
		hasAt = hasAt || strings.HasPrefix(x.value, "@")
	}
	sm, _, err := p.optional("SignatureMethod")
	if err != nil {
		return id, "", err
	}
	if !h.signatureMatches(sm, key, got, StringToSignAt(method, host, path, pairs, false)) &&
		!(hasAt && method == "POST" && h.signatureMatches(sm, key, got, StringToSignAt(method, host, path, pairs, true))) {
		return id, "signature mismatch", errAuth
	}
	now := h.now().Unix()
	win := int64(SignatureWindow / time.Second)
	if ts < now-win || ts > now+win {
		return id, "timestamp outside the window", errAuth
	}
	switch h.nonces.add(id+"\x00"+strconv.FormatUint(nonce, 10), now, max(ts, now)+win) {
	case nonceReplayed:
		return id, "nonce replayed", errAuth
	case nonceFull:
		return id, "nonce cache full", errSlowDown
	}
	return id, "", nil
}

func (h *Handler) signatureMatches(method, key, got, s string) bool {
	want := Sign(method, key, s)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// nonceCache remembers the nonces of accepted requests until their
// replay could no longer pass the timestamp check. It is bounded: expired
// entries are dropped on every add (amortised O(log n), no goroutine), and
// it never holds more than max entries.
type nonceCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]int64 // key -> expiry, Unix seconds
	exp  expiryHeap
}

type nonceResult int

const (
	nonceOK nonceResult = iota
	nonceReplayed
	nonceFull
)

func newNonceCache(max int) *nonceCache {
	return &nonceCache{max: max, seen: make(map[string]int64)}
}

// add records key until the instant until unless it is already recorded
// (a replay) or the cache is full. now and until are Unix seconds.
func (c *nonceCache) add(key string, now, until int64) nonceResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.exp) > 0 && c.exp[0].at <= now {
		e := heap.Pop(&c.exp).(expiry)
		if c.seen[e.key] == e.at {
			delete(c.seen, e.key)
		}
	}
	if at, ok := c.seen[key]; ok && at > now {
		return nonceReplayed
	}
	if len(c.seen) >= c.max {
		return nonceFull
	}
	if n := len(c.exp); n == 0 && cap(c.exp) > 1024 {
		c.exp = nil // give back the memory of a past burst
	}
	c.seen[key] = until
	heap.Push(&c.exp, expiry{key: key, at: until})
	return nonceOK
}

// len returns the number of remembered nonces.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type expiry struct {
	key string
	at  int64
}

// expiryHeap is a min-heap of expiries, for container/heap.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
