// Package cmqhttp serves a [cmq.Broker] over Tencent CMQ's legacy HTTP API
// (Action=… on /v2/index.php), so that the official CMQ SDKs and other
// existing clients work against it unchanged.
//
// # Wire protocol
//
// [NewHandler] returns an http.Handler for the paths [Path] and
// [RootPath] (TDMQ-CMQ's endpoint style, with its route queries and
// clientRequestId echoed in every answer; see RootPath). It accepts GET
// (parameters in the query string) and POST (parameters in the body, read
// as form data whatever the Content-Type, the query string ignored); any
// other method is 4000/10410. A request larger than
// [Config].MaxRequestBytes (1 MiB by default) is 4000/10420. Every API
// outcome, failures included, is HTTP 200 with a JSON object holding a
// number "code" (0 on success), a string "message" ("(module)text" on
// failure, from [cmq.Error.WireMessage]), a fresh "requestId", and the
// action's fields at the top level; any other path is 4000/10400.
// A GET is limited by the http.Server's MaxHeaderBytes too: give it room
// for MaxRequestBytes, or net/http refuses a long query string with its own
// HTTP 431 before the handler sees it.
//
// Both paths serve every queue action and every topic action (CreateTopic,
// SetTopicAttributes, GetTopicAttributes, ListTopic, DeleteTopic,
// PublishMessage, BatchPublishMessage, Subscribe, Unsubscribe,
// ListSubscriptionByTopic, GetSubscriptionAttributes,
// SetSubscriptionAttributes, ClearSubscriptionFilterTags), which CMQ
// serves from another host; an unknown action is 4000/10430. The Go-only
// extensions (ChangeVisibility, Purge) have no action.
//
// Parameters follow CMQ: names are case-sensitive, '_' and '.' in a name
// are the same character, a name the action reads may appear once
// (4000/10330; repeated parameters no action reads are ignored), values are
// UTF-8; arrays are name.0, name.1, … or name.1, name.2, …, contiguous
// (4000/10380) and at most [cmq.Limits].BatchSize long (4000/10370);
// unknown parameters (RequestClient, clientRequestId,
// UserpollingWaitSeconds, Region, Token, …) are ignored. A missing required
// parameter is 4000/10390 naming it, an integer that does not parse is
// 4000/10360, an empty receipt handle is 4000/10470, and ranges are the
// broker's (4000/10350 and friends). Times
// and durations are whole seconds on the wire; durations set through the Go
// API that are not whole seconds are shown rounded up.
//
// # Signatures
//
// With [Config].Credentials set, every request must carry SecretId,
// Signature, Timestamp and Nonce. The signature is checked as CMQ documents
// it (see [StringToSign] and [Sign]; HmacSHA1, or HmacSHA256 when
// SignatureMethod=HmacSHA256) over the Host header with its port. On POST a
// signature made without the values that begin with '@' (the Python and PHP
// SDKs' rule) is accepted too. An unknown SecretId is 4100/10270 (or
// 4000/10450 when it does not begin with "AKID"); a wrong
// signature, a Timestamp more than [SignatureWindow] from the server's
// clock, or a Nonce already accepted within that window is 4100/10030.
// Nonces are remembered per SecretId in a bounded table
// ([Config].MaxNonces); a full table forgets the Timestamp second farthest
// from now and refuses that second (4480/10460) until it leaves the
// window, so a client that floods it with requests dated ahead cannot lock
// honest clients out. Without credentials nothing is checked.
//
// What the signature does not protect, as CMQ defines it: values that
// begin with '@' may be left out of the string to sign (the official SDKs
// do so on POST), so they can be changed; values are concatenated raw,
// not encoded, so whoever intercepts a signed request can move the
// boundaries between parameters (a '&' or '=' inside a value reads the
// same as one between values) and send a different request under the same
// signature; and nothing binds the Host header to this server, so a
// request signed for one server with the same credentials and Host can be
// replayed to another within the window. Nothing is encrypted either.
// Serve over TLS (cmqd's -tls-cert and -tls-key, or a reverse proxy that
// terminates TLS) whenever requests cross a network you do not control.
//
// # Long polling
//
// ReceiveMessage and BatchReceiveMessage wait up to their
// pollingWaitSeconds, or the queue's, on the request's context: a client
// that goes away ends its wait at once with nothing consumed. A wait ended
// by its context, for example when the server shuts down, is answered with
// 7000/10200 (no message), the answer CMQ gives to any wait that ends
// empty.
//
// A client may leave after its messages were taken but before its answer
// reaches it. The handler narrows that window as far as net/http lets it:
// when the request's context is done after the receive returns, when the
// answer cannot get memory, or when writing and flushing it fails, the
// messages are made visible again at once (ChangeVisibility to 0). What
// remains: their dequeue count has been incremented (it counts toward a
// dead-letter maxReceiveCount), and an answer that the kernel accepted
// for a peer that has just gone cannot be told from one delivered; such
// messages come back when their visibility timeout ends.
//
// # Hostile clients
//
// The handler bounds what one request may hold: requests over
// [SmallBytes] reserve twice their size from [Config].MaxMemory before
// they are read, answers over it their encoded size (a control character
// in a body takes 6 bytes in JSON) until written, each write bounded by
// [Config].WriteTimeout, set once the answer is ready so that long polls
// are not cut. The server around it must bound the rest: the time to read
// a request (http.Server.ReadTimeout), the size of headers
// (MaxHeaderBytes, which also bounds a GET's query string: large requests
// must use POST) and the number of connections; cmqd does all three.
package cmqhttp
