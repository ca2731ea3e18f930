package cmqclient

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"slices"
	"strings"
)

// Signature methods, the values of [Config].SignatureMethod.
const (
	HmacSHA1   = "HmacSHA1"
	HmacSHA256 = "HmacSHA256"
)

// param is one request parameter, name and raw value.
type param struct{ name, value string }

// stringToSign returns what CMQ signs: method, host (with any port), path,
// "?", then name=value for every parameter, sorted by name in byte order,
// with raw (unescaped) values and every '_' in a name replaced by '.',
// joined by '&'. ps must not hold Signature.
func stringToSign(method, host, path string, ps []param) string {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b param) int { return strings.Compare(a.name, b.name) })
	var sb strings.Builder
	sb.WriteString(method)
	sb.WriteString(host)
	sb.WriteString(path)
	sb.WriteByte('?')
	for i, p := range ps {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(strings.ReplaceAll(p.name, "_", "."))
		sb.WriteByte('=')
		sb.WriteString(p.value)
	}
	return sb.String()
}

// sign returns Base64(HMAC(key, s)), SHA-256 for HmacSHA256 and SHA-1
// otherwise.
func sign(method, key, s string) string {
	var h func() hash.Hash = sha1.New
	if method == HmacSHA256 {
		h = sha256.New
	}
	mac := hmac.New(h, []byte(key))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
