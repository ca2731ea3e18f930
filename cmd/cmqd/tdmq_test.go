package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/internal/cmqsigtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cmqd pointed at the way TDMQ-CMQ's SDKs point at Tencent: the bare host,
// path "/", signed over "/"; the route query answers cmqd's own address
// and echoes clientRequestId.
func TestRunTDMQEndpoint(t *testing.T) {
	base, _, stop := start(t, nil, map[string]string{"CMQ_SECRET_ID": "AKIDtdmq", "CMQ_SECRET_KEY": "tdmqkey"})
	ctx := t.Context()
	admin, err := cmqclient.New(base, cmqclient.Config{SecretID: "AKIDtdmq", SecretKey: "tdmqkey"})
	require.NoError(t, err)
	_, err = admin.CreateQueue(ctx, "orders", cmq.QueueAttributes{})
	require.NoError(t, err)

	// The data flow through "/", as a TDMQ endpoint.
	c, err := cmqclient.New(base+"/", cmqclient.Config{SecretID: "AKIDtdmq", SecretKey: "tdmqkey", Kind: cmqclient.KindDataFlow})
	require.NoError(t, err)
	_, err = c.SendMessage(ctx, "orders", "via /", 0)
	require.NoError(t, err)
	m, err := c.ReceiveMessage(ctx, "orders", 0)
	require.NoError(t, err)
	assert.Equal(t, "via /", m.Body)
	require.NoError(t, c.DeleteMessage(ctx, "orders", m.ReceiptHandle))

	// QueryQueueRoute as the SDK sends it.
	host := strings.TrimPrefix(base, "http://")
	vals := map[string]string{"Action": "QueryQueueRoute", "queueName": "orders", "RequestClient": "SDK_GO_1.2.0",
		"clientRequestId": "3000000000", "SecretId": "AKIDtdmq", "SignatureMethod": "HmacSHA1", "Nonce": "42",
		"Timestamp": strconv.FormatInt(time.Now().Unix(), 10)}
	vals["Signature"] = cmqsigtest.SignPath("POST", host, "/", vals, "tdmqkey", "HmacSHA1")
	form := url.Values{}
	for k, v := range vals {
		form.Set(k, v)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var r struct {
		Code     int      `json:"code"`
		Message  string   `json:"Message"`
		ClientID uint64   `json:"clientRequestId"`
		Addr     []string `json:"addr"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&r))
	assert.Equal(t, 0, r.Code, r.Message)
	assert.Equal(t, uint64(3000000000), r.ClientID)
	assert.Equal(t, []string{host}, r.Addr)
	require.NoError(t, stop())
}
