package cmq_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/opencmq/cmq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- Options: WithLogger (WithLimits is in limits_test.go). ---

func TestWithLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	b := newBroker(t, cmq.WithLogger(log))
	newQueue(t, b, "jobs", cmq.QueueAttributes{})
	require.NoError(t, b.DeleteQueue(t.Context(), "jobs"))
	require.NoError(t, b.Close())
	out := buf.String()
	assert.Contains(t, out, `msg="queue created" queue=jobs`)
	assert.Contains(t, out, `msg="queue deleted" queue=jobs`)
	assert.Contains(t, out, `msg="broker closed"`)

	// A nil logger keeps the default, which discards.
	b = newBroker(t, cmq.WithLogger(nil))
	newQueue(t, b, "jobs", cmq.QueueAttributes{})
}
