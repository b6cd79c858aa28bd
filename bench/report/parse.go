package report

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Metric is one value of a benchmark line: "123 ns/op" or a b.ReportMetric value such as
// "45.6 lookup-µs/median".
type Metric struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Benchmark is one result line of `go test -bench`.
type Benchmark struct {
	// Name is the full name without the GOMAXPROCS suffix: "BenchmarkPlan/size=M".
	Name    string `json:"name"`
	Package string `json:"package,omitempty"`
	// Procs is the GOMAXPROCS suffix of the line (the "-2" of "BenchmarkX-2"); 1 when absent.
	Procs      int      `json:"procs"`
	Iterations int64    `json:"iterations"`
	Metrics    []Metric `json:"metrics"`
	// Size is the cluster size named by a "size=S|M|L" element of Name, or empty.
	Size string `json:"size,omitempty"`
	// CarriedFrom is when an earlier run measured this line, for a line Merge carried over
	// from that run's report; zero for a line of this run.
	CarriedFrom time.Time `json:"carriedFrom,omitzero"`
}

// Base is Name without its size element: the benchmarks of one cost at several sizes share
// a Base.
func (b Benchmark) Base() string {
	parts := strings.Split(b.Name, "/")
	out := parts[:0:0]
	for _, p := range parts {
		if _, ok := sizeOf(p); !ok {
			out = append(out, p)
		}
	}
	return strings.Join(out, "/")
}

// Value returns the value of the metric with the given unit.
func (b Benchmark) Value(unit string) (float64, bool) {
	for _, m := range b.Metrics {
		if m.Unit == unit {
			return m.Value, true
		}
	}
	return 0, false
}

// Run is everything parsed from one `go test -bench` output.
type Run struct {
	Goos       string      `json:"goos,omitempty"`
	Goarch     string      `json:"goarch,omitempty"`
	CPU        string      `json:"cpu,omitempty"`
	Benchmarks []Benchmark `json:"benchmarks"`
	// Failures are the "--- FAIL" and "FAIL\tpackage" lines: a benchmark that failed reports
	// nothing, and the report must say so rather than show its target as not measured.
	Failures []string `json:"failures,omitempty"`
}

// benchLine matches the head of a result line: the name, an optional -PROCS suffix, and the
// iteration count. The metrics follow as value/unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S*?)(?:-(\d+))?\s+(\d+)((?:\s+\S+\s+\S+)*)\s*$`)

// benchName matches a line holding only a benchmark name, which happens when the benchmark
// printed something (b.Log, a child process) before its result: the figures then follow on
// a later line of their own.
var benchName = regexp.MustCompile(`^(Benchmark\S*?)(?:-(\d+))?\s*$`)

// counted matches the figures of such a broken line: iterations and value/unit pairs.
var counted = regexp.MustCompile(`^\s*(\d+)((?:\s+\S+\s+\S+)+)\s*$`)

// Parse reads `go test -bench` output (several packages, -v or not, interleaved logs) and
// returns the benchmark lines it holds. Lines it does not recognise are skipped; a result
// line whose figures do not parse is an error naming the line, since a silently dropped
// figure would show up as "not measured".
func Parse(r io.Reader) (*Run, error) {
	run := &Run{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	pkg, pendingName, pendingProcs := "", "", ""
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if head, ok := headerLine(line); ok {
			run.setHeader(head, line, &pkg)
			continue
		}
		if strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL\t") || strings.HasPrefix(line, "panic:") {
			run.Failures = append(run.Failures, strings.TrimSpace(line))
			continue
		}
		var name, procs, iters, figures string
		if m := benchLine.FindStringSubmatch(line); m != nil {
			name, procs, iters, figures = m[1], m[2], m[3], m[4]
		} else if m := benchName.FindStringSubmatch(line); m != nil {
			pendingName, pendingProcs = m[1], m[2]
			continue
		} else if m := counted.FindStringSubmatch(line); m != nil && pendingName != "" {
			name, procs, iters, figures = pendingName, pendingProcs, m[1], m[2]
		} else {
			continue
		}
		pendingName = ""
		b, err := newBenchmark(pkg, name, procs, iters, figures)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", lineNo, line, err)
		}
		run.Benchmarks = append(run.Benchmarks, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read the benchmark output: %w", err)
	}
	return run, nil
}

func headerLine(line string) (string, bool) {
	for _, h := range []string{"goos:", "goarch:", "pkg:", "cpu:"} {
		if strings.HasPrefix(line, h) {
			return h, true
		}
	}
	return "", false
}

func (run *Run) setHeader(head, line string, pkg *string) {
	v := strings.TrimSpace(strings.TrimPrefix(line, head))
	switch head {
	case "goos:":
		run.Goos = v
	case "goarch:":
		run.Goarch = v
	case "cpu:":
		run.CPU = v
	case "pkg:":
		*pkg = v
	}
}

func newBenchmark(pkg, name, procs, iters, figures string) (Benchmark, error) {
	b := Benchmark{Name: name, Package: pkg, Procs: 1}
	if procs != "" {
		b.Procs, _ = strconv.Atoi(procs)
	}
	n, err := strconv.ParseInt(iters, 10, 64)
	if err != nil {
		return b, fmt.Errorf("iteration count %q: %w", iters, err)
	}
	b.Iterations = n
	f := strings.Fields(figures)
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return b, fmt.Errorf("value %q of %s: %w", f[i], f[i+1], err)
		}
		b.Metrics = append(b.Metrics, Metric{Value: v, Unit: f[i+1]})
	}
	for _, p := range strings.Split(name, "/") {
		if s, ok := sizeOf(p); ok {
			b.Size = s
		}
	}
	return b, nil
}

// sizeOf reads a "size=S" name element.
func sizeOf(elem string) (string, bool) {
	v, ok := strings.CutPrefix(elem, "size=")
	if !ok {
		return "", false
	}
	switch s := strings.ToUpper(v); s {
	case "S", "M", "L":
		return s, true
	}
	return "", false
}
