package cmqclient

import (
	"github.com/opencmq/cmq/internal/signing"
)

// Signature methods, the values of [Config].SignatureMethod.
const (
	HmacSHA1   = signing.HmacSHA1
	HmacSHA256 = signing.HmacSHA256
)

// param is one request parameter, name and raw value.
type param = signing.Param

// stringToSign returns what CMQ signs (see internal/signing) for a request
// with parameters ps.
func stringToSign(method, host, path string, ps []param) string {
	return string(signing.AppendStringToSign(nil, method, host, path, ps, false))
}
