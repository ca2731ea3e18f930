package cmqhttp_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqhttp"
)

// Config.Observe sees every request once, with a bounded action label.
func TestConfigObserve(t *testing.T) {
	b, err := cmq.NewBroker()
	require.NoError(t, err)
	defer b.Close()
	type seen struct {
		action string
		code   int
	}
	var mu sync.Mutex
	var got []seen
	h := cmqhttp.NewHandler(b, cmqhttp.Config{Observe: func(action string, code int, d time.Duration) {
		assert.GreaterOrEqual(t, d, time.Duration(0))
		mu.Lock()
		got = append(got, seen{action, code})
		mu.Unlock()
	}})
	for _, tc := range []struct {
		target string
		want   seen
	}{
		{"/v2/index.php?Action=CreateQueue&queueName=q1", seen{"CreateQueue", 0}},
		{"/v2/index.php?Action=SendMessage&queueName=q1&msgBody=hi", seen{"SendMessage", 0}},
		{"/v2/index.php?Action=ReceiveMessage&queueName=nope", seen{"ReceiveMessage", 4440}},
		{"/v2/index.php?Action=NoSuchAction", seen{"", 4000}},
		{"/v2/index.php", seen{"", 4000}},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.target, nil))
		mu.Lock()
		assert.Equal(t, []seen{tc.want}, got, tc.target)
		mu.Unlock()
	}
}
