package signing

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The worked example of CMQ's signature documentation, shuffled: the order
// of the parameters must not matter.
var vector = []Param{
	{"msgBody", "msg"}, {"SecretId", "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT"}, {"Action", "SendMessage"},
	{"queueName", "test1"}, {"Timestamp", "1534154812"}, {"Nonce", "2889712707386595659"},
	{"delaySeconds", "0"}, {"RequestClient", "SDK_Python_1.3"}, {"clientRequestId", "1231231231"},
	{"SignatureMethod", "HmacSHA1"}, {"Signature", "left out"},
}

const (
	vectorHost   = "cmq-queue-gz.api.tencentyun.com"
	vectorPath   = "/v2/index.php"
	vectorKey    = "pPgfLipfEXZ7VcRzhAMIyPaU7UbQyFFx"
	vectorString = "POSTcmq-queue-gz.api.tencentyun.com/v2/index.php?Action=SendMessage&Nonce=2889712707386595659&RequestClient=SDK_Python_1.3&SecretId=AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT&SignatureMethod=HmacSHA1&Timestamp=1534154812&clientRequestId=1231231231&delaySeconds=0&msgBody=msg&queueName=test1"
)

func TestStringToSign(t *testing.T) {
	assert.Equal(t, vectorString, string(AppendStringToSign(nil, "POST", vectorHost, vectorPath, vector, false)))
	ps := []Param{{"a_b", "1 2&3"}, {"f", "@file"}, {"Z", ""}, {"m", "2"}, {"m", "1"}}
	assert.Equal(t, "GETh:1/v2/index.php?Z=&a.b=1 2&3&f=@file&m=2&m=1", string(AppendStringToSign(nil, "GET", "h:1", vectorPath, ps, false)),
		"'_' signed as '.', raw values, a name's values in their order")
	assert.Equal(t, "POSTh:1/?Z=&a.b=1 2&3&m=2&m=1", string(AppendStringToSign(nil, "POST", "h:1", "/", ps, true)), "skipAt")
	// More parameters than the sort's stack array.
	var many []Param
	for i := range 100 {
		many = append(many, Param{fmt.Sprintf("p%03d", 99-i), "v"})
	}
	s := string(AppendStringToSign([]byte("prefix:"), "POST", "h", "/", many, false))
	assert.Equal(t, "prefix:POSTh/?p000=v&p001=v", s[:len("prefix:POSTh/?p000=v&p001=v")])
}

func TestSigner(t *testing.T) {
	tests := []struct{ method, sigMethod, want string }{
		{"POST", HmacSHA1, "C16WEtEXsD5v5tnaUMLAbZewXhI="},
		{"POST", "", "C16WEtEXsD5v5tnaUMLAbZewXhI="}, // anything but HmacSHA256 is SHA-1
		{"POST", HmacSHA256, "XPh4vnKmqz+7dMB5OVM7vodL3MunEEKMrHdwS9J2shk="},
		{"GET", HmacSHA1, "fkR3mzm6NfEbQqgF0B+Fd4rFLtM="},
	}
	for _, tt := range tests {
		s := NewSigner(tt.sigMethod, vectorKey)
		for range 3 { // pooled states are reset between uses
			assert.Equal(t, tt.want, s.Sign(tt.method, vectorHost, vectorPath, vector), tt.sigMethod)
			assert.True(t, s.Verify(tt.want, tt.method, vectorHost, vectorPath, vector, false))
		}
		bad := []byte(tt.want)
		bad[3] ^= 1
		assert.False(t, s.Verify(string(bad), tt.method, vectorHost, vectorPath, vector, false))
		assert.False(t, s.Verify(tt.want[:len(tt.want)-1], tt.method, vectorHost, vectorPath, vector, false))
		assert.False(t, s.Verify(tt.want, tt.method, "other", vectorPath, vector, false))
	}
}

// Concurrent use of one Signer gives every caller its own correct answer.
func TestSignerConcurrent(t *testing.T) {
	s := NewSigner(HmacSHA1, vectorKey)
	want := s.Sign("POST", vectorHost, vectorPath, vector)
	done := make(chan bool)
	for g := range 8 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			ok := true
			for range 500 {
				if r.IntN(2) == 0 {
					ok = ok && s.Sign("POST", vectorHost, vectorPath, vector) == want
				} else {
					ok = ok && s.Verify(want, "POST", vectorHost, vectorPath, vector, false)
				}
			}
			done <- ok
		}()
	}
	for range 8 {
		assert.True(t, <-done)
	}
}
