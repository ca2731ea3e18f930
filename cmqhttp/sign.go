package cmqhttp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/opencmq/cmq/internal/signing"
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
		ps[i] = param{Name: p[0], Value: p[1]}
	}
	return string(signing.AppendStringToSign(nil, method, host, path, ps, skipAt))
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

// verifier checks the signatures made with one SecretKey, with either
// signature method.
type verifier struct {
	sha1, sha256 *signing.Signer
}

func newVerifier(key string) *verifier {
	return &verifier{signing.NewSigner(signing.HmacSHA1, key), signing.NewSigner(signing.HmacSHA256, key)}
}

// matches reports whether got is the request's signature, with SHA-256
// when sigMethod is HmacSHA256 and SHA-1 otherwise.
func (v *verifier) matches(sigMethod, got, method, host, path string, ps []param, skipAt bool) bool {
	s := v.sha1
	if sigMethod == signing.HmacSHA256 {
		s = v.sha256
	}
	return s.Verify(got, method, host, path, ps, skipAt)
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
		hasAt = hasAt || strings.HasPrefix(x.Value, "@")
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
