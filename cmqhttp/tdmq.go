package cmqhttp

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/opencmq/cmq"
)

// RootPath is the path of TDMQ-CMQ's data-flow endpoints, which CMQ's API
// is served on as well as [Path]. TDMQ-CMQ gives its endpoints as a bare
// host (https://cmq-<region>.public.tencenttdmq.com), so its SDKs post to
// "/" and sign host + "/"; a signature is checked over the path actually
// requested, whichever of the two it is. Every action is served on both
// paths, with the same behaviour.
//
// TDMQ's SDKs also send RequestClient, clientRequestId, Token (signed as
// any parameter) and, for private deployments without credentials, appId:
// all are accepted, and none changes what an action does (a server with
// credentials still wants a signature). Every answer, on either path,
// carries clientRequestId as a JSON number, as TDMQ-CMQ answers and its
// Go SDK decodes it (an unsigned 64-bit integer): the request's value, or
// 0 when it is absent or not an unsigned integer (or the request went to
// a path not served, whose parameters are not read).
//
// Two TDMQ-only actions tell an SDK where to send a queue's or a topic's
// requests; both answer code 0 with "addr": ["<host>:<port>"], this server
// as the client reached it (the request's Host header, with the scheme's
// default port when it names none; the connection's local address when
// the request has no Host):
//   - QueryQueueRoute (queueName): 4000/10390 when queueName is missing,
//     4000/10020 for a malformed name, 4440/10100 for a queue that does not
//     exist.
//   - QueryTopicRoute (topicName): 4000/10390 when topicName is missing,
//     4000/10590 for a malformed name (the rules of queue names),
//     4440/10600 for a topic that does not exist.
const RootPath = "/"

// errTopicName is CMQ's error for a malformed topic name.
var errTopicName = &cmq.Error{Code: 4000, Module: 10590, Message: "topic name format error"}

// servesPath reports whether the API is served on path.
func servesPath(path string) bool { return path == Path || path == RootPath }

// clientRequestID returns the request's clientRequestId as an unsigned
// integer, 0 when p is nil or the parameter is absent or not one.
func clientRequestID(p *params) uint64 {
	if p == nil {
		return 0
	}
	n, err := strconv.ParseUint(p.peek("clientRequestId"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// routeKey carries a route query's answer address in its context.
type routeKey struct{}

// actionContext returns the context an action runs in: the request's, plus
// the address a route query answers with.
func actionContext(r *http.Request, action string) context.Context {
	if action != "QueryQueueRoute" && action != "QueryTopicRoute" {
		return r.Context()
	}
	return context.WithValue(r.Context(), routeKey{}, routeAddr(r))
}

// routeAddr is this server's address as r reached it: its Host with a port
// (the scheme's default when it names none), else the connection's local
// address.
func routeAddr(r *http.Request) string {
	host := r.Host
	if host == "" {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			return a.String()
		}
		return ""
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if r.TLS != nil {
		port = "443"
	}
	h := host
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return net.JoinHostPort(h, port)
}

// RouteResponse answers QueryQueueRoute and QueryTopicRoute.
type RouteResponse struct {
	Response
	// Addr holds this server's address, host:port.
	Addr []string `json:"addr"`
}

func (h *Handler) queryQueueRoute(ctx context.Context, p *params) (answer, error) {
	if _, err := h.queue(p); err != nil {
		return nil, err
	}
	return &RouteResponse{Addr: []string{routeOf(ctx)}}, nil
}

func (h *Handler) queryTopicRoute(ctx context.Context, p *params) (answer, error) {
	name, err := p.required("topicName")
	if err != nil {
		return nil, err
	}
	if !validTopicName(name) {
		return nil, errTopicName
	}
	if _, err := h.b.Topic(name); err != nil {
		return nil, err
	}
	return &RouteResponse{Addr: []string{routeOf(ctx)}}, nil
}

func routeOf(ctx context.Context) string {
	s, _ := ctx.Value(routeKey{}).(string)
	return s
}

// validTopicName applies the rules of queue names: 1 to 64 characters, a
// letter first, then letters, digits or '-'.
func validTopicName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		switch {
		case letter:
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}
