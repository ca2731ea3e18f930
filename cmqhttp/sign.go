package cmqhttp

import (
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
	ps := make([]param, len(params))
	for i, p := range params {
		ps[i] = param{p[0], p[1]}
	}
	return string(appendStringToSign(nil, method, host, path, ps, skipAt))
}

// appendStringToSign appends the string to sign of ps to b. Parameters of
// the same name keep their order.
func appendStringToSign(b []byte, method, host, path string, ps []param, skipAt bool) []byte {
	var small [64]int
	order := small[:0]
	if len(ps) > len(small) {
		order = make([]int, 0, len(ps))
	}
	for i := range ps {
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(i, j int) int { return strings.Compare(ps[i].name, ps[j].name) })
	b = append(b, method...)
	b = append(b, host...)
	b = append(b, path...)
	b = append(b, '?')
	first := true
	for _, i := range order {
		p := &ps[i]
		if p.name == "Signature" || skipAt && strings.HasPrefix(p.value, "@") {
			continue
		}
		if !first {
			b = append(b, '&')
		}
		first = false
		for k := range len(p.name) { // normName, without a string of its own
			c := p.name[k]
			if c == '_' {
				c = '.'
			}
			b = append(b, c)
		}
		b = append(b, '=')
		b = append(b, p.value...)
	}
	return b
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

// verifier checks the signatures made with one SecretKey. It keeps keyed
// HMAC states, with buffers for the string to sign and the signature, in
// a pool per hash, so that a check neither keys an HMAC again nor
// allocates.
type verifier struct {
	sha1, sha256 sync.Pool // of *macState
}

type macState struct {
	mac hash.Hash
	buf []byte // the string to sign
	sum [sha256.Size]byte
	enc [(sha256.Size + 2) / 3 * 4]byte // Base64 of sum
}

func newVerifier(key string) *verifier {
	pool := func(h func() hash.Hash) sync.Pool {
		return sync.Pool{New: func() any { return &macState{mac: hmac.New(h, []byte(key))} }}
	}
	return &verifier{sha1: pool(sha1.New), sha256: pool(sha256.New)}
}

// matches reports whether got is Base64(HMAC(key, string to sign)) for
// the request, with SHA-256 when sigMethod is "HmacSHA256" and SHA-1
// otherwise. The comparison takes the same time wherever got differs.
func (v *verifier) matches(sigMethod, got, method, host, path string, ps []param, skipAt bool) bool {
	pool := &v.sha1
	if sigMethod == "HmacSHA256" {
		pool = &v.sha256
	}
	st := pool.Get().(*macState)
	defer pool.Put(st)
	st.buf = appendStringToSign(st.buf[:0], method, host, path, ps, skipAt)
	st.mac.Reset()
	st.mac.Write(st.buf)
	sum := st.mac.Sum(st.sum[:0])
	enc := st.enc[:base64.StdEncoding.EncodedLen(len(sum))]
	base64.StdEncoding.Encode(enc, sum)
	if len(st.buf) > 64<<10 {
		st.buf = nil // do not keep a large request's buffer
	}
	if len(enc) != len(got) {
		return false
	}
	var diff byte
	for i := range enc {
		diff |= enc[i] ^ got[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// authenticate checks the signature, timestamp and nonce of a request when
// credentials are configured, over the path requested ([Path] or
// [RootPath]). When it refuses, why says so for the log (empty when the
// error says it all).
func (h *Handler) authenticate(method, host, path string, p *params) (why string, err error) {
	id, err := p.required("SecretId")
	if err != nil {
		return "", err
	}
	v, ok := h.creds[id]
	switch {
	case !ok && !strings.HasPrefix(id, "AKID"):
		return "SecretId without AKID", errSecretAKID
	case !ok:
		return "unknown SecretId", errSecretID
	}
	got, err := p.required("Signature")
	if err != nil {
		return "", err
	}
	tsText, err := p.required("Timestamp")
	if err != nil {
		return "", err
	}
	nonceText, err := p.required("Nonce")
	if err != nil {
		return "", err
	}
	ts, err := parseInt("Timestamp", tsText)
	if err != nil {
		return "", err
	}
	nonce, err := strconv.ParseUint(nonceText, 10, 64)
	if err != nil {
		return "", detail(errType, "Nonce")
	}
	hasAt := false
	for _, x := range p.list {
		hasAt = hasAt || strings.HasPrefix(x.value, "@")
	}
	sm, _, err := p.optional("SignatureMethod")
	if err != nil {
		return "", err
	}
	if !v.matches(sm, got, method, host, path, p.list, false) &&
		!(hasAt && method == "POST" && v.matches(sm, got, method, host, path, p.list, true)) {
		return "signature mismatch", errAuth
	}
	now := h.now().Unix()
	win := int64(SignatureWindow / time.Second)
	if ts < now-win || ts > now+win {
		return "timestamp outside the window", errAuth
	}
	switch h.nonces.add(id, nonce, ts, now) {
	case nonceReplayed:
		return "nonce replayed", errAuth
	case nonceFull:
		return "nonce table full of this second's nonces", errSlowDown
	case nonceForgotten:
		return "nonces of this timestamp were forgotten to bound the nonce table", errSlowDown
	}
	return "", nil
}
