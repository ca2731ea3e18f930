package cmqtest_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/cmqtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewServer(t *testing.T) {
	tests := []struct {
		name     string
		opts     []cmqtest.Option
		signed   bool
		id       string
		batch    int
		unsigned bool // an unsigned client is accepted
	}{
		{name: "default: generated credentials", signed: true, batch: 16},
		{name: "fixed credentials", opts: []cmqtest.Option{cmqtest.WithCredentials("AKIDfixed", "k")}, signed: true, id: "AKIDfixed", batch: 16},
		{name: "without credentials", opts: []cmqtest.Option{cmqtest.WithoutCredentials()}, batch: 16, unsigned: true},
		{name: "limits", opts: []cmqtest.Option{cmqtest.WithLimits(func() cmq.Limits { l := cmq.DefaultLimits(); l.BatchSize = 4; return l }()), nil}, signed: true, batch: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := cmqtest.NewServer(t, tt.opts...)
			ctx := t.Context()
			assert.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), srv.URL)
			assert.Equal(t, srv.URL+"/v2/index.php", srv.Endpoint)
			assert.Equal(t, srv.Endpoint, srv.Client.Endpoint())
			assert.Equal(t, srv.URL+"/", srv.TDMQEndpoint)
			if tt.signed {
				assert.True(t, strings.HasPrefix(srv.SecretID, "AKID"), srv.SecretID)
				assert.NotEmpty(t, srv.SecretKey)
			} else {
				assert.Empty(t, srv.SecretID)
			}
			if tt.id != "" {
				assert.Equal(t, tt.id, srv.SecretID)
			}
			assert.Equal(t, tt.batch, srv.Broker.Limits().BatchSize)

			// The ready client works, and what it does is in the broker.
			_, err := srv.Client.CreateQueue(ctx, "q", cmq.QueueAttributes{})
			require.NoError(t, err)
			_, err = srv.Client.SendMessage(ctx, "q", "hello", 0)
			require.NoError(t, err)
			q, err := srv.Broker.Queue("q")
			require.NoError(t, err)
			info, err := q.Attributes(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, info.ActiveMsgNum)

			// The TDMQ endpoint serves the same API (a client for "/"
			// signs "/").
			tc, err := cmqclient.New(srv.TDMQEndpoint, cmqclient.Config{SecretID: srv.SecretID, SecretKey: srv.SecretKey})
			require.NoError(t, err)
			m, err := tc.ReceiveMessage(ctx, "q", 0)
			require.NoError(t, err)
			assert.Equal(t, "hello", m.Body)

			// Unsigned or wrongly signed requests are refused when the
			// server has credentials.
			for _, cfg := range []cmqclient.Config{{}, {SecretID: srv.SecretID + "x", SecretKey: "k"}, {SecretID: "AKIDfixed", SecretKey: "wrong"}} {
				c, err := cmqclient.New(srv.Endpoint, cfg)
				require.NoError(t, err)
				_, err = c.SendMessage(ctx, "q", "x", 0)
				if tt.unsigned {
					assert.NoError(t, err)
					continue
				}
				var e *cmq.Error
				require.ErrorAs(t, err, &e, "%+v", cfg)
				assert.Contains(t, []int{4000, 4100}, e.Code)
			}
		})
	}
}

// The server stops at the end of the test that made it: the port is
// closed, the broker closed, a waiting receive returns.
func TestCleanup(t *testing.T) {
	var srv *cmqtest.Server
	errc := make(chan error, 1)
	t.Run("inner", func(t *testing.T) {
		srv = cmqtest.NewServer(t)
		_, err := srv.Broker.CreateQueue(t.Context(), "q", cmq.QueueAttributes{})
		require.NoError(t, err)
		// A long poll still waiting when the test ends, on a context that
		// does not end with the test: Close must end it.
		go func() {
			_, err := srv.Client.ReceiveMessage(context.Background(), "q", 30*time.Second)
			errc <- err
		}()
	})
	select {
	case err := <-errc:
		assert.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting receive outlived its server")
	}
	_, _, err := srv.Broker.ListQueues(t.Context(), cmq.ListOptions{})
	assert.ErrorIs(t, err, cmq.ErrClosed)
	_, err = net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	assert.Error(t, err, "the port is closed")
	srv.Close() // idempotent
}

// Start and Close outside a test's life cycle.
func TestStart(t *testing.T) {
	srv, err := cmqtest.Start(cmqtest.WithClientConfig(cmqclient.Config{SignatureMethod: cmqclient.HmacSHA256}))
	require.NoError(t, err)
	_, err = srv.Client.CreateQueue(t.Context(), "q", cmq.QueueAttributes{})
	require.NoError(t, err)
	srv.Close()
	srv.Close()
	_, err = srv.Client.CreateQueue(t.Context(), "r", cmq.QueueAttributes{})
	assert.Error(t, err)

	l := cmq.DefaultLimits()
	l.BatchSize = 0
	_, err = cmqtest.Start(cmqtest.WithLimits(l))
	assert.Error(t, err, "invalid limits")
}
