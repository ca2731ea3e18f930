package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// confidence is the level of the confidence intervals, benchstat's default.
const confidence = 0.95

// thresholds are benchmath's defaults.
var thresholds = benchmath.DefaultThresholds

// assumption is benchmath's nonparametric one, benchstat's default: the
// summary is the median, its interval from order statistics.
var assumption = benchmath.AssumeNothing

// results holds the value of every run of every benchmark, by benchmark
// name (without "Benchmark" and the -GOMAXPROCS suffix) and unit (as the
// benchmark printed it: ns/msg, not benchfmt's tidied sec/msg).
type results map[string]map[string][]float64

// A measure is one unit of one benchmark.
type measure struct{ bench, unit string }

func (m measure) String() string { return m.bench + " " + m.unit }

// parseFile adds the results in the `go test -bench` output at path to r.
// Lines benchfmt cannot parse are reported on warn and skipped.
func parseFile(r results, path string, warn io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return parse(r, f, path, warn)
}

// parse adds the results in the `go test -bench` output in in (named name
// in messages) to r.
func parse(r results, in io.Reader, name string, warn io.Writer) error {
	br := benchfmt.NewReader(in, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			fmt.Fprintf(warn, "warning: %v\n", rec)
		case *benchfmt.Result:
			bench := benchName(rec.Name)
			if r[bench] == nil {
				r[bench] = map[string][]float64{}
			}
			for _, v := range rec.Values {
				unit, x := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, x = v.OrigUnit, v.OrigValue
				}
				r[bench][unit] = append(r[bench][unit], x)
			}
		}
	}
	return br.Err()
}

// benchName is n without the -GOMAXPROCS suffix `go test` adds.
func benchName(n benchfmt.Name) string {
	s := string(n.Full())
	if i := strings.LastIndexByte(s, '-'); i > 0 && !strings.Contains(s[i:], "/") {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			s = s[:i]
		}
	}
	return s
}

// summary is the median of m's runs and its confidence interval, and
// whether m was measured at all.
func (r results) summary(m measure) (benchmath.Summary, bool) {
	vs := r[m.bench][m.unit]
	if len(vs) == 0 {
		return benchmath.Summary{}, false
	}
	s := benchmath.NewSample(slices.Clone(vs), &thresholds)
	return assumption.Summary(s, confidence), true
}

// median is the median of m's runs, and whether m was measured.
func (r results) median(m measure) (float64, bool) {
	s, ok := r.summary(m)
	return s.Center, ok
}

// runs is the least and the most runs any measure of r has.
func (r results) runs() (least, most int) {
	least = math.MaxInt
	for _, units := range r {
		for _, vs := range units {
			least, most = min(least, len(vs)), max(most, len(vs))
		}
	}
	if most == 0 {
		return 0, 0
	}
	return least, most
}

// ci writes s's confidence interval as benchstat does, a percentage of the
// median either side: "±3%", "±∞" when there are too few runs for one.
func ci(s benchmath.Summary) string {
	switch {
	case math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0):
		return "±∞"
	case s.Lo == s.Center && s.Hi == s.Center:
		return "±0%"
	case s.Center == 0 || math.Signbit(s.Lo) != math.Signbit(s.Center) || math.Signbit(s.Hi) != math.Signbit(s.Center):
		return "±?"
	}
	pct := 100 * math.Max(s.Hi/s.Center-1, 1-s.Lo/s.Center)
	if pct < 1 {
		return "±" + strconv.FormatFloat(pct, 'f', 1, 64) + "%"
	}
	return "±" + strconv.FormatFloat(pct, 'f', 0, 64) + "%"
}

// f0 writes x rounded to an integer, with thousands separators.
func f0(x float64) string {
	s := strconv.FormatFloat(x, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func f1(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }
func f2(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
