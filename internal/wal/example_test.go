package wal_test

import (
	"fmt"
	"log"
	"os"

	"github.com/opencmq/cmq/internal/wal"
)

// Open a log, append and sync records, then reopen it and replay them.
func Example() {
	dir, err := os.MkdirTemp("", "wal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := wal.Open(dir, wal.Options{Sync: wal.SyncAlways})
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range []string{"create queue q", "send m1", "send m2"} {
		pos, err := l.Append([]byte(rec))
		if err != nil {
			log.Fatal(err)
		}
		// Under SyncAlways, Sync returns once an fsync covers pos.
		if err := l.Sync(pos); err != nil {
			log.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}

	l, err = wal.Open(dir, wal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	err = l.Replay(func(p []byte) error {
		fmt.Println(string(p)) // p is only valid during the call
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// create queue q
	// send m1
	// send m2
}

// A sync policy from a flag or configuration string.
func ExampleParseSyncPolicy() {
	for _, s := range []string{"always", "none", "100ms", "sometimes"} {
		p, err := wal.ParseSyncPolicy(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(p, p.Interval())
	}
	// Output:
	// always 0s
	// none 0s
	// 100ms 100ms
	// wal: sync policy "sometimes": want "always", "none" or a positive duration such as "100ms"
}
