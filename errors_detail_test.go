package cmq

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErrorWithMessage(t *testing.T) {
	e := ErrOutOfRange.WithMessage("parameter %s value or length is out of range", "limit")
	assert.Equal(t, "parameter limit value or length is out of range", e.Message)
	assert.True(t, errors.Is(e, ErrOutOfRange))
	assert.False(t, errors.Is(e, ErrBatchSize))
	assert.Equal(t, "parameter value or length is out of range", ErrOutOfRange.Message, "the sentinel is unchanged")
	assert.Equal(t, "(10350)parameter limit value or length is out of range", e.WireMessage())
	assert.Nil(t, (*Error)(nil).WithMessage("x"))
}
