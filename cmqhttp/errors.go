package cmqhttp

import (
	"github.com/opencmq/cmq"
)

// Errors of the wire protocol itself, with CMQ's codes and texts. Errors of
// queues and messages come from package cmq. Where CMQ's text names a
// parameter, path, method or action, the Message holds a %s for it and an
// answer carries the copy made by [detail]; errors.Is matches the copy.
var (
	errMissing     = &cmq.Error{Code: 4000, Module: 10390, Message: "lacked of required parameter %s"}
	errKeyFormat   = &cmq.Error{Code: 4000, Module: 10310, Message: "error: parameter %s key format error"}
	errNotRepeated = &cmq.Error{Code: 4000, Module: 10330, Message: "parameter %s is NOT a repeatable parameter"}
	errType        = &cmq.Error{Code: 4000, Module: 10360, Message: "parameter %s error type"}
	errNotContig   = &cmq.Error{Code: 4000, Module: 10380, Message: "%s parameter is not consequent"}
	errMethod      = &cmq.Error{Code: 4000, Module: 10410, Message: "unexpected http %s only GET or POST is supported"}
	errParse       = &cmq.Error{Code: 4000, Module: 10420, Message: "cannot parse %s, or request size is more than 1MB"}
	errAction      = &cmq.Error{Code: 4000, Module: 10430, Message: "action name %s is not existed"}
	errPolicyJSON  = &cmq.Error{Code: 4000, Module: 10710, Message: "deadLetterPolicy must be a json string"}
	errPath        = &cmq.Error{Code: 4000, Module: 10400, Message: "cannot find %s in uri"}
	errAuth        = &cmq.Error{Code: 4100, Module: 10030, Message: "authentication failed"}
	errSecretID    = &cmq.Error{Code: 4100, Module: 10270, Message: "secret id is not existed"}
	errSecretAKID  = &cmq.Error{Code: 4000, Module: 10450, Message: "secret id dosen't begin with AKID"}
	errHandle      = &cmq.Error{Code: 4000, Module: 10470, Message: "receiptHandle error"}
	errSlowDown    = &cmq.Error{Code: 4480, Module: 10460, Message: "exceed interface frequency limit, please slow down"}
)

// detail returns a copy of e, one of the errors above, with its %s filled
// in by what; the copy matches e with errors.Is.
func detail(e *cmq.Error, what string) *cmq.Error {
	return e.WithMessage(e.Message, what)
}

// outOfRange is [cmq.ErrOutOfRange] naming the parameter, in CMQ's words.
func outOfRange(name string) *cmq.Error {
	return cmq.ErrOutOfRange.WithMessage("parameter %s value or length is out of range", name)
}

// batchSize is [cmq.ErrBatchSize] naming the array parameter, in CMQ's
// words.
func batchSize(name string) *cmq.Error {
	return cmq.ErrBatchSize.WithMessage("%s parameter batch size is out of range", name)
}
