package main

import (
	"strings"
	"testing"

	"github.com/opencmq/cmq/cmqtest"
	"github.com/stretchr/testify/require"
)

// The same application code against the in-process broker, a cmqtest
// server in this process, and that server reached as an endpoint URL, on
// both of its paths (the way cmqd and TDMQ-CMQ are reached).
func TestOrdersEverywhere(t *testing.T) {
	srv := cmqtest.NewServer(t)
	for _, endpoint := range []string{"", "test", srv.Endpoint, srv.TDMQEndpoint} {
		t.Run(endpoint, func(t *testing.T) {
			svc, stop, err := open(endpoint, srv.SecretID, srv.SecretKey)
			require.NoError(t, err)
			defer stop()
			var out strings.Builder
			require.NoError(t, orders(t.Context(), svc, "orders", &out))
			require.Equal(t, "processed \"order #1001\"\nprocessed \"order #1002\"\n", out.String())
		})
	}
}
