//go:build !unix

package wal

import (
	"errors"
	"io"
	"os"
	"sync"
)

// Without flock the lock holds only within this process: a set of locked
// paths, each released when its lock is closed.
var (
	lockedMu sync.Mutex
	locked   = map[string]bool{}
)

type processLock struct {
	f    *os.File
	once sync.Once
}

func (l *processLock) Close() error {
	l.once.Do(func() {
		lockedMu.Lock()
		delete(locked, l.f.Name())
		lockedMu.Unlock()
	})
	return l.f.Close()
}

func lockFile(f *os.File) (io.Closer, error) {
	lockedMu.Lock()
	defer lockedMu.Unlock()
	if locked[f.Name()] {
		return nil, errors.New("locked in this process")
	}
	locked[f.Name()] = true
	return &processLock{f: f}, nil
}
