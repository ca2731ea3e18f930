// Package cmqsigtest signs CMQ requests for tests. It is written apart
// from package cmqhttp's signer, straight from CMQ's documented algorithm,
// so that tests check the server against the algorithm and not against
// itself:
//
//  1. take every parameter except Signature, with its raw (not
//     URL-encoded) value, and replace every '_' in a name with '.';
//  2. sort them by name in byte order and join them as name=value with '&';
//  3. prefix method + host (with its port) + path + "?", the path being
//     "/v2/index.php" (legacy CMQ) or the one requested ("/" for TDMQ-CMQ);
//  4. HMAC the result with the SecretKey, SHA-1 unless SignatureMethod is
//     HmacSHA256, and Base64-encode the digest.
package cmqsigtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sort"
	"strings"
)

// Sign returns the Signature of a request with the parameters vals (a
// Signature among them is ignored), sent with method to host, under key.
// sigMethod is the request's SignatureMethod: "HmacSHA256" selects
// SHA-256, anything else SHA-1.
func Sign(method, host string, vals map[string]string, key, sigMethod string) string {
	return SignPath(method, host, "/v2/index.php", vals, key, sigMethod)
}

// SignPath is [Sign] for a request to path, such as TDMQ-CMQ's "/".
func SignPath(method, host, path string, vals map[string]string, key, sigMethod string) string {
	names := make([]string, 0, len(vals))
	for k := range vals {
		if k != "Signature" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = strings.ReplaceAll(k, "_", ".") + "=" + vals[k]
	}
	s := method + host + path + "?" + strings.Join(parts, "&")
	var h func() hash.Hash = sha1.New
	if sigMethod == "HmacSHA256" {
		h = sha256.New
	}
	mac := hmac.New(h, []byte(key))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
