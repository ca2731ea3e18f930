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
	"os"
	"path/filepath"
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

func newGoqite(b *testing.B, file string) *goqite.Queue {
	b.Helper()
	if file == "" {
		file = ":memory:"
	}
	db, err := sql.Open("sqlite3", file+"?_journal=WAL&_timeout=5000&_fk=true")
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

// newCMQ returns a queue of an in-memory broker, or with a sync policy of
// a durable one in a temporary directory.
func newCMQ(b *testing.B, sync ...cmq.SyncPolicy) *cmq.Queue {
	b.Helper()
	l := cmq.DefaultLimits()
	l.QPS = 0
	l.MsgHeapNum = cmq.Range[int]{Min: 1, Max: 1_000_000_000, Default: 1_000_000_000}
	var br *cmq.Broker
	var err error
	if len(sync) == 0 {
		br, err = cmq.NewBroker(cmq.WithLimits(l))
	} else {
		br, err = cmq.Open(b.Context(), b.TempDir(), cmq.WithLimits(l), cmq.WithSync(sync[0]))
	}
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
// in the root module): goqite on SQLite in memory and in a file (WAL
// journal, SQLite's default synchronous=FULL), cmq in memory and durable
// under each sync policy, and the cost of one 100-byte append and fsync on
// the same disk, in one run.
func BenchmarkPeer(b *testing.B) {
	ctx := context.Background()
	goqiteCycle := func(b *testing.B, file string) {
		q := newGoqite(b, file)
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
	}
	b.Run("goqite-sqlite-memory", func(b *testing.B) { goqiteCycle(b, "") })
	b.Run("goqite-sqlite-file", func(b *testing.B) { goqiteCycle(b, filepath.Join(b.TempDir(), "q.db")) })
	b.Run("cmq", func(b *testing.B) { cmqCycle(b, newCMQ(b)) })
	b.Run("cmq-durable-none", func(b *testing.B) { cmqCycle(b, newCMQ(b, cmq.SyncNone)) })
	b.Run("cmq-durable-every10ms", func(b *testing.B) { cmqCycle(b, newCMQ(b, cmq.SyncEvery(10*time.Millisecond))) })
	b.Run("cmq-durable-always", func(b *testing.B) { cmqCycle(b, newCMQ(b, cmq.SyncAlways)) })
	b.Run("fsync-100B", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "f"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		rec := make([]byte, 100)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Write(rec); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

const backlog = 1000

// cmqCycle is BenchmarkPeer's cycle on q.
func cmqCycle(b *testing.B, q *cmq.Queue) {
	ctx := context.Background()
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
}
