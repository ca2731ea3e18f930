package cmqhttp

import (
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The worked example of CMQ's signature documentation.
var vectorParams = [][2]string{
	{"Action", "SendMessage"},
	{"Nonce", "2889712707386595659"},
	{"RequestClient", "SDK_Python_1.3"},
	{"SecretId", "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT"},
	{"SignatureMethod", "HmacSHA1"},
	{"Timestamp", "1534154812"},
	{"clientRequestId", "1231231231"},
	{"delaySeconds", "0"},
	{"msgBody", "msg"},
	{"queueName", "test1"},
}

const (
	vectorHost   = "cmq-queue-gz.api.tencentyun.com"
	vectorKey    = "pPgfLipfEXZ7VcRzhAMIyPaU7UbQyFFx"
	vectorString = "POSTcmq-queue-gz.api.tencentyun.com/v2/index.php?Action=SendMessage&Nonce=2889712707386595659&RequestClient=SDK_Python_1.3&SecretId=AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT&SignatureMethod=HmacSHA1&Timestamp=1534154812&clientRequestId=1231231231&delaySeconds=0&msgBody=msg&queueName=test1"
)

func TestSignatureVectors(t *testing.T) {
	// Shuffled input: the order of the parameters must not matter.
	shuffled := [][2]string{vectorParams[8], vectorParams[3], vectorParams[0], vectorParams[9], vectorParams[5],
		vectorParams[1], vectorParams[7], vectorParams[2], vectorParams[6], vectorParams[4], {"Signature", "ignored"}}
	require.Equal(t, vectorString, StringToSign("POST", vectorHost, shuffled, false))
	tests := []struct {
		name, method, sigMethod, want string
	}{
		{"POST HmacSHA1", "POST", "HmacSHA1", "C16WEtEXsD5v5tnaUMLAbZewXhI="},
		{"POST no SignatureMethod is SHA-1", "POST", "", "C16WEtEXsD5v5tnaUMLAbZewXhI="},
		{"POST HmacSHA256", "POST", "HmacSHA256", "XPh4vnKmqz+7dMB5OVM7vodL3MunEEKMrHdwS9J2shk="},
		{"GET HmacSHA1", "GET", "HmacSHA1", "fkR3mzm6NfEbQqgF0B+Fd4rFLtM="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The string is signed as is: the vectors keep SignatureMethod=HmacSHA1 in it.
			s := StringToSign(tt.method, vectorHost, vectorParams, false)
			assert.Equal(t, tt.want, Sign(tt.sigMethod, vectorKey, s))
		})
	}
}

func TestStringToSignRules(t *testing.T) {
	ps := [][2]string{{"msgBody.10", "x"}, {"msgBody.2", "y"}, {"a_b", "1 2&3"}, {"Z", ""}, {"f", "@file"}}
	assert.Equal(t, "GETh:1/v2/index.php?Z=&a.b=1 2&3&f=@file&msgBody.10=x&msgBody.2=y", StringToSign("GET", "h:1", ps, false))
	assert.Equal(t, "POSTh:1/v2/index.php?Z=&a.b=1 2&3&msgBody.10=x&msgBody.2=y", StringToSign("POST", "h:1", ps, true))
}

// The documented request, sent to the handler as a client would, verifies
// when the server's clock is within the window of its Timestamp; so does
// its GET twin, and neither signature works for the other method.
func TestDocumentedRequestVerifies(t *testing.T) {
	tests := []struct{ method, sig string }{
		{"POST", "C16WEtEXsD5v5tnaUMLAbZewXhI="},
		{"GET", "fkR3mzm6NfEbQqgF0B+Fd4rFLtM="},
		{"POST", "fkR3mzm6NfEbQqgF0B+Fd4rFLtM="},
		{"GET", "C16WEtEXsD5v5tnaUMLAbZewXhI="},
	}
	for i, tt := range tests {
		t.Run(tt.method+" "+tt.sig, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, Config{
					Credentials: map[string]string{"AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT": vectorKey},
					Now:         func() time.Time { return time.Unix(1534154812+100, 0) },
				})
				_, err := e.b.CreateQueue(t.Context(), "test1", attrsZero)
				require.NoError(t, err)
				c := newClient("http://"+vectorHost, e.c.hc)
				c.method = tt.method
				vals := map[string]string{"Signature": tt.sig}
				for _, p := range vectorParams {
					vals[p[0]] = p[1]
				}
				_, r := c.send(t, t.Context(), vals)
				if i < 2 {
					requireOK(t, r)
					assert.Regexp(t, `^\d+-0$`, r.str("msgId"))
				} else {
					assertIs(t, r, errAuth)
				}
			})
		})
	}
}

func TestAuthentication(t *testing.T) {
	cfg := Config{Credentials: map[string]string{"AKIDtest": "testkey"}}
	tests := []struct {
		name   string
		mutate func(vals map[string]string, c *client)
		want   func(t *testing.T, r resp)
	}{
		{"valid", func(map[string]string, *client) {}, func(t *testing.T, r resp) { requireOK(t, r) }},
		{"unknown SecretId", func(v map[string]string, c *client) { v["SecretId"] = "AKIDother"; c.sign(v) },
			func(t *testing.T, r resp) { assertIs(t, r, errSecretID) }},
		{"SecretId without AKID", func(v map[string]string, c *client) { v["SecretId"] = "test"; c.sign(v) },
			func(t *testing.T, r resp) { assertIs(t, r, errSecretAKID) }},
		{"missing SecretId", func(v map[string]string, c *client) { delete(v, "SecretId") },
			func(t *testing.T, r resp) { assertIs(t, r, detail(errMissing, "SecretId")) }},
		{"missing Signature", func(v map[string]string, c *client) { delete(v, "Signature") },
			func(t *testing.T, r resp) { assertIs(t, r, detail(errMissing, "Signature")) }},
		{"missing Timestamp", func(v map[string]string, c *client) { delete(v, "Timestamp"); c.sign(v) },
			func(t *testing.T, r resp) { assertIs(t, r, detail(errMissing, "Timestamp")) }},
		{"missing Nonce", func(v map[string]string, c *client) { delete(v, "Nonce"); c.sign(v) },
			func(t *testing.T, r resp) { assertIs(t, r, detail(errMissing, "Nonce")) }},
		{"Timestamp not an integer", func(v map[string]string, c *client) { v["Timestamp"] = "soon"; c.sign(v) },
			func(t *testing.T, r resp) { assertIs(t, r, detail(errType, "Timestamp")) }},
		{"Nonce negative", func(v map[string]string, c *client) { v["Nonce"] = "-1"; c.sign(v) },
			func(t *testing.T, r resp) { assertIs(t, r, detail(errType, "Nonce")) }},
		{"Timestamp past int64", func(v map[string]string, c *client) { v["Timestamp"] = "99999999999999999999"; c.sign(v) },
			func(t *testing.T, r resp) { assertErr(t, r, 4000, 10350) }},
		{"wrong key", func(v map[string]string, c *client) { c.key = "other"; c.sign(v) },
			func(t *testing.T, r resp) { assertIs(t, r, errAuth) }},
		{"value changed after signing", func(v map[string]string, c *client) { v["queueName"] = "q2" },
			func(t *testing.T, r resp) { assertIs(t, r, errAuth) }},
		{"unknown parameter added after signing", func(v map[string]string, c *client) { v["Region"] = "gz" },
			func(t *testing.T, r resp) { assertIs(t, r, errAuth) }},
		{"unknown parameters signed are fine", func(v map[string]string, c *client) {
			v["Region"], v["Token"], v["UserpollingWaitSeconds"], v["clientRequestId"], v["empty"] = "gz", "tok", "30", "7", ""
			c.sign(v)
		}, func(t *testing.T, r resp) { requireOK(t, r) }},
		{"SHA-256", func(v map[string]string, c *client) { v["SignatureMethod"] = "HmacSHA256"; c.sign(v) },
			func(t *testing.T, r resp) { requireOK(t, r) }},
		{"SHA-256 signature with SHA-1 method", func(v map[string]string, c *client) {
			v["SignatureMethod"] = "HmacSHA256"
			c.sign(v)
			v["SignatureMethod"] = "HmacSHA1"
		}, func(t *testing.T, r resp) { assertIs(t, r, errAuth) }},
		{"other SignatureMethod is SHA-1", func(v map[string]string, c *client) { v["SignatureMethod"] = "md5"; c.sign(v) },
			func(t *testing.T, r resp) { requireOK(t, r) }},
		{"@ value left out of the signature (Python on POST)", func(v map[string]string, c *client) {
			v["msgBody"] = "@hello"
			at := v["msgBody"]
			delete(v, "msgBody")
			c.sign(v)
			v["msgBody"] = at
		}, func(t *testing.T, r resp) { requireOK(t, r) }},
		{"@ value in the signature", func(v map[string]string, c *client) { v["msgBody"] = "@hello"; c.sign(v) },
			func(t *testing.T, r resp) { requireOK(t, r) }},
		{"signed for another port", func(v map[string]string, c *client) {
			base := c.base
			c.base = "http://cmq.test:9090"
			c.sign(v)
			c.base = base
		},
			func(t *testing.T, r resp) { assertIs(t, r, errAuth) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, cfg)
				_, err := e.b.CreateQueue(t.Context(), "q", attrsZero)
				require.NoError(t, err)
				c := e.c.signed("AKIDtest", "testkey")
				vals := c.params("SendMessage", "queueName", "q", "msgBody", "hello")
				tt.mutate(vals, c)
				_, r := c.send(t, t.Context(), vals)
				tt.want(t, r)
			})
		})
	}
}

// A Timestamp may be up to 300 s from the server's clock either way.
func TestTimestampWindow(t *testing.T) {
	for _, off := range []int64{-301, -300, 0, 300, 301} {
		t.Run(strconv.FormatInt(off, 10), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, Config{Credentials: map[string]string{"AKIDtest": "k"}})
				c := e.c.signed("AKIDtest", "k")
				vals := c.params("ListQueue")
				vals["Timestamp"] = strconv.FormatInt(time.Now().Unix()+off, 10)
				c.sign(vals)
				_, r := c.send(t, t.Context(), vals)
				if off < -300 || off > 300 {
					assertIs(t, r, errAuth)
				} else {
					requireOK(t, r)
				}
			})
		})
	}
}

func TestReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{Credentials: map[string]string{"AKIDtest": "k", "AKIDother": "k2"}})
		_, err := e.b.CreateQueue(t.Context(), "q", attrsZero)
		require.NoError(t, err)
		c := e.c.signed("AKIDtest", "k")
		vals := c.params("SendMessage", "queueName", "q", "msgBody", "once")
		_, r := c.send(t, t.Context(), vals)
		requireOK(t, r)

		// The same request again: refused, and nothing is sent twice.
		_, r = c.send(t, t.Context(), vals)
		assertIs(t, r, errAuth)
		info, err := mustQueue(t, e, "q").Attributes(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1, info.ActiveMsgNum)

		// The same nonce with a new timestamp, within the window: refused.
		time.Sleep(10 * time.Second)
		vals["Timestamp"] = strconv.FormatInt(time.Now().Unix(), 10)
		c.sign(vals)
		_, r = c.send(t, t.Context(), vals)
		assertIs(t, r, errAuth)

		// A refused request (bad signature) does not burn its nonce.
		fresh := c.params("ListQueue")
		good := fresh["Signature"]
		fresh["Signature"] = "bad"
		_, r = c.send(t, t.Context(), fresh)
		assertIs(t, r, errAuth)
		fresh["Signature"] = good
		_, r = c.send(t, t.Context(), fresh)
		requireOK(t, r)

		// Nonces are per SecretId.
		o := e.c.signed("AKIDother", "k2")
		ov := o.params("ListQueue")
		ov["Nonce"] = vals["Nonce"]
		o.sign(ov)
		_, r = o.send(t, t.Context(), ov)
		requireOK(t, r)
		assert.Equal(t, 3, e.h.nonces.len())

		// After the window the old request fails on its timestamp; the
		// nonce itself is forgotten and may be used with a fresh timestamp.
		time.Sleep(SignatureWindow + time.Second)
		_, r = c.send(t, t.Context(), vals)
		assertIs(t, r, errAuth)
		vals["Timestamp"] = strconv.FormatInt(time.Now().Unix(), 10)
		c.sign(vals)
		_, r = c.send(t, t.Context(), vals)
		requireOK(t, r)
		assert.Equal(t, 2, e.h.nonces.len(), "expired nonces are dropped (AKIDother's on its next add)")
	})
}

// A full nonce cache refuses signed requests with 4480 rather than
// forgetting nonces early.
func TestNonceCacheFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{Credentials: map[string]string{"AKIDtest": "k"}, MaxNonces: 2})
		c := e.c.signed("AKIDtest", "k")
		requireOK(t, c.call(t, t.Context(), "ListQueue"))
		requireOK(t, c.call(t, t.Context(), "ListQueue"))
		assertIs(t, c.call(t, t.Context(), "ListQueue"), errSlowDown)
		time.Sleep(SignatureWindow + time.Second)
		requireOK(t, c.call(t, t.Context(), "ListQueue"))
	})
}

// Without credentials nothing is checked: not the signature, not the
// timestamp, not the nonce.
func TestNoCredentialsAcceptsAnything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		vals := map[string]string{"Action": "ListQueue", "SecretId": "x", "Signature": "bad", "Timestamp": "1", "Nonce": "1"}
		for range 2 {
			st, r := e.c.send(t, t.Context(), vals)
			assert.Equal(t, http.StatusOK, st)
			requireOK(t, r)
		}
		assert.Equal(t, 0, e.h.nonces.len())
	})
}

// The pooled verifier accepts the documented signatures, again and again
// (its states are reset between uses), and refuses any other.
func TestVerifier(t *testing.T) {
	v := newVerifier(vectorKey)
	ps := make([]param, len(vectorParams))
	for i, p := range vectorParams {
		ps[i] = param{Name: p[0], Value: p[1]}
	}
	for range 3 {
		assert.True(t, v.matches("HmacSHA1", "C16WEtEXsD5v5tnaUMLAbZewXhI=", "POST", vectorHost, Path, ps, false))
		assert.True(t, v.matches("", "C16WEtEXsD5v5tnaUMLAbZewXhI=", "POST", vectorHost, Path, ps, false))
		assert.True(t, v.matches("HmacSHA256", "XPh4vnKmqz+7dMB5OVM7vodL3MunEEKMrHdwS9J2shk=", "POST", vectorHost, Path, ps, false))
		assert.True(t, v.matches("HmacSHA1", "fkR3mzm6NfEbQqgF0B+Fd4rFLtM=", "GET", vectorHost, Path, ps, false))
		assert.False(t, v.matches("HmacSHA1", "C16WEtEXsD5v5tnaUMLAbZewXhJ=", "POST", vectorHost, Path, ps, false))
		assert.False(t, v.matches("HmacSHA1", "C16WEtEXsD5v5tnaUMLAbZewXhI", "POST", vectorHost, Path, ps, false))
		assert.False(t, v.matches("HmacSHA256", "C16WEtEXsD5v5tnaUMLAbZewXhI=", "POST", vectorHost, Path, ps, false))
	}
}

// The signature's own parameters may come once each: a repeated one is
// refused before the signature is checked.
func TestAuthenticationRepeated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{Credentials: map[string]string{"AKIDtest": "testkey"}})
		const common = "Action=ListQueue&SecretId=AKIDtest&Signature=x&Timestamp=1&Nonce=1"
		for _, name := range []string{"SecretId", "Signature", "Timestamp", "Nonce", "SignatureMethod"} {
			_, r := e.c.sendRaw(t, t.Context(), "POST", Path, common+"&SignatureMethod=HmacSHA1&"+name+"=2")
			assertIs(t, r, detail(errNotRepeated, name))
		}
	})
}
