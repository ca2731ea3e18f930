// Package signing is CMQ's request signature, shared by the server, which
// checks it (cmqhttp), and the client, which makes it (cmqclient): the
// string to sign, and keyed HMAC states kept in a pool, so that neither
// side keys an HMAC again or builds a string per request.
//
// CMQ signs Base64(HMAC(SecretKey, s)), with SHA-256 when the request's
// SignatureMethod is HmacSHA256 and SHA-1 otherwise, where s is the method,
// the host (with any port), the path, "?", then name=value for every
// parameter but Signature, sorted by name in byte order, with raw values
// and every '_' in a name replaced by '.', joined by '&'.
package signing

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"slices"
	"strings"
	"sync"
)

// Signature methods, the values of the SignatureMethod parameter.
const (
	HmacSHA1   = "HmacSHA1"
	HmacSHA256 = "HmacSHA256"
)

// Param is one request parameter: its name and raw value.
type Param struct{ Name, Value string }

// AppendStringToSign appends the string to sign of a request to b.
// Parameters of the same name keep their order. With skipAt, values that
// begin with '@' are left out, as the Python and PHP SDKs do on POST.
func AppendStringToSign(b []byte, method, host, path string, ps []Param, skipAt bool) []byte {
	var small [64]int
	order := small[:0]
	if len(ps) > len(small) {
		order = make([]int, 0, len(ps))
	}
	for i := range ps {
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(i, j int) int { return strings.Compare(ps[i].Name, ps[j].Name) })
	b = append(b, method...)
	b = append(b, host...)
	b = append(b, path...)
	b = append(b, '?')
	first := true
	for _, i := range order {
		p := &ps[i]
		if p.Name == "Signature" || skipAt && strings.HasPrefix(p.Value, "@") {
			continue
		}
		if !first {
			b = append(b, '&')
		}
		first = false
		for k := range len(p.Name) {
			c := p.Name[k]
			if c == '_' {
				c = '.'
			}
			b = append(b, c)
		}
		b = append(b, '=')
		b = append(b, p.Value...)
	}
	return b
}

// Signer makes and checks the signatures of one key and one signature
// method. It is safe for concurrent use.
type Signer struct {
	pool sync.Pool // of *state
}

type state struct {
	mac hash.Hash // keyed
	buf []byte    // the string to sign
	sum [sha256.Size]byte
	enc [(sha256.Size + 2) / 3 * 4]byte // Base64 of sum
}

// NewSigner returns a Signer for key and method (HmacSHA256, or SHA-1 for
// anything else, as CMQ reads SignatureMethod).
func NewSigner(method, key string) *Signer {
	h := sha1.New
	if method == HmacSHA256 {
		h = sha256.New
	}
	s := &Signer{}
	s.pool.New = func() any { return &state{mac: hmac.New(h, []byte(key))} }
	return s
}

// sum signs the request into st.enc and returns it.
func sum(st *state, method, host, path string, ps []Param, skipAt bool) []byte {
	st.buf = AppendStringToSign(st.buf[:0], method, host, path, ps, skipAt)
	st.mac.Reset()
	st.mac.Write(st.buf)
	if len(st.buf) > 64<<10 {
		st.buf = nil // do not keep a large request's buffer
	}
	sum := st.mac.Sum(st.sum[:0])
	enc := st.enc[:base64.StdEncoding.EncodedLen(len(sum))]
	base64.StdEncoding.Encode(enc, sum)
	return enc
}

// Sign returns the signature of a request.
func (s *Signer) Sign(method, host, path string, ps []Param) string {
	st := s.pool.Get().(*state)
	defer s.pool.Put(st)
	return string(sum(st, method, host, path, ps, false))
}

// Verify reports whether got is the signature of a request. The
// comparison takes the same time wherever got differs (a length that
// differs, which is public, returns at once).
func (s *Signer) Verify(got, method, host, path string, ps []Param, skipAt bool) bool {
	st := s.pool.Get().(*state)
	defer s.pool.Put(st)
	want := sum(st, method, host, path, ps, skipAt)
	if len(want) != len(got) {
		return false
	}
	var diff byte
	for i := range want {
		diff |= want[i] ^ got[i]
	}
	return diff == 0
}
