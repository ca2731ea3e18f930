package cmq_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencmq/cmq"
)

// rtFunc is an http.RoundTripper from a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A durable broker keeps topics, subscriptions and pending pushes across a
// restart, and message ids do not repeat.
func TestTopicsDurable(t *testing.T) {
	dir := t.TempDir()
	down := rtFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("receiver down") })
	b, err := cmq.Open(t.Context(), dir, cmq.WithPushTransport(down))
	require.NoError(t, err)
	newQueue(t, b, "q", cmq.QueueAttributes{})
	tp, err := b.CreateTopic(t.Context(), "t", cmq.TopicAttributes{MaxMsgSize: cmq.Ptr(4096)})
	require.NoError(t, err)
	_, err = tp.Subscribe(t.Context(), "sq", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolQueue, Endpoint: "q", FilterTags: []string{"a"}})
	require.NoError(t, err)
	_, err = tp.Subscribe(t.Context(), "sh", cmq.SubscriptionAttributes{Protocol: cmq.ProtocolHTTP, Endpoint: "http://receiver.test/"})
	require.NoError(t, err)
	_, err = b.CreateTopic(t.Context(), "gone", cmq.TopicAttributes{})
	require.NoError(t, err)
	require.NoError(t, b.DeleteTopic(t.Context(), "gone"))
	id1, err := tp.Publish(t.Context(), "hello", []string{"a"}, "")
	require.NoError(t, err)
	before, err := tp.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, before.MsgCount, "the push is pending")
	require.NoError(t, b.Close())

	var mu sync.Mutex
	var got []string
	up := rtFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		got = append(got, r.Header.Get("x-cmq-message-id"))
		mu.Unlock()
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})
	b, err = cmq.Open(t.Context(), dir, cmq.WithPushTransport(up))
	require.NoError(t, err)
	defer b.Close()
	_, err = b.Topic("gone")
	assert.ErrorIs(t, err, cmq.ErrTopicNotExist)
	tp, err = b.Topic("t")
	require.NoError(t, err)
	after, err := tp.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, before.ID, after.ID)
	assert.Equal(t, 4096, after.MaxMsgSize)
	assert.True(t, before.CreateTime.Equal(after.CreateTime))
	s, err := tp.Subscription("sq")
	require.NoError(t, err)
	si, err := s.Attributes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, si.FilterTags)
	assert.Equal(t, []string{"hello"}, drain(t, b, "q"))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	}, 10*time.Second, time.Millisecond)
	assert.Equal(t, []string{id1}, got)
	sh, err := tp.Subscription("sh")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return pending(t, sh) == 0 }, 5*time.Second, time.Millisecond)
	id2, err := tp.Publish(t.Context(), "again", nil, "")
	require.NoError(t, err)
	assert.NotEqual(t, id1, id2)
}
