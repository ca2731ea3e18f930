package cmq

import "fmt"

// WithMessage returns a copy of e whose Message is fmt.Sprintf(format,
// args...): the same failure, with a detail such as the name of the
// offending parameter. The copy keeps e's Code and Module, so
// errors.Is(copy, e) holds; e itself is not changed. A nil e gives nil.
//
// Frontends use it to answer in CMQ's words, for example
//
//	cmq.ErrOutOfRange.WithMessage("parameter %s value or length is out of range", "limit")
func (e *Error) WithMessage(format string, args ...any) *Error {
	if e == nil {
		return nil
	}
	return &Error{Code: e.Code, Module: e.Module, Message: fmt.Sprintf(format, args...)}
}
