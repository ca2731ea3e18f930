//go:build linux || darwin

package wal

import (
	"errors"
	"fmt"
	"math"
	"syscall"
)

var _ Mapper = (*osFile)(nil)

// Map implements [Mapper] with mmap(MAP_SHARED, PROT_READ|PROT_WRITE).
// The file is first extended to size with preallocate, which on Linux
// reserves the blocks (fallocate), so that a full disk is an error here
// rather than a SIGBUS on a later write through the mapping.
func (f *osFile) Map(size int64) ([]byte, MapGuard, error) {
	if f.mem != nil {
		return nil, nil, errors.New("wal: file already mapped")
	}
	if size <= 0 || size > math.MaxInt {
		return nil, nil, fmt.Errorf("wal: cannot map %d bytes", size)
	}
	cur, err := f.Size()
	if err != nil {
		return nil, nil, err
	}
	if cur < size {
		if err := preallocate(f.File, cur, size); err != nil {
			return nil, nil, err
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("wal: mmap %s: %w", f.Name(), err)
	}
	f.mem = mem
	return mem, nil, nil
}

// Unmap implements [Mapper]. munmap keeps the dirty pages in the page
// cache: they are written back, or fsynced, like written ones.
func (f *osFile) Unmap() error {
	if f.mem == nil {
		return nil
	}
	err := syscall.Munmap(f.mem)
	f.mem = nil
	if err != nil {
		return fmt.Errorf("wal: munmap %s: %w", f.Name(), err)
	}
	return nil
}

// Close unmaps the file, then closes it.
func (f *osFile) Close() error {
	return errors.Join(f.Unmap(), f.File.Close())
}

var _ Allocator = (*osFile)(nil)

// Allocate implements [Allocator] with preallocate.
func (f *osFile) Allocate(size int64) error {
	cur, err := f.Size()
	if err != nil {
		return err
	}
	if cur >= size {
		return nil
	}
	return preallocate(f.File, cur, size)
}
