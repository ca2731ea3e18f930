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
// credentials are configured, over the path requested ([Path] or
// [RootPath]). When it refuses, why says so for the log (empty when the
// error says it all).
func (h *Handler) authenticate(method, host, path string, p *params) (why string, err error) {
	id, err := p.required("SecretId")
	if err != nil {
		return "", err
	}
	key, ok := h.creds[id]
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
	pairs := make([][2]string, len(p.list))
	hasAt := false
	for i, x := range p.list {
		pairs[i] = [2]string{x.name, x.value}
		hasAt = hasAt || strings.HasPrefix(x.value, "@")
	}
	sm, _, err := p.optional("SignatureMethod")
	if err != nil {
		return "", err
	}
	if !h.signatureMatches(sm, key, got, StringToSignAt(method, host, path, pairs, false)) &&
		!(hasAt && method == "POST" && h.signatureMatches(sm, key, got, StringToSignAt(method, host, path, pairs, true))) {
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

func (h *Handler) signatureMatches(method, key, got, s string) bool {
	want := Sign(method, key, s)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
