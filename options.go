package cmq

import (
	"log/slog"
	"net/http"

	"github.com/opencmq/cmq/internal/wal"
)

// An Option configures a [Broker] in [NewBroker] or [Open].
type Option func(*brokerConfig)

type brokerConfig struct {
	limits  Limits
	logger  *slog.Logger
	sync    SyncPolicy
	fs      wal.FS // nil: the operating system's; tests inject faults
	segment int64  // bytes of a journal segment; 0: the log's default

	transport http.RoundTripper // HTTP pushes; nil: the broker's own
}

// newConfig applies opts to the defaults and validates the result: the
// one place where a broker's configuration is settled. Nil options are
// ignored.
func newConfig(opts []Option) (brokerConfig, error) {
	c := brokerConfig{limits: DefaultLimits(), logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if err := c.limits.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// WithLimits replaces [DefaultLimits] with l. NewBroker rejects an l that
// fails [Limits.Validate].
func WithLimits(l Limits) Option {
	return func(c *brokerConfig) { c.limits = l }
}

// WithLogger sets the logger for state changes (queues created and deleted,
// dead-letter moves, close). The default discards everything. The broker
// never logs an error it also returns.
func WithLogger(l *slog.Logger) Option {
	return func(c *brokerConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithSync sets when a durable broker's changes reach the disk; see
// [SyncPolicy]. The default is [SyncAlways]. It does nothing for a broker
// made by [NewBroker], which keeps nothing on disk.
func WithSync(p SyncPolicy) Option {
	return func(c *brokerConfig) { c.sync = p }
}
