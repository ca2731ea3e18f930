package cmqhttp

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
)

// TestReadBody reads bodies of known and unknown length at, under and over
// the limit, in small and large reads, and bodies that fail.
func TestReadBody(t *testing.T) {
	const limit = 100
	big := strings.Repeat("b", SmallBytes+10)
	broken := errors.New("connection reset")
	tests := []struct {
		name   string
		body   io.Reader
		n      int64 // Content-Length, -1 if unknown
		limit  int64
		want   string
		wantOK bool
	}{
		{"empty", strings.NewReader(""), 0, limit, "", true},
		{"empty, unknown length", strings.NewReader(""), -1, limit, "", true},
		{"known length", strings.NewReader("Action=ListQueue"), 16, limit, "Action=ListQueue", true},
		{"unknown length", strings.NewReader("Action=ListQueue"), -1, limit, "Action=ListQueue", true},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader("Action=ListQueue")), -1, limit, "Action=ListQueue", true},
		{"data with EOF", iotest.DataErrReader(strings.NewReader("Action=ListQueue")), 16, limit, "Action=ListQueue", true},
		{"at the limit", strings.NewReader(strings.Repeat("a", limit)), -1, limit, strings.Repeat("a", limit), true},
		{"at the limit, known length", strings.NewReader(strings.Repeat("a", limit)), limit, limit, strings.Repeat("a", limit), true},
		{"over the limit", strings.NewReader(strings.Repeat("a", limit+1)), -1, limit, "", false},
		{"longer than its Content-Length, over the limit", strings.NewReader(strings.Repeat("a", limit+1)), 10, limit, "", false},
		{"longer than its Content-Length, within the limit", strings.NewReader("Action=ListQueue"), 3, limit, "Action=ListQueue", true},
		{"shorter than its Content-Length", strings.NewReader("Action"), 16, limit, "Action", true},
		{"larger than SmallBytes, known length", strings.NewReader(big), int64(len(big)), 1 << 20, big, true},
		{"larger than SmallBytes, unknown length", strings.NewReader(big), -1, 1 << 20, big, true},
		{"read error", io.MultiReader(strings.NewReader("Action"), iotest.ErrReader(broken)), -1, limit, "", false},
		{"timeout", iotest.TimeoutReader(strings.NewReader(strings.Repeat("a", 600))), -1, 1000, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := readBody(tt.body, tt.n, tt.limit)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestReadBodyReusesBuffer checks that a body read into a pooled buffer
// is copied out of it: the next request's bytes do not show through.
func TestReadBodyReusesBuffer(t *testing.T) {
	first, ok := readBody(strings.NewReader("Action=first"), -1, 100)
	assert.True(t, ok)
	second, ok := readBody(strings.NewReader("Action=other"), -1, 100)
	assert.True(t, ok)
	assert.Equal(t, "Action=first", first)
	assert.Equal(t, "Action=other", second)
}

// TestReadBodyAllocs checks that a small body costs one allocation: the
// string returned.
func TestReadBodyAllocs(t *testing.T) {
	r := strings.NewReader("Action=SendMessage&queueName=q&msgBody=hello")
	allocs := testing.AllocsPerRun(100, func() {
		r.Seek(0, io.SeekStart)
		if _, ok := readBody(r, r.Size(), 1000); !ok {
			t.Fatal("not read")
		}
	})
	assert.LessOrEqual(t, allocs, 1.0)
}
