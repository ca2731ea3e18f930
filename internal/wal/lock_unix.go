//go:build unix

package wal

import (
	"io"
	"os"
	"syscall"
)

// lockFile takes flock(LOCK_EX|LOCK_NB) on f. Locks belong to the open file
// description, so a second open of the same file, even in this process,
// cannot take it. Closing f releases the lock.
func lockFile(f *os.File) (io.Closer, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != syscall.EINTR {
			return nil, err
		}
	}
}
