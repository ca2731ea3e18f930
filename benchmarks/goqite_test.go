package benchmarks

// The peer comparison: goqite (maragu.dev/goqite), an SQS-like queue on
// SQLite, against cmq doing the same single-message cycle. goqite is run the
// way its README and its own tests run it: github.com/mattn/go-sqlite3 (cgo),
// the schema file it ships (schema_sqlite.sql, embedded below), and for an
// in-memory database ":memory:" with one connection, since every connection
// to ":memory:" is a separate database.

import (
	"context"
	"database/sql"
	_ "embed"
	"slices"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"maragu.dev/goqite"

	"github.com/opencmq/cmq"
)

// goqiteSchema is goqite v0.4.0's schema_sqlite.sql, verbatim.
//
//go:embed goqite_schema_sqlite.sql
var goqiteSchema string

const body = "0123456789abcdef"

func newGoqite(b *testing.B) *goqite.Queue {
	b.Helper()
	db, err := sql.Open("sqlite3", ":memory:?_journal=WAL&_timeout=5000&_fk=true")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(goqiteSchema); err != nil {
		b.Fatal(err)
	}
	return goqite.New(goqite.NewOpts{DB: db, Name: "bench", SQLFlavor: goqite.SQLFlavorSQLite, Timeout: time.Hour})
}

func newCMQ(b *testing.B) *cmq.Queue {
	b.Helper()
	l := cmq.DefaultLimits()
	l.QPS = 0
	l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1_000_000_000, Default: 1_000_000_000}
	br, err := cmq.NewBroker(cmq.WithLimits(l))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Close() })
	q, err := br.CreateQueue(b.Context(), "bench", cmq.QueueAttributes{VisibilityTimeout: cmq.Ptr(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	return q
}

// BenchmarkPeer is one message sent, received and deleted per iteration, on
// one goroutine, with a backlog of 1,000 messages (as Cycle/single/queued=1000
// in the root module).
func BenchmarkPeer(b *testing.B) {
	const backlog = 1000
	ctx := context.Background()
	b.Run("goqite-sqlite-memory", func(b *testing.B) {
		q := newGoqite(b)
		for range backlog {
			if err := q.Send(ctx, goqite.Message{Body: []byte(body)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := q.Send(ctx, goqite.Message{Body: []byte(body)}); err != nil {
				b.Fatal(err)
			}
			m, err := q.Receive(ctx)
			if err != nil || m == nil {
				b.Fatal("no message", err)
			}
			if err := q.Delete(ctx, m.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cmq", func(b *testing.B) {
		q := newCMQ(b)
		bodies := slices.Repeat([]string{body}, 16)
		for i := 0; i < backlog; i += 16 {
			if _, err := q.BatchSend(ctx, bodies, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := q.Send(ctx, body, 0); err != nil {
				b.Fatal(err)
			}
			m, err := q.Receive(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
				b.Fatal(err)
			}
		}
	})
}
