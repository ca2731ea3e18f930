package cmqsigtest

import "testing"

// The worked example of CMQ's signature documentation.
func TestSign(t *testing.T) {
	vals := map[string]string{
		"Action": "SendMessage", "Nonce": "2889712707386595659", "RequestClient": "SDK_Python_1.3",
		"SecretId": "AKIDPcYDclDJCn8D0Xypa4f3pKYUCVYLn3zT", "SignatureMethod": "HmacSHA1",
		"Timestamp": "1534154812", "clientRequestId": "1231231231", "delaySeconds": "0",
		"msgBody": "msg", "queueName": "test1", "Signature": "ignored",
	}
	const host, key = "cmq-queue-gz.api.tencentyun.com", "pPgfLipfEXZ7VcRzhAMIyPaU7UbQyFFx"
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
			if got := Sign(tt.method, host, vals, key, tt.sigMethod); got != tt.want {
				t.Errorf("Sign = %q, want %q", got, tt.want)
			}
		})
	}
	// '_' in a name signs as '.'.
	a := Sign("GET", "h:1", map[string]string{"a_b": "1"}, "k", "")
	b := Sign("GET", "h:1", map[string]string{"a.b": "1"}, "k", "")
	if a != b {
		t.Errorf("a_b and a.b sign differently: %q, %q", a, b)
	}
}
