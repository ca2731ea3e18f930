package main

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dialFrom connects to addr from the loopback address src (127.0.0.x), so
// that a test can play several remote addresses.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c without a word
// within d.
func closedByServer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := newLimitListener(inner, 3, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	addr := inner.Addr().String()
	recv := func() net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no connection accepted")
			return nil
		}
	}

	dialFrom(t, "127.0.0.1", addr)
	a2 := dialFrom(t, "127.0.0.1", addr)
	s1, s2 := recv(), recv()
	over := dialFrom(t, "127.0.0.1", addr) // a third from one address
	assert.True(t, closedByServer(over, 5*time.Second), "over the per-address cap: closed at once")
	b1 := dialFrom(t, "127.0.0.2", addr) // another address still gets in
	s3 := recv()
	full := dialFrom(t, "127.0.0.3", addr)
	assert.True(t, closedByServer(full, 5*time.Second), "over the total cap: closed at once")
	assert.Equal(t, int64(2), l.refused.Load())

	// A closed connection gives its slot back, once.
	require.NoError(t, s1.Close())
	s1.Close()
	_ = a2
	dialFrom(t, "127.0.0.3", addr)
	s4 := recv()
	assert.False(t, closedByServer(b1, 100*time.Millisecond), "admitted connections stay open")
	for _, c := range []net.Conn{s2, s3, s4} {
		c.Close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	assert.Equal(t, 0, l.open)
	assert.Empty(t, l.byIP)
}
