package main

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchmath"
)

// doc is a markdown file with an old results section.
const doc = "# Benchmarks\n\n" + beginMarker + "\nold results\n" + endMarker + "\n\nafter\n"

// oneBenchmark is `go test -bench` output with a single benchmark: the
// single cycle at 1,000 queued, which only the allocations target can be
// judged on by itself.
const oneBenchmark = `goos: linux
goarch: amd64
pkg: github.com/opencmq/cmq
BenchmarkCycle/single/queued=1000-2   	 2849616	       426.0 ns/op	       444.0 cpu-ns/msg	       426.0 ns/msg	      61 B/op	       2 allocs/op
PASS
`

// writeFile writes content to name in a new temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func TestOneBenchmarkFailsTheReport(t *testing.T) {
	in := writeFile(t, "cycle.txt", oneBenchmark)
	out := writeFile(t, "BENCHMARKS.md", doc)
	var stdout, stderr bytes.Buffer

	err := run([]string{"-out", out, in}, &stdout, &stderr)

	require.Error(t, err, "a report with targets not measured must fail")
	assert.Contains(t, err.Error(), "14 of 15 targets not measured")
	// One line per target not measured, naming the benchmark it lacks.
	for _, tg := range targets[:7] {
		assert.Contains(t, err.Error(), "target \""+tg.name+"\"")
	}
	assert.Contains(t, err.Error(), `target "single cycle at 1,000 queued, per message, against a channel send + receive" (≤ 8.00×) lacks benchmark Baseline/chan cpu-ns/msg and Baseline/chan ns/msg`)
	assert.Contains(t, err.Error(), `target "wake-up p50 with one waiter" (< 10.0 µs) lacks benchmark Wakeup/waiters=1 wake-p50-ns`)
	assert.NotContains(t, err.Error(), "allocations per single-message cycle", "the allocations target was measured")
	assert.Equal(t, 15, strings.Count(err.Error(), "\n")+1, "a heading and 14 lines")

	got, rerr := os.ReadFile(out)
	require.NoError(t, rerr)
	assert.Equal(t, doc, string(got), "-out must be left unchanged when a target is not measured")
	assert.Equal(t, 14, strings.Count(stdout.String(), "| **missing** |"), "the section goes to stdout, with every missing verdict")
	assert.Equal(t, 1, strings.Count(stdout.String(), "| **met** |"))
	assert.NotContains(t, stdout.String(), "**missed**")
	assert.Contains(t, stdout.String(), "| allocations per single-message cycle | ≤ 3 | 2 | too few runs | **met** |")
	assert.Contains(t, stdout.String(), "from 1 run of each benchmark")
}

func TestJudgeOneBenchmark(t *testing.T) {
	r := results{}
	require.NoError(t, parse(r, strings.NewReader(oneBenchmark), "one", io.Discard))

	for _, v := range judge(r) {
		if v.name == "allocations per single-message cycle" {
			assert.Empty(t, v.missing, v.name)
			assert.True(t, v.met, v.name)
			continue
		}
		assert.NotEmpty(t, v.missing, "%s was judged on one benchmark", v.name)
		assert.False(t, v.met, "%s is met with nothing measured", v.name)
		assert.Equal(t, "**missing**", v.word(), v.name)
	}
}

func TestAllMeasured(t *testing.T) {
	dir := t.TempDir()
	out := writeFile(t, "BENCHMARKS.md", doc)
	plotPath := filepath.Join(dir, "cycle.png")
	machine := writeFile(t, "machine.txt", "date: today\ncpus: 2\n")
	var stdout, stderr bytes.Buffer

	err := run([]string{"-out", out, "-png", plotPath, filepath.Join("testdata", "all.txt"), machine}, &stdout, &stderr)

	require.NoError(t, err, "stderr: %s", stderr.String())
	assert.Empty(t, stderr.String())
	assert.Empty(t, stdout.String(), "with -out the section goes to the file")
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	got := string(b)
	assert.True(t, strings.HasPrefix(got, "# Benchmarks\n\n"+beginMarker+"\n"), "text before the section kept")
	assert.True(t, strings.HasSuffix(got, endMarker+"\n\nafter\n"), "text after the section kept")
	assert.NotContains(t, got, "old results")
	assert.NotContains(t, got, "| **missing** |")
	assert.Contains(t, got, "from 6 runs of each benchmark")
	assert.Contains(t, got, "```\ndate: today\ncpus: 2\n```")
	assert.Contains(t, got, "| 1,000 queued | 426 ±4% | 444 ±4% | 10.5 | 13.9 | 1.00 | 61 ±0% | 2 ±0% | 340 ±4% | 394 ±4% | 8.4 | 1.00 | 0.31 |")
	assert.Contains(t, got, "![cycle cost against backlog depth](benchmarks/cycle.png)")

	// The verdicts of the run the input was made from.
	want := map[string]string{
		"single cycle at 1,000 queued, per message, against a channel send + receive":                               "| ≤ 8.00× | 10.83× (wall time: 10.47×) | 10.10× to 11.61× | **missed** |",
		"batch of 16 at 1,000 queued, per message, against a channel send + receive":                                "| ≤ 4.00× | 9.61× (wall time: 8.35×) | 8.96× to 10.30× | **missed** |",
		"one shared queue under contention (Parallel/queues=1) against the parallel channel, time per cycle":        "| ≤ 3.00× | 5.58× | 5.20× to 5.98× | **missed** |",
		"single cycle at 1,000,000 queued against the cost at 1,000":                                                "| ≤ 2.50× | 1.31× (wall time: 1.29×) | 1.22× to 1.41× | **met** |",
		"single cycle at 100,000 in flight against the cost at 1,000 queued":                                        "| ≤ 2.50× | 1.08× (wall time: 1.01×) | 1.01× to 1.16× | **met** |",
		"batch of 16 at 1,000,000 queued against the cost at 1,000":                                                 "| ≤ 2.50× | 1.73× (wall time: 1.63×) | 1.61× to 1.85× | **met** |",
		"batch of 16 at 100,000 in flight against the cost at 1,000 queued":                                         "| ≤ 2.50× | 1.54× (wall time: 1.29×) | 1.44× to 1.65× | **met** |",
		"goqite (in-memory SQLite) against cmq, time per cycle":                                                     "| ≥ 300× | 214× | 200× to 230× | **missed** |",
		"allocations per single-message cycle":                                                                      "| ≤ 3 | 2 | 2 to 2 | **met** |",
		"heap per queued message beyond its body":                                                                   "| ≤ 150.0 B | 127.5 B | 123.7 B to 132.6 B | **met** |",
		"wake-up p50 with one waiter":                                                                               "| < 10.0 µs | 1.8 µs | 1.7 µs to 1.9 µs | **met** |",
		"wake-up p99 with one waiter":                                                                               "| < 50.0 µs | 7.6 µs | 7.4 µs to 8.0 µs | **met** |",
		"10,000 waiters: a send (which wakes exactly one, checked by the benchmark) against a send with one waiter": "| ≤ 3.00× | 1.00× | 0.93× to 1.07× | **met** |",
		"100,000 idle queues: goroutines added":                                                                     "| ≤ 0 | 0 | 0 to 0 | **met** |",
		"100,000 idle queues: process CPU in 200 ms idle with them, minus the same with no queue":                   "| < 2.00 ms | -0.29 ms | -0.33 ms to -0.26 ms | **met** |",
	}
	require.Len(t, want, len(targets))
	for _, tg := range targets {
		assert.Contains(t, got, "| "+tg.name+" "+want[tg.name]+"\n", tg.name)
	}

	f, err := os.Open(plotPath)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err, "the plot is a PNG")
	assert.Greater(t, cfg.Width, 800)
	assert.Greater(t, cfg.Height, 400)
}

func TestRunBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no input", nil, "no input files"},
		{"input not found", []string{filepath.Join(t.TempDir(), "none.txt")}, "no such file"},
		{"no section in -out", []string{"-out", writeFile(t, "doc.md", "# no markers\n"), filepath.Join("testdata", "all.txt")}, "no <!-- results:begin -->"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParse(t *testing.T) {
	r := results{}
	var warn bytes.Buffer
	in := "BenchmarkCycle/single/queued=1000-2 10 426 ns/msg 444 cpu-ns/msg 2 allocs/op\n" +
		"BenchmarkCycle/single/queued=1000-2 10 430 ns/msg 450 cpu-ns/msg 2 allocs/op\n" +
		"BenchmarkBaseline/mutex-slice 10 30.7 ns/msg\n" +
		"BenchmarkBaseline/chan-parallel-8 10 116.2 ns/op\n" +
		"BenchmarkWakeup/waiters=1-2 10000 1803 wake-p50-ns\n" +
		"BenchmarkBroken-2 10 x ns/op\n"

	require.NoError(t, parse(r, strings.NewReader(in), "in", &warn))

	assert.Equal(t, results{
		"Cycle/single/queued=1000": {"ns/msg": {426, 430}, "cpu-ns/msg": {444, 450}, "allocs/op": {2, 2}},
		"Baseline/mutex-slice":     {"ns/msg": {30.7}},
		"Baseline/chan-parallel":   {"ns/op": {116.2}},
		"Wakeup/waiters=1":         {"wake-p50-ns": {1803}},
	}, r, "units as printed, -GOMAXPROCS suffixes dropped")
	assert.Contains(t, warn.String(), "in:6:", "a line benchfmt cannot parse is reported")
}

func TestCI(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []float64
		want   string
	}{
		{"one run", []float64{100}, "±∞"},
		{"five runs", []float64{100, 101, 99, 102, 98}, "±∞"},
		{"six runs", []float64{100, 101, 99, 102, 98, 100}, "±2%"},
		{"six equal runs", []float64{2, 2, 2, 2, 2, 2}, "±0%"},
		{"six zeros", []float64{0, 0, 0, 0, 0, 0}, "±0%"},
		{"under 1%", []float64{1000, 1001, 999, 1002, 998, 1000}, "±0.2%"},
		{"across zero", []float64{-1, 1, 0, 2, -2, 0}, "±?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := assumption.Summary(benchmath.NewSample(tc.values, &thresholds), confidence)
			assert.Equal(t, tc.want, ci(s))
		})
	}
}

func TestTargetsTable(t *testing.T) {
	names := map[string]bool{}
	for _, tg := range targets {
		assert.False(t, names[tg.name], "duplicate target %q", tg.name)
		names[tg.name] = true
		assert.Contains(t, []comparison{atMost, below, atLeast}, tg.cmp, tg.name)
		assert.NotEqual(t, measure{}, tg.of, tg.name)
		assert.False(t, tg.per != (measure{}) && tg.minus != (measure{}), "%s: per and minus both set", tg.name)
		assert.Equal(t, tg.wallOf == (measure{}), tg.wallPer == (measure{}), "%s: half a wall-time ratio", tg.name)
		assert.NotNil(t, tg.show, tg.name)
	}
}

func TestComparison(t *testing.T) {
	for _, tc := range []struct {
		cmp      comparison
		x, limit float64
		want     bool
	}{
		{atMost, 8, 8, true},
		{atMost, 8.01, 8, false},
		{below, 10, 10, false},
		{below, 9.99, 10, true},
		{atLeast, 300, 300, true},
		{atLeast, 299, 300, false},
		{comparison("="), 1, 1, false},
	} {
		assert.Equal(t, tc.want, tc.cmp.holds(tc.x, tc.limit), "%v %s %v", tc.x, tc.cmp, tc.limit)
	}
}
