package cmqhttp

import (
	"encoding/json"
	"errors"
	"github.com/opencmq/cmq/internal/signing"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opencmq/cmq"
)

// param is one received parameter as it arrived (name not normalised),
// kept for the signature.
type param = signing.Param

// params are the parameters of one request: every received pair, and a
// map from the normalised name ('_' replaced by '.', as CMQ's PHP backend
// treats them alike) to the value.
type params struct {
	list    []param
	m       map[string]string
	dup     map[string]bool // names that came more than once
	release func()          // gives back the request's memory; nil once done
}

// free drops the parameters and gives back the memory the request
// reserved. An action that waits (a long poll) calls it once it has read
// what it needs; ServeHTTP calls it after the action. Nil-safe; only the
// first call does something.
func (p *params) free() {
	if p == nil || p.release == nil {
		return
	}
	p.release()
	p.release, p.list, p.m, p.dup = nil, nil, nil, nil
}

// parseParams decodes a form-encoded string (a query string or a POST
// body). Names that differ only by '_' and '.' are the same name. A name
// may come more than once, but an action that reads such a parameter
// refuses it (4000/10330), so repeated parameters that no action reads are
// ignored like any other unknown one. Names and values must be UTF-8.
func parseParams(s string) (*params, error) {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, detail(errParse, "request")
	}
	p := &params{list: make([]param, 0, len(vals)), m: make(map[string]string, len(vals))}
	for name, vs := range vals {
		if !utf8.ValidString(name) {
			return nil, detail(errParse, "request: parameters must be UTF-8")
		}
		norm := normName(name)
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return nil, detail(errParse, "request: parameters must be UTF-8")
			}
			p.list = append(p.list, param{Name: name, Value: v})
		}
		if _, seen := p.m[norm]; seen || len(vs) > 1 {
			if p.dup == nil {
				p.dup = make(map[string]bool)
			}
			p.dup[norm] = true
		}
		p.m[norm] = vs[0]
	}
	return p, nil
}

func normName(name string) string { return strings.ReplaceAll(name, "_", ".") }

// peek returns the value of a parameter as received, for logs.
func (p *params) peek(name string) string { return p.m[name] }

// optional returns the value of an optional parameter: ok is false when it
// is absent; 4000/10330 when it came more than once.
func (p *params) optional(name string) (v string, ok bool, err error) {
	if p.dup[name] {
		return "", true, detail(errNotRepeated, name)
	}
	v, ok = p.m[name]
	return v, ok, nil
}

// required returns the value of a required parameter: 4000/10390 when it
// is missing, 4000/10330 when it came as an array or more than once.
func (p *params) required(name string) (string, error) {
	if v, ok, err := p.optional(name); ok {
		return v, err
	}
	prefix := name + "."
	for k := range p.m {
		if strings.HasPrefix(k, prefix) {
			return "", detail(errNotRepeated, name)
		}
	}
	return "", detail(errMissing, name)
}

// integer parses an optional integer parameter: 4000/10360 when it is not
// an integer, 4000/10350 when it does not fit in 64 bits.
func (p *params) integer(name string) (int64, bool, error) {
	v, ok, err := p.optional(name)
	if !ok || err != nil {
		return 0, false, err
	}
	n, err := parseInt(name, v)
	return n, err == nil, err
}

// requiredInt parses a required integer parameter.
func (p *params) requiredInt(name string) (int64, error) {
	v, err := p.required(name)
	if err != nil {
		return 0, err
	}
	return parseInt(name, v)
}

func parseInt(name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, outOfRange(name)
		}
		return 0, detail(errType, name)
	}
	return n, nil
}

// seconds parses an optional parameter in whole seconds into a
// *time.Duration (nil when absent). Values too large for a Duration
// saturate, so the broker's range check refuses them.
func (p *params) seconds(name string) (*time.Duration, error) {
	n, ok, err := p.integer(name)
	if !ok {
		return nil, err
	}
	d := secs(n)
	return &d, nil
}

// intPtr parses an optional integer parameter into a *int.
func (p *params) intPtr(name string) (*int, error) {
	n, ok, err := p.integer(name)
	if !ok {
		return nil, err
	}
	v := clampInt(n)
	return &v, nil
}

const maxSecs = math.MaxInt64 / int64(time.Second)

// secs converts whole seconds to a Duration, saturating.
func secs(n int64) time.Duration {
	switch {
	case n > maxSecs:
		return math.MaxInt64
	case n < -maxSecs:
		return math.MinInt64
	}
	return time.Duration(n) * time.Second
}

// clampInt converts n to int, saturating on 32-bit platforms.
func clampInt(n int64) int {
	switch {
	case n > math.MaxInt:
		return math.MaxInt
	case n < math.MinInt:
		return math.MinInt
	}
	return int(n)
}

// array returns the items of the array parameter name ("name.0", "name.1",
// ... or from 1), in index order. Indexes must be plain decimal (10310),
// there may be at most max items (10370), and they must be contiguous
// from 0 or 1 (10380). No item at all is 4000/10390.
func (p *params) array(name string, max int) ([]string, error) {
	prefix := name + "."
	type item struct {
		i int
		v string
	}
	var items []item
	for k, v := range p.m {
		suffix, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		i, ok := index(suffix)
		if !ok {
			return nil, detail(errKeyFormat, k)
		}
		if p.dup[k] {
			return nil, detail(errNotRepeated, k)
		}
		items = append(items, item{i, v})
	}
	if len(items) == 0 {
		return nil, detail(errMissing, name+".n")
	}
	if len(items) > max {
		return nil, batchSize(name)
	}
	slices.SortFunc(items, func(a, b item) int { return a.i - b.i })
	base := items[0].i
	if base > 1 {
		return nil, detail(errNotContig, name)
	}
	out := make([]string, len(items))
	for j, it := range items {
		if it.i != base+j {
			return nil, detail(errNotContig, name)
		}
		out[j] = it.v
	}
	return out, nil
}

// index parses an array index: "0" or a decimal without leading zeros, at
// most 9 digits.
func index(s string) (int, bool) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// attributes parses the queue attributes of CreateQueue and
// SetQueueAttributes; absent parameters stay nil.
func (p *params) attributes() (cmq.QueueAttributes, error) {
	var a cmq.QueueAttributes
	var err error
	if a.MaxMsgHeapNum, err = p.intPtr("maxMsgHeapNum"); err != nil {
		return a, err
	}
	if a.PollingWait, err = p.seconds("pollingWaitSeconds"); err != nil {
		return a, err
	}
	if a.VisibilityTimeout, err = p.seconds("visibilityTimeout"); err != nil {
		return a, err
	}
	if a.MaxMsgSize, err = p.intPtr("maxMsgSize"); err != nil {
		return a, err
	}
	if a.MsgRetention, err = p.seconds("msgRetentionSeconds"); err != nil {
		return a, err
	}
	if a.RewindPeriod, err = p.seconds("rewindSeconds"); err != nil {
		return a, err
	}
	v, _, err := p.optional("deadLetterPolicy")
	if err != nil {
		return a, err
	}
	if v != "" {
		if a.DeadLetterPolicy, err = parsePolicy(v); err != nil {
			return a, err
		}
	}
	return a, nil
}

// parsePolicy maps CMQ's deadLetterPolicy JSON text to a
// cmq.DeadLetterPolicy. Integers may be JSON numbers or strings holding
// one. Range checks are the broker's.
func parsePolicy(text string) (*cmq.DeadLetterPolicy, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil || raw == nil {
		return nil, errPolicyJSON
	}
	var p cmq.DeadLetterPolicy
	q, ok := raw["deadLetterQueue"]
	if !ok || json.Unmarshal(q, &p.DeadLetterQueue) != nil || p.DeadLetterQueue == "" {
		return nil, cmq.ErrDeadLetterMissingQueue
	}
	kind, ok := jsonInt(raw["policy"])
	if !ok || (kind != 0 && kind != 1) {
		return nil, cmq.ErrDeadLetterPolicyKind
	}
	p.Kind = cmq.DeadLetterKind(kind)
	if v, present := raw["maxReceiveCount"]; present {
		n, ok := jsonInt(v)
		if !ok {
			return nil, cmq.ErrDeadLetterPolicy
		}
		p.MaxReceiveCount = clampInt(n)
	}
	if v, present := raw["maxTimeToLive"]; present {
		n, ok := jsonInt(v)
		if !ok {
			return nil, cmq.ErrDeadLetterPolicy
		}
		p.MaxTimeToLive = secs(n)
	}
	return &p, nil
}

// jsonInt reads an integer given as a JSON number or a JSON string.
func jsonInt(v json.RawMessage) (int64, bool) {
	if v == nil {
		return 0, false
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	var num json.Number
	if json.Unmarshal(v, &num) != nil {
		return 0, false
	}
	n, err := num.Int64()
	return n, err == nil
}
