// Command report turns the output of benchmarks/run.sh into the results
// section of BENCHMARKS.md and the plot of cycle cost against backlog depth.
//
//	go run ./report -out ../BENCHMARKS.md -png cycle-vs-backlog.png out/*.txt
//
// It reads `go test -bench` output with golang.org/x/perf/benchfmt (and the
// machine.txt run.sh writes, as plain lines), summarizes every benchmark and
// unit over the -count runs with golang.org/x/perf/benchmath (the median and
// its 95% confidence interval, with no assumption about the distribution:
// what benchstat shows by default), judges the targets listed in targets.go
// and replaces the text between the markers <!-- results:begin --> and
// <!-- results:end --> in -out.
//
// A target whose benchmark is missing from the input fails the report: the
// exit status is 1, a line names each such target and what it lacks, and -out
// is left as it was (the section goes to standard output instead). The plot
// is drawn either way, from what was measured.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const (
	beginMarker = "<!-- results:begin -->"
	endMarker   = "<!-- results:end -->"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// run is the command: args are its flags and input files. It returns an
// error when an input cannot be read, when a target lacks a measurement, or
// when an output cannot be written.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "markdown file whose results section is replaced (default: print the section)")
	png := fs.String("png", "", "plot to write (PNG)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("no input files")
	}
	r := results{}
	var machine []string
	for _, p := range fs.Args() {
		var err error
		if filepath.Base(p) == "machine.txt" {
			machine, err = readLines(p, machine)
		} else {
			err = parseFile(r, p, stderr)
		}
		if err != nil {
			return err
		}
	}

	verdicts := judge(r)
	link := ""
	if *png != "" {
		link = filepath.Base(*png)
	}
	section := render(r, verdicts, machine, link)
	if *png != "" {
		if err := plot(r, *png); err != nil {
			return err
		}
	}
	missing := missingError(verdicts)
	if *out == "" || missing != nil {
		fmt.Fprint(stdout, section)
		if missing != nil && *out != "" {
			fmt.Fprintf(stderr, "%s left unchanged\n", *out)
		}
		return missing
	}
	return replaceSection(*out, section)
}

// readLines appends the lines of the file at path to lines.
func readLines(path string, lines []string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// replaceSection puts section between the results markers of the file at
// path.
func replaceSection(path, section string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(doc)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s ... %s section", path, beginMarker, endMarker)
	}
	s = s[:i+len(beginMarker)] + "\n" + section + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
