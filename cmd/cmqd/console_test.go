package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium returns the headless browser the console test drives: Debian's
// chromium package. Without it the test skips, unless CI=true, where
// .ci/run installs it and the test must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI=true: .ci/run installs it with apt-get install chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium); the console test needs a headless browser")
	return ""
}

// runChromium runs headless chromium with args on url, with its own
// profile, bounded in time, and returns its standard output.
func runChromium(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--disable-extensions", "--disable-background-networking",
		"--user-data-dir=" + t.TempDir(),
		"--window-size=1500,1100",
		// Let the page fetch its data and render before the dump or shot.
		"--virtual-time-budget=5000",
	}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())
	return string(out)
}

// The console, loaded in a real headless Chromium against a live cmqd
// with queues, messages, a dead-letter binding, topics and
// subscriptions, shows them; a screenshot is kept as the test's artifact.
func TestConsoleInChromium(t *testing.T) {
	bin := chromium(t)
	api, adm, _ := startAdmin(t, []string{"-console", "-visibility-timeout", "1s:12h:30s"}, nil)
	ctx := t.Context()
	must := func(kv ...string) map[string]any {
		r := call(t, ctx, api, "", "", kv...)
		require.Equal(t, 0, code(r), r)
		return r
	}
	must("Action", "CreateQueue", "queueName", "orders-dlq")
	must("Action", "CreateQueue", "queueName", "orders", "visibilityTimeout", "60",
		"deadLetterPolicy", `{"deadLetterQueue":"orders-dlq","policy":0,"maxReceiveCount":5}`)
	must("Action", "CreateQueue", "queueName", "emails")
	for i := range 7 {
		must("Action", "SendMessage", "queueName", "orders", "msgBody", "order "+string(rune('a'+i)))
	}
	must("Action", "SendMessage", "queueName", "emails", "msgBody", "welcome", "delaySeconds", "600")
	r := must("Action", "BatchReceiveMessage", "queueName", "orders", "numOfMsg", "3")
	msgs := r["msgInfoList"].([]any)
	must("Action", "DeleteMessage", "queueName", "orders", "receiptHandle", msgs[0].(map[string]any)["receiptHandle"].(string))
	// Topics: one filtered by tags with a queue subscription, one by
	// routing key with an HTTP subscription whose endpoint refuses (its
	// delivery stays pending, retried).
	must("Action", "CreateQueue", "queueName", "audit")
	must("Action", "CreateTopic", "topicName", "events")
	must("Action", "Subscribe", "topicName", "events", "subscriptionName", "to-audit", "protocol", "queue",
		"endpoint", "audit", "notifyContentFormat", "SIMPLIFIED", "filterTag.0", "order", "filterTag.1", "refund")
	must("Action", "PublishMessage", "topicName", "events", "msgBody", "order a", "msgTag.0", "order")
	must("Action", "PublishMessage", "topicName", "events", "msgBody", "order b", "msgTag.0", "order")
	must("Action", "CreateTopic", "topicName", "webhooks", "filterType", "2")
	must("Action", "Subscribe", "topicName", "webhooks", "subscriptionName", "shop-hook", "protocol", "http",
		"endpoint", "http://127.0.0.1:1/hook", "bindingKey.0", "order.*")
	must("Action", "PublishMessage", "topicName", "webhooks", "msgBody", "{}", "routingKey", "order.created")

	dom := runChromium(t, bin, adm+"/", "--dump-dom")
	text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(dom, "|")
	text = regexp.MustCompile(`\|+`).ReplaceAllString(text, "|")
	for _, want := range []string{
		"|ready|",
		// name, active, inactive, delayed, rewound, oldest (skipped), ...
		"|orders|4|2|0|0|",
		"|emails|0|0|1|0|",
		"|orders-dlq| (dead-letter queue)|0|0|0|0|",
		// orders: waiting, sent, received, deleted, throttled, refused, dead-lettered, visibility
		"|0|7|3|1|0|0|0|1m0s|",
		// bindings: source, dead-letter queue, policy
		"|orders|orders-dlq|after 5 receives|0|",
		"|audit|2|0|0|0|",
		// topics: name, filter type, pending, subscriptions, published, delivered
		"|events|tags|0|1|2|2|0|0|0|",
		"|webhooks|routing key|1|1|1|0|",
		// subscriptions: topic, name, protocol, endpoint, filter, pending, delivered
		"|events|to-audit|queue|audit|tags: order, refund|0|2|0|0|",
		"|webhooks|shop-hook|http|http://127.0.0.1:1/hook|keys: order.*|1|0|",
		"|total|6|2|1|0|",
	} {
		assert.Contains(t, text, want, "console DOM")
	}
	assert.NotContains(t, text, "unreachable", "the page fetched its data")

	shot := filepath.Join(os.TempDir(), "cmqd-console.png")
	if p := os.Getenv("CMQD_CONSOLE_SCREENSHOT"); p != "" {
		shot = p // e.g. docs/console.png, to refresh the README's picture
	}
	runChromium(t, bin, adm+"/", "--screenshot="+shot, "--hide-scrollbars")
	info, err := os.Stat(shot)
	require.NoError(t, err)
	assert.Greater(t, info.Size(), int64(10_000), "a real picture")
	t.Logf("console screenshot (test artifact): %s", shot)
}
