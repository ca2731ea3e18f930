// Package cmqclient is a Go client for any endpoint of Tencent CMQ's queue
// API: cmqd (this module's server), TDMQ-CMQ's data-flow endpoint
// (https://cmq-<region>.public.tencenttdmq.com, path "/"), or a legacy CMQ
// region (https://cmq-queue-<region>.api.qcloud.com/v2/index.php).
//
// A [Client] implements the queue actions of [cmq.Service] under CMQ's
// names, so code written against cmq.Service runs unchanged on an
// in-process broker (cmq.Broker.Service), on cmqd, and on Tencent's
// service: only the constructor changes.
//
//	c, err := cmqclient.New("http://127.0.0.1:8080", cmqclient.Config{
//		SecretID: "AKID…", SecretKey: "…",
//	})
//	id, err := c.SendMessage(ctx, "orders", "order #1001", 0)
//
// It does not implement cmq.ServiceExtensions (ChangeMessageVisibility,
// PurgeQueue): CMQ's API has no such actions on the wire.
//
// # Endpoints and kinds
//
// [New] takes the endpoint URL and a [Config]. An endpoint with no path is
// served at [LegacyPath] ("/v2/index.php", cmqd and legacy regions), except
// a TDMQ-CMQ host, served at "/"; a path given, "/" included, is kept. A [KindDataFlow] endpoint (detected from
// a tencenttdmq.com or mqadapter.cmq host, or set with [Config].Kind) has
// only the message actions; CreateQueue, DeleteQueue, ListQueues,
// GetQueueAttributes, SetQueueAttributes, RewindQueue,
// ListDeadLetterSourceQueues and UnbindDeadLetterQueue then return an
// error matching [ErrUnsupported] and naming the action, without a
// request. Set Kind to [KindFull] for a cmqd served at "/".
//
// # Requests
//
// Every request is an HTTP POST of a form body to the endpoint, with the
// common parameters Action, RequestClient and clientRequestId, and, with
// credentials, SecretId, SignatureMethod, Timestamp, Nonce, Token (when
// set) and Signature: Base64 of HMAC-SHA1 (or HMAC-SHA256) over
// "POST" + host[:port] + path + "?" + the parameters sorted by name, raw
// values, '_' in names read as '.', joined by '&'. Array parameters are
// 0-based (msgBody.0, …). Without credentials nothing is signed (cmqd with
// no credentials accepts that; appId is sent when [Config].AppID is set).
//
// The default transport keeps up to 64 idle connections per host, so
// concurrent callers reuse connections; give [Config].HTTPClient for TLS
// settings or proxies, with its Timeout left 0.
//
// Every method takes ctx first: a ctx already done sends nothing and
// returns ctx.Err(); a ctx that ends during a request aborts it and returns
// ctx.Err() (unwrapped, as the broker does), even though the server may
// already have acted. Each attempt has a deadline of [Config].Timeout
// (10 s) plus, for a receive, its wait, so a long poll is never cut short
// and a dead server never holds a caller past it.
//
// # Retries
//
// A request is sent again, up to [Config].MaxAttempts (3) in all, with
// exponential backoff and jitter (50 ms doubling to 1 s, a random half
// taken off), only when the transport failed: no response arrived (the
// connection was refused or reset, the attempt's deadline passed), or the
// answer was a 5xx whose body is not a CMQ response (a proxy's 502, 503,
// 504). A CMQ error code is never retried, nor a bad certificate or an
// unknown host, nor a response that broke off once it had begun. Each
// attempt is signed afresh (a new Nonce and Timestamp). Since a request
// whose answer was lost may have been carried out, a retry means, per
// action:
//
//   - SendMessage, BatchSendMessage: the messages may be sent twice. CMQ's
//     delivery is at-least-once anyway: consumers must tolerate duplicates.
//   - ReceiveMessage, BatchReceiveMessage: a message received by the lost
//     attempt stays hidden until its visibility timeout ends, then comes
//     back (its dequeue count counts that receive).
//   - DeleteMessage: idempotent enough: if the lost attempt deleted the
//     message, the retry reports 4430 ([cmq.ErrInvalidReceiptHandle]) for
//     a message that is gone. BatchDeleteMessage likewise reports such
//     handles in its per-handle errors.
//   - CreateQueue: the retry may report [cmq.ErrQueueExists] for the queue
//     the lost attempt created. DeleteQueue: [cmq.ErrQueueNotExist] for the
//     queue it deleted. UnbindDeadLetterQueue: [cmq.ErrDeadLetterQueueNotExist].
//   - SetQueueAttributes, RewindQueue, GetQueueAttributes, ListQueues,
//     ListDeadLetterSourceQueues: repeating them is harmless (a rewind
//     repeated to the same instant has the same effect).
//
// Set MaxAttempts to 1 to handle every failure yourself.
//
// # Errors
//
// A CMQ error response becomes a *cmq.Error with the wire's code and the
// module parsed from its message "(<module>)<text>", so errors.Is works
// against package cmq's sentinels as it does in-process:
//
//	_, err := c.ReceiveMessage(ctx, "orders", 0)
//	if errors.Is(err, cmq.ErrNoMessage) { … } // code 7000, module 10200
//
// A message without a module takes the module of the one sentinel with
// that code, when there is exactly one. Transport failures are wrapped
// errors naming the action and endpoint; an answer that is not CMQ's (not
// JSON, such as an HTML page, no code, a truncated body, more than
// [Config].MaxResponseBytes) matches [ErrBadResponse]. Nothing a server
// sends makes the client panic.
//
// # What differs from the in-process broker
//
// The wire counts whole seconds. Delays, waits, visibility timeouts and
// other durations are sent rounded up to a whole second (never shorter
// than asked); times and durations read back (EnqueueTime,
// NextVisibleTime, CreateTime, the attributes) are whole seconds, and a
// time of 0 on the wire is the zero time.Time. Message.DeadLetter is not
// carried by CMQ's API and is always nil. A rewind start is sent in whole
// seconds, rounded down, as CMQ's startConsumeTime.
package cmqclient
