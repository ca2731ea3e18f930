package cmqclient_test

import (
	"testing"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/internal/servicetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The contract suite that the in-process broker passes, run against the
// client talking to cmqhttp's handler over loopback, signed: any behaviour
// that differs between them fails here. The timed cases wait in real time
// (a receive's wait of 1 s for a visibility timeout of 1 s).
func TestServiceContract(t *testing.T) {
	creds := map[string]string{"AKIDcontract": "contract-key"}
	servicetest.Run(t, func(t *testing.T) cmq.Service {
		s := newServer(t, creds)
		return s.client(t, cmqclient.Config{SecretID: "AKIDcontract", SecretKey: "contract-key", SignatureMethod: cmqclient.HmacSHA256})
	})
}

// The same suite with requests to "/", TDMQ-CMQ's path, which cmqd serves
// too (the full API; only TDMQ's own hosts lack the management actions).
func TestServiceContractRootPath(t *testing.T) {
	creds := map[string]string{"AKIDcontract": "contract-key"}
	servicetest.Run(t, func(t *testing.T) cmq.Service {
		s := newServer(t, creds)
		c, err := cmqclient.New(s.URL+"/", cmqclient.Config{SecretID: "AKIDcontract", SecretKey: "contract-key"})
		require.NoError(t, err)
		require.Equal(t, s.URL+"/", c.Endpoint())
		return c
	})
}

func TestNotServiceExtensions(t *testing.T) {
	var s cmq.Service = &cmqclient.Client{}
	_, ok := s.(cmq.ServiceExtensions)
	assert.False(t, ok, "CMQ's API has no ChangeMessageVisibility or PurgeQueue")
}
