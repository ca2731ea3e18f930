package cmqhttp

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- Topic actions over the wire, with the keys the SDKs read. ---

func TestTopicActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q1"))
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q2"))

		// The Python SDK always sends filterType and maxMsgSize.
		r := c.call(t, ctx, "CreateTopic", "topicName", "t", "filterType", "1", "maxMsgSize", "65536")
		requireOK(t, r)
		topicID := r.str("topicId")
		assert.NotEmpty(t, topicID)
		assertErr(t, c.call(t, ctx, "CreateTopic", "topicName", "T"), 4460, 10601)
		assertErr(t, c.call(t, ctx, "CreateTopic", "topicName", "u", "filterType", "3"), 4000, 10350)
		requireOK(t, c.call(t, ctx, "SetTopicAttributes", "topicName", "t", "maxMsgSize", "2048"))
		r = c.call(t, ctx, "GetTopicAttributes", "topicName", "t")
		requireOK(t, r)
		for k, v := range map[string]int{"maxMsgSize": 2048, "msgRetentionSeconds": 86400, "filterType": 1, "qps": 5000, "msgCount": 0} {
			assert.Equal(t, v, r.int(k), k)
		}
		for _, k := range []string{"createTime", "lastModifyTime", "createUin", "topicId"} {
			assert.Contains(t, r, k)
		}
		assertErr(t, c.call(t, ctx, "GetTopicAttributes", "topicName", "nope"), 4440, 10600)

		r = c.call(t, ctx, "ListTopic", "searchWord", "T")
		requireOK(t, r)
		assert.Equal(t, 1, r.int("totalCount"))
		assert.Equal(t, []any{map[string]any{"topicId": topicID, "topicName": "t"}}, r["topicList"])

		// Publish with no subscription: 6030/10650.
		assertErr(t, c.call(t, ctx, "PublishMessage", "topicName", "t", "msgBody", "m"), 6030, 10650)

		r = c.call(t, ctx, "Subscribe", "topicName", "t", "subscriptionName", "s1", "protocol", "queue",
			"endpoint", "q1", "notifyContentFormat", "SIMPLIFIED", "filterTag.1", "a")
		requireOK(t, r)
		assert.NotEmpty(t, r.str("subscriptionId"))
		requireOK(t, c.call(t, ctx, "Subscribe", "topicName", "t", "subscriptionName", "s2", "protocol", "queue",
			"endpoint", "q2", "notifyStrategy", "BACKOFF_RETRY"))
		assertErr(t, c.call(t, ctx, "Subscribe", "topicName", "t", "subscriptionName", "s3", "protocol", "queue",
			"endpoint", "q2", "notifyContentFormat", "JSON"), 4000, 10640)
		assertErr(t, c.call(t, ctx, "Subscribe", "topicName", "t", "subscriptionName", "s1", "protocol", "queue",
			"endpoint", "q2"), 4490, 10470)
		assertErr(t, c.call(t, ctx, "DeleteTopic", "topicName", "t"), 4000, 10540)

		// Tagged: both; untagged: only s2.
		r = c.call(t, ctx, "PublishMessage", "topicName", "t", "msgBody", "tagged", "msgTag.1", "a", "msgTag.2", "b")
		requireOK(t, r)
		assert.NotEmpty(t, r.str("msgId"))
		r = c.call(t, ctx, "BatchPublishMessage", "topicName", "t", "msgBody.0", "x", "msgBody.1", "y")
		requireOK(t, r)
		assert.Len(t, r["msgList"], 2)
		assertErr(t, c.call(t, ctx, "PublishMessage", "topicName", "t", "msgBody", "m",
			"msgTag.1", "a", "msgTag.2", "b", "msgTag.3", "c", "msgTag.4", "d", "msgTag.5", "e", "msgTag.6", "f"), 4000, 10720)
		r = c.call(t, ctx, "BatchReceiveMessage", "queueName", "q1", "numOfMsg", "16")
		requireOK(t, r)
		assert.Len(t, r["msgInfoList"], 1)
		r = c.call(t, ctx, "BatchReceiveMessage", "queueName", "q2", "numOfMsg", "16")
		requireOK(t, r)
		assert.Len(t, r["msgInfoList"], 3)

		r = c.call(t, ctx, "ListSubscriptionByTopic", "topicName", "t", "limit", "1", "offset", "1")
		requireOK(t, r)
		assert.Equal(t, 2, r.int("totalCount"))
		list := r["subscriptionList"].([]any)
		require.Len(t, list, 1)
		item := list[0].(map[string]any)
		assert.Equal(t, "s2", item["subscriptionName"])
		assert.Equal(t, "queue", item["protocol"])
		assert.Equal(t, "q2", item["endpoint"])
		assert.Contains(t, item, "subscriptionId")

		r = c.call(t, ctx, "GetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s1")
		requireOK(t, r)
		assert.Equal(t, "queue", r["protocol"])
		assert.Equal(t, "queue", r["protocal"])
		assert.Equal(t, []any{"a"}, r["filterTag"])
		assert.Equal(t, []any{"a"}, r["filterTags"])
		assert.Equal(t, []any{}, r["bindingKey"])
		assert.Equal(t, "EXPONENTIAL_DECAY_RETRY", r["notifyStrategy"])
		assert.Equal(t, "SIMPLIFIED", r["notifyContentFormat"])
		for _, k := range []string{"topicOwner", "msgCount", "endpoint", "createTime", "lastModifyTime"} {
			assert.Contains(t, r, k)
		}
		// filterTag.0: 0-based, as the docs' own example.
		requireOK(t, c.call(t, ctx, "SetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s1",
			"filterTag.0", "z", "notifyStrategy", "BACKOFF_RETRY"))
		r = c.call(t, ctx, "GetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s1")
		assert.Equal(t, []any{"z"}, r["filterTags"])
		assert.Equal(t, "BACKOFF_RETRY", r["notifyStrategy"])
		requireOK(t, c.call(t, ctx, "ClearSubscriptionFilterTags", "topicName", "t", "subscriptionName", "s1"))
		requireOK(t, c.call(t, ctx, "ClearSUbscriptionFIlterTags", "topicName", "t", "subscriptionName", "s1"))
		r = c.call(t, ctx, "GetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s1")
		assert.Equal(t, []any{}, r["filterTags"])
		assertErr(t, c.call(t, ctx, "GetSubscriptionAttributes", "topicName", "t", "subscriptionName", "nope"), 4000, 10560)

		requireOK(t, c.call(t, ctx, "Unsubscribe", "topicName", "t", "subscriptionName", "s1"))
		requireOK(t, c.call(t, ctx, "Unsubscribe", "topicName", "t", "subscriptionName", "s2"))
		assertErr(t, c.call(t, ctx, "Unsubscribe", "topicName", "nope", "subscriptionName", "s2"), 4440, 10600)
		requireOK(t, c.call(t, ctx, "DeleteTopic", "topicName", "t"))
		assertErr(t, c.call(t, ctx, "DeleteTopic", "topicName", "t"), 4440, 10600)
	})
}

func TestTopicRoutingKeyOverWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, c := t.Context(), e.c
		requireOK(t, c.call(t, ctx, "CreateQueue", "queueName", "q"))
		requireOK(t, c.call(t, ctx, "CreateTopic", "topicName", "r", "filterType", "2"))
		assertErr(t, c.call(t, ctx, "Subscribe", "topicName", "r", "subscriptionName", "s", "protocol", "queue", "endpoint", "q"), 4000, 10710)
		requireOK(t, c.call(t, ctx, "Subscribe", "topicName", "r", "subscriptionName", "s", "protocol", "queue",
			"endpoint", "q", "bindingKey.1", "1.#.0"))
		requireOK(t, c.call(t, ctx, "PublishMessage", "topicName", "r", "msgBody", "m", "routingKey", "1.2.3.4.4.2.2.0"))
		assertErr(t, c.call(t, ctx, "PublishMessage", "topicName", "r", "msgBody", "m", "routingKey", "1.2"), 6030, 10730)
		r := c.call(t, ctx, "GetSubscriptionAttributes", "topicName", "r", "subscriptionName", "s")
		assert.Equal(t, []any{"1.#.0"}, r["bindingKey"])
		requireOK(t, c.call(t, ctx, "ReceiveMessage", "queueName", "q"))
	})
}
