// Package bubble helps tests that run in a testing/synctest bubble.
package bubble

import (
	"runtime"
	"strings"
)

// Goroutines counts the goroutines of the calling goroutine's synctest
// bubble (the tests that use it do not run bubbles in parallel, so there
// is one). Unlike runtime.NumGoroutine it ignores goroutines that other
// tests left finishing outside the bubble. A bubble holds a few goroutines
// of the testing package's own: compare with a count taken at its start.
func Goroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), ", synctest bubble ")
		}
		buf = make([]byte, 2*len(buf))
	}
}
