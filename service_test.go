package cmq_test

import (
	"testing"
	"testing/synctest"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/internal/servicetest"
)

// The contract suite against the in-process broker, on a fake clock.
func TestServiceContract(t *testing.T) {
	servicetest.RunConfig(t, servicetest.Config{Wrap: synctest.Test}, func(t *testing.T) cmq.Service {
		b, err := cmq.NewBroker()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b.Service()
	})
}
