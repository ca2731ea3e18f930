package cmqhttp

import (
	"fmt"

	"github.com/opencmq/cmq"
)

// Errors of the wire protocol itself, with the codes and texts CMQ's
// common error table gives for every action. Errors of queues and messages come from package cmq.
var (
	errMissing      = &cmq.Error{Code: 4000, Module: 10390, Message: "lacked of required parameter %s"}
	errKeyFormat    = &cmq.Error{Code: 4000, Module: 10310, Message: "error: parameter %s key format error"}
	errNotRepeated  = &cmq.Error{Code: 4000, Module: 10330, Message: "parameter %s is NOT a repeatable parameter"}
	errType         = &cmq.Error{Code: 4000, Module: 10360, Message: "parameter %s error type"}
	errBatchSize    = &cmq.Error{Code: 4000, Module: 10370, Message: "%s parameter batch size is out of range"}
	errNotContig    = &cmq.Error{Code: 4000, Module: 10380, Message: "%s parameter is not consequent"}
	errMethod       = &cmq.Error{Code: 4000, Module: 10410, Message: "unexpected http %s only GET or POST is supported"}
	errParse        = &cmq.Error{Code: 4000, Module: 10420, Message: "cannot parse %s, or request size is more than 1MB"}
	errAction       = &cmq.Error{Code: 4000, Module: 10430, Message: "action name %s is not existed"}
	errPolicyJSON   = &cmq.Error{Code: 4000, Module: 10710, Message: "deadLetterPolicy must be a json string"}
	errPath         = &cmq.Error{Code: 4000, Module: 10400, Message: "cannot find %s in uri"}
	errAuth         = &cmq.Error{Code: 4100, Module: 10030, Message: "authentication failed"}
	errSecretID     = &cmq.Error{Code: 4100, Module: 10270, Message: "secret id is not existed"}
	errSecretAKID   = &cmq.Error{Code: 4000, Module: 10450, Message: "secret id dosen't begin with AKID"}
	errHandle       = &cmq.Error{Code: 4000, Module: 10470, Message: "receiptHandle error"}
	errSlowDown     = &cmq.Error{Code: 4480, Module: 10460, Message: "exceed interface frequency limit, please slow down"}
	errOutOfRangeFm = &cmq.Error{Code: 4000, Module: 10350, Message: "parameter %s value or length is out of range"}
)

// detail returns a copy of e with its %s filled in; e keeps its code and
// module, so errors.Is still matches.
func detail(e *cmq.Error, arg string) *cmq.Error {
	return &cmq.Error{Code: e.Code, Module: e.Module, Message: fmt.Sprintf(e.Message, arg)}
}
