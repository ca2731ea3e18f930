package cmqclient

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"slices"
	"strings"
	"sync"
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
	return string(appendStringToSign(nil, method, host, path, ps))
}

// appendStringToSign appends stringToSign's result to b. Parameters of the
// same name keep their order.
func appendStringToSign(b []byte, method, host, path string, ps []param) []byte {
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
	for n, i := range order {
		if n > 0 {
			b = append(b, '&')
		}
		for k := range len(ps[i].name) {
			c := ps[i].name[k]
			if c == '_' {
				c = '.'
			}
			b = append(b, c)
		}
		b = append(b, '=')
		b = append(b, ps[i].value...)
	}
	return b
}

// sign returns Base64(HMAC(key, s)), SHA-256 for HmacSHA256 and SHA-1
// otherwise.
func sign(method, key, s string) string {
	mac := hmac.New(hashFor(method), []byte(key))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func hashFor(method string) func() hash.Hash {
	if method == HmacSHA256 {
		return sha256.New
	}
	return sha1.New
}

// signer signs requests with one key and method. It keeps keyed HMAC
// states, each with a buffer for the string to sign, in a pool, so that
// signing a request neither keys an HMAC again nor builds that string.
type signer struct {
	method, host, path string
	pool               sync.Pool // of *macState
}

type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newSigner(method, key, host, path string) *signer {
	h := hashFor(method)
	s := &signer{method: method, host: host, path: path}
	s.pool.New = func() any { return &macState{mac: hmac.New(h, []byte(key))} }
	return s
}

// sign returns the Signature of a POST of ps.
func (s *signer) sign(ps []param) string {
	st := s.pool.Get().(*macState)
	defer s.pool.Put(st)
	st.buf = appendStringToSign(st.buf[:0], http.MethodPost, s.host, s.path, ps)
	st.mac.Reset()
	st.mac.Write(st.buf)
	if len(st.buf) > 64<<10 {
		st.buf = nil // do not keep a large request's buffer
	}
	return base64.StdEncoding.EncodeToString(st.mac.Sum(st.sum[:0]))
}
