package main

import (
	"net"
	"sync"
	"sync/atomic"
)

// limitListener caps the connections open at once: at most max in all and
// at most perIP from one remote address (0: no cap). A connection over a
// cap is closed as soon as it is accepted, before anything is read, so
// that an attacker cannot fill the server's file descriptors and one
// address cannot take every slot. Behind a reverse proxy every connection
// comes from the proxy's address: set perIP to 0 there.
type limitListener struct {
	net.Listener
	max, perIP int

	mu      sync.Mutex
	open    int
	byIP    map[string]int
	refused atomic.Int64 // connections closed at once, for tests and logs
}

func newLimitListener(ln net.Listener, max, perIP int) *limitListener {
	return &limitListener{Listener: ln, max: max, perIP: perIP, byIP: make(map[string]int)}
}

// Accept returns the next connection within the caps.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := c.RemoteAddr().String()
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
		if l.admit(ip) {
			return &limitConn{Conn: c, l: l, ip: ip}, nil
		}
		l.refused.Add(1)
		c.Close()
	}
}

func (l *limitListener) admit(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.open >= l.max || l.perIP > 0 && l.byIP[ip] >= l.perIP {
		return false
	}
	l.open++
	l.byIP[ip]++
	return true
}

func (l *limitListener) leave(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byIP[ip]--; l.byIP[ip] == 0 {
		delete(l.byIP, ip)
	}
}

// limitConn gives its slot back when it is first closed.
type limitConn struct {
	net.Conn
	l    *limitListener
	ip   string
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.leave(c.ip) })
	return err
}
