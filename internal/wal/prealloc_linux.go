package wal

import (
	"fmt"
	"os"
	"syscall"
)

// preallocate extends f from cur to size bytes with fallocate, which
// reserves the blocks. A file system without fallocate gives an error, and
// the Log then writes with write(2) instead of mapping: extending with
// ftruncate would leave holes whose first write through the mapping could
// find the disk full, and that is a SIGBUS, not an error.
func preallocate(f *os.File, cur, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, cur, size-cur)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wal: fallocate %s: %w", f.Name(), err)
		}
		return nil
	}
}
