package main

import (
	"fmt"
	"math"
	"strings"
)

// A target is a limit the project set on one measured quantity: the median
// of one benchmark's unit, or the ratio or difference of two such medians.
type target struct {
	name string // what is measured, as the report shows it

	of measure // the measurement
	// per, if set, makes the quantity of / per (a ratio of medians);
	// minus, if set, makes it of − minus. At most one of them is set.
	per, minus measure

	cmp   comparison // how the quantity must compare with limit
	limit float64
	// show writes the quantity and the limit.
	show func(float64) string

	// wallOf and wallPer, if set, are the wall-time counterpart of a ratio
	// of CPU times: shown beside it, not judged.
	wallOf, wallPer measure
}

// A comparison is how a quantity must compare with its target's limit.
type comparison string

const (
	atMost  comparison = "≤"
	below   comparison = "<"
	atLeast comparison = "≥"
)

func (c comparison) holds(x, limit float64) bool {
	switch c {
	case atMost:
		return x <= limit
	case below:
		return x < limit
	case atLeast:
		return x >= limit
	}
	return false
}

func (t target) reads() []measure {
	ms := []measure{t.of}
	for _, m := range []measure{t.per, t.minus, t.wallOf, t.wallPer} {
		if m != (measure{}) {
			ms = append(ms, m)
		}
	}
	return ms
}

func cpu(bench string) measure    { return measure{bench, "cpu-ns/msg"} }
func wall(bench string) measure   { return measure{bench, "ns/msg"} }
func times(x float64) string      { return f2(x) + "×" }
func count(x float64) string      { return f0(x) }
func byteSize(x float64) string   { return f1(x) + " B" }
func micros(ns float64) string    { return f1(ns/1e3) + " µs" }
func millis(ns float64) string    { return f2(ns/1e6) + " ms" }
func timesRound(x float64) string { return f0(x) + "×" }

// Ratios of cost are judged on CPU time per message (the process's user +
// system time, garbage collection included): on a shared machine wall time
// also counts the time other processes held the CPU.
var targets = []target{
	{
		name: "single cycle at 1,000 queued, per message, against a channel send + receive",
		of:   cpu("Cycle/single/queued=1000"), per: cpu("Baseline/chan"),
		cmp: atMost, limit: 8, show: times,
		wallOf: wall("Cycle/single/queued=1000"), wallPer: wall("Baseline/chan"),
	},
	{
		name: "batch of 16 at 1,000 queued, per message, against a channel send + receive",
		of:   cpu("Cycle/batch16/queued=1000"), per: cpu("Baseline/chan"),
		cmp: atMost, limit: 4, show: times,
		wallOf: wall("Cycle/batch16/queued=1000"), wallPer: wall("Baseline/chan"),
	},
	{
		// Contention is judged on wall time: time spent waiting for a
		// queue's lock is not CPU time.
		name: "one shared queue under contention (Parallel/queues=1) against the parallel channel, time per cycle",
		of:   measure{"Parallel/queues=1", "ns/op"}, per: measure{"Baseline/chan-parallel", "ns/op"},
		cmp: atMost, limit: 3, show: times,
	},
	{
		name: "single cycle at 1,000,000 queued against the cost at 1,000",
		of:   cpu("Cycle/single/queued=1000000"), per: cpu("Cycle/single/queued=1000"),
		cmp: atMost, limit: 2.5, show: times,
		wallOf: wall("Cycle/single/queued=1000000"), wallPer: wall("Cycle/single/queued=1000"),
	},
	{
		name: "single cycle at 100,000 in flight against the cost at 1,000 queued",
		of:   cpu("Cycle/single/inflight=100000"), per: cpu("Cycle/single/queued=1000"),
		cmp: atMost, limit: 2.5, show: times,
		wallOf: wall("Cycle/single/inflight=100000"), wallPer: wall("Cycle/single/queued=1000"),
	},
	{
		name: "batch of 16 at 1,000,000 queued against the cost at 1,000",
		of:   cpu("Cycle/batch16/queued=1000000"), per: cpu("Cycle/batch16/queued=1000"),
		cmp: atMost, limit: 2.5, show: times,
		wallOf: wall("Cycle/batch16/queued=1000000"), wallPer: wall("Cycle/batch16/queued=1000"),
	},
	{
		name: "batch of 16 at 100,000 in flight against the cost at 1,000 queued",
		of:   cpu("Cycle/batch16/inflight=100000"), per: cpu("Cycle/batch16/queued=1000"),
		cmp: atMost, limit: 2.5, show: times,
		wallOf: wall("Cycle/batch16/inflight=100000"), wallPer: wall("Cycle/batch16/queued=1000"),
	},
	{
		name: "goqite (in-memory SQLite) against cmq, time per cycle",
		of:   measure{"Peer/goqite-sqlite-memory", "ns/op"}, per: measure{"Peer/cmq", "ns/op"},
		cmp: atLeast, limit: 300, show: timesRound,
	},
	{
		name: "allocations per single-message cycle",
		of:   measure{"Cycle/single/queued=1000", "allocs/op"},
		cmp:  atMost, limit: 3, show: count,
	},
	{
		name: "heap per queued message beyond its body",
		of:   measure{"Memory/queued=100000", "bytes/msg"},
		cmp:  atMost, limit: 150, show: byteSize,
	},
	{
		name: "wake-up p50 with one waiter",
		of:   measure{"Wakeup/waiters=1", "wake-p50-ns"},
		cmp:  below, limit: 10_000, show: micros,
	},
	{
		name: "wake-up p99 with one waiter",
		of:   measure{"Wakeup/waiters=1", "wake-p99-ns"},
		cmp:  below, limit: 50_000, show: micros,
	},
	{
		name: "10,000 waiters: a send (which wakes exactly one, checked by the benchmark) against a send with one waiter",
		of:   measure{"Wakeup/waiters=10000", "send-p50-ns"}, per: measure{"Wakeup/waiters=1", "send-p50-ns"},
		cmp: atMost, limit: 3, show: times,
	},
	{
		name: "100,000 idle queues: goroutines added",
		of:   measure{"Queues/idle=100000", "goroutines"},
		cmp:  atMost, limit: 0, show: count,
	},
	{
		name: "100,000 idle queues: process CPU in 200 ms idle with them, minus the same with no queue",
		of:   measure{"Queues/idle=100000", "idle-cpu-ns/200ms"}, minus: measure{"Queues/idle=100000", "empty-cpu-ns/200ms"},
		cmp: below, limit: 2e6, show: millis,
	},
}

// A verdict is a target judged on a set of results.
type verdict struct {
	target
	missing []measure // the measures the target reads that were not measured
	value   float64   // the quantity, from the medians
	lo, hi  float64   // its range from the medians' confidence intervals
	wall    float64   // the wall-time ratio, if the target has one
	met     bool
}

// judge judges every target on r.
func judge(r results) []verdict {
	vs := make([]verdict, 0, len(targets))
	for _, t := range targets {
		v := verdict{target: t}
		for _, m := range t.reads() {
			if _, ok := r.summary(m); !ok {
				v.missing = append(v.missing, m)
			}
		}
		if len(v.missing) > 0 {
			vs = append(vs, v)
			continue
		}
		a, _ := r.summary(t.of)
		v.value, v.lo, v.hi = a.Center, a.Lo, a.Hi
		switch {
		case t.per != (measure{}):
			b, _ := r.summary(t.per)
			v.value, v.lo, v.hi = a.Center/b.Center, a.Lo/b.Hi, a.Hi/b.Lo
		case t.minus != (measure{}):
			b, _ := r.summary(t.minus)
			v.value, v.lo, v.hi = a.Center-b.Center, a.Lo-b.Hi, a.Hi-b.Lo
		}
		if t.wallOf != (measure{}) {
			n, _ := r.median(t.wallOf)
			d, _ := r.median(t.wallPer)
			v.wall = n / d
		}
		v.met = t.cmp.holds(v.value, t.limit)
		vs = append(vs, v)
	}
	return vs
}

// word is the verdict as the table writes it.
func (v verdict) word() string {
	switch {
	case len(v.missing) > 0:
		return "**missing**"
	case v.met:
		return "**met**"
	}
	return "**missed**"
}

// measured is the quantity as the table writes it.
func (v verdict) measured() string {
	if len(v.missing) > 0 {
		names := make([]string, len(v.missing))
		for i, m := range v.missing {
			names[i] = "`" + m.String() + "`"
		}
		return "not measured: " + strings.Join(names, ", ")
	}
	s := v.show(v.value)
	if v.wallOf != (measure{}) {
		s += " (wall time: " + times(v.wall) + ")"
	}
	return s
}

// interval is the quantity's range from the confidence intervals of the
// medians it is computed from, and whether that range lies wholly on the
// verdict's side of the limit.
func (v verdict) interval() string {
	if len(v.missing) > 0 {
		return ""
	}
	if math.IsInf(v.lo, 0) || math.IsInf(v.hi, 0) || math.IsNaN(v.lo) || math.IsNaN(v.hi) {
		return "too few runs"
	}
	s := v.show(v.lo) + " to " + v.show(v.hi)
	if v.cmp.holds(v.lo, v.limit) != v.cmp.holds(v.hi, v.limit) {
		s += " (crosses the limit)"
	}
	return s
}

// missingError is nil if every target was measured, and otherwise names
// each target that was not and what it lacks, one line each.
func missingError(vs []verdict) error {
	var lines []string
	for _, v := range vs {
		if len(v.missing) == 0 {
			continue
		}
		names := make([]string, len(v.missing))
		for i, m := range v.missing {
			names[i] = m.String()
		}
		lines = append(lines, fmt.Sprintf("target %q (%s %s) lacks benchmark %s",
			v.name, v.cmp, v.show(v.limit), strings.Join(names, " and ")))
	}
	if lines == nil {
		return nil
	}
	return fmt.Errorf("%d of %d targets not measured:\n\t%s", len(lines), len(vs), strings.Join(lines, "\n\t"))
}
