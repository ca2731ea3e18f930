// Package cmqtest runs a CMQ server inside a Go test: cmqd's HTTP handler
// ([cmqhttp]) for a fresh [cmq.Broker] on a loopback port. Services that
// use any CMQ SDK (Go, Python, Java, this module's [cmqclient]) test
// against it with no binary to install and no cloud account:
//
//	func TestOrders(t *testing.T) {
//		srv := cmqtest.NewServer(t)
//		svc := orders.New(srv.Client)          // or any SDK: srv.Endpoint, srv.SecretID, srv.SecretKey
//		…
//		q, _ := srv.Broker.Queue("orders")     // inspect state directly
//	}
//
// The server checks signatures with generated credentials unless
// [WithoutCredentials] is given, so a test also catches a wrongly signed
// request. It speaks CMQ's HTTP API and nothing else: times on the wire
// are whole seconds, and the server uses real time, so it cannot run
// inside a testing/synctest bubble (sockets are not allowed there); test
// time-dependent behaviour of the queue model on an in-process
// [cmq.Broker] instead.
package cmqtest

import (
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/opencmq/cmq"
	"github.com/opencmq/cmq/cmqclient"
	"github.com/opencmq/cmq/cmqhttp"
)

// Server is a CMQ server on a loopback port. Its fields are set by
// [NewServer] or [Start] and must not be changed.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL string
	// Endpoint is the URL of CMQ's API on the server, URL + "/v2/index.php",
	// what the legacy SDKs and cmqclient take.
	Endpoint string
	// TDMQEndpoint is URL + "/", the same API in TDMQ-CMQ's endpoint style,
	// for TDMQ-CMQ's SDKs (which sign the path "/"). Every action is served
	// there too.
	TDMQEndpoint string
	// SecretID and SecretKey are the credentials the server accepts; both
	// empty with [WithoutCredentials] (the server then accepts any request).
	SecretID, SecretKey string
	// Broker is the broker the server serves, for inspecting and changing
	// state directly.
	Broker *cmq.Broker
	// Client is a ready client for Endpoint, with the credentials.
	Client *cmqclient.Client

	srv   *httptest.Server
	close sync.Once
}

// Option configures a [Server].
type Option func(*config)

type config struct {
	limits     *cmq.Limits
	noCreds    bool
	id, key    string
	clientConf cmqclient.Config
}

// WithLimits gives the broker limits l (see [cmq.WithLimits]); the
// default is [cmq.DefaultLimits], CMQ's own.
func WithLimits(l cmq.Limits) Option { return func(c *config) { c.limits = &l } }

// WithoutCredentials turns signature checks off: the server accepts
// unsigned requests, as cmqd does when started without credentials.
func WithoutCredentials() Option { return func(c *config) { c.noCreds = true } }

// WithCredentials sets the SecretId and SecretKey the server accepts,
// instead of generated ones. The id must begin with "AKID", as CMQ's do.
func WithCredentials(id, key string) Option {
	return func(c *config) { c.id, c.key, c.noCreds = id, key, false }
}

// WithClientConfig configures [Server].Client; its credentials are set
// from the server's.
func WithClientConfig(cc cmqclient.Config) Option { return func(c *config) { c.clientConf = cc } }

// NewServer starts a server and stops it when the test and its subtests
// end (t.Cleanup). It fails the test if the server cannot start.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("cmqtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a server outside a test's life cycle, for a TestMain that
// shares one server between tests, or for a program; stop it with
// [Server.Close].
func Start(opts ...Option) (*Server, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	var bopts []cmq.Option
	if c.limits != nil {
		bopts = append(bopts, cmq.WithLimits(*c.limits))
	}
	b, err := cmq.NewBroker(bopts...)
	if err != nil {
		return nil, err
	}
	s := &Server{Broker: b}
	var hc cmqhttp.Config
	if !c.noCreds {
		s.SecretID, s.SecretKey = c.id, c.key
		if s.SecretID == "" {
			s.SecretID, s.SecretKey = "AKID"+rand.Text(), rand.Text()
		}
		hc.Credentials = map[string]string{s.SecretID: s.SecretKey}
	}
	s.srv = httptest.NewServer(cmqhttp.NewHandler(b, hc))
	s.URL = s.srv.URL
	s.Endpoint = s.URL + cmqclient.LegacyPath
	s.TDMQEndpoint = s.URL + "/"
	cc := c.clientConf
	cc.SecretID, cc.SecretKey = s.SecretID, s.SecretKey
	if s.Client, err = cmqclient.New(s.Endpoint, cc); err != nil {
		s.Close()
		return nil, fmt.Errorf("client: %w", err)
	}
	return s, nil
}

// Close stops the server: it closes the broker (every waiting receive
// returns), then the listener and every connection, and waits for the
// handlers to return. It may be called more than once.
func (s *Server) Close() {
	s.close.Do(func() {
		s.Broker.Close()
		s.srv.CloseClientConnections()
		s.srv.Close()
		if s.Client != nil {
			s.Client.CloseIdleConnections()
		}
	})
}
