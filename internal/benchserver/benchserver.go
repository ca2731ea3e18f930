// Package benchserver is the baseline of the client and server benchmarks:
// a minimal net/http handler that parses a CMQ request's form body and
// answers each queue action with a fixed JSON of the shape and about the
// size of cmqd's answer (no queue, no signature check). It exists only to
// measure what cmqd costs beyond net/http.
package benchserver

import (
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Handler returns the baseline handler.
func Handler() http.Handler {
	msg := `{"msgId":"m-1","msgBody":"hello","receiptHandle":"0123456789abcdef0123456789abcdef","enqueueTime":1700000000,"firstDequeueTime":1700000000,"nextVisibleTime":1700000030,"dequeueCount":1}`
	ids := strings.Repeat(`{"msgId":"m-1"},`, 15) + `{"msgId":"m-1"}`
	msgs := strings.Repeat(msg+",", 15) + msg
	answers := map[string]string{
		"SendMessage":         `{"code":0,"message":"","requestId":"r","msgId":"m-1"}`,
		"ReceiveMessage":      `{"code":0,"message":"","requestId":"r",` + msg[1:],
		"DeleteMessage":       `{"code":0,"message":"","requestId":"r"}`,
		"BatchSendMessage":    `{"code":0,"message":"","requestId":"r","msgList":[` + ids + `]}`,
		"BatchReceiveMessage": `{"code":0,"message":"","requestId":"r","msgInfoList":[` + msgs + `]}`,
		"BatchDeleteMessage":  `{"code":0,"message":"","requestId":"r"}`,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a, ok := answers[r.PostForm.Get("Action")]
		if !ok {
			a = `{"code":4000,"message":"(10440)unknown action","requestId":"r"}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(a)))
		io.WriteString(w, a)
	})
}
