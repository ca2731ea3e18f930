package cmq

import "log/slog"

// An Option configures a [Broker] in [NewBroker].
type Option func(*brokerConfig)

type brokerConfig struct {
	limits Limits
	logger *slog.Logger
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
