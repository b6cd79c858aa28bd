package report

import (
	"os"
	"strings"
	"testing"
)

func parseFile(t *testing.T, path string) *Run {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func find(t *testing.T, run *Run, name string) Benchmark {
	t.Helper()
	for _, b := range run.Benchmarks {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("no benchmark %s in %+v", name, run.Benchmarks)
	return Benchmark{}
}

func TestParseReadsEveryBenchmarkLine(t *testing.T) {
	run := parseFile(t, "testdata/bench-output.txt")
	if run.Goos != "linux" || run.Goarch != "amd64" || run.CPU != "AMD EPYC 7B13" {
		t.Errorf("header = %s/%s %q", run.Goos, run.Goarch, run.CPU)
	}
	if len(run.Benchmarks) != 9 {
		t.Fatalf("parsed %d benchmarks, want 9: %+v", len(run.Benchmarks), run.Benchmarks)
	}
	for _, tc := range []struct {
		name, behaviour string
		bench           string
		pkg, size       string
		procs           int
		iterations      int64
		unit            string
		value           float64
	}{
		{name: "standard and custom metrics on one line", bench: "BenchmarkApply/size=S", pkg: "github.com/pruneguard/pruneguard/pkg/index",
			size: "S", procs: 2, iterations: 3, unit: "updates/s", value: 61234},
		{name: "a unit with a non-ASCII letter", bench: "BenchmarkLookupDigest", pkg: "github.com/pruneguard/pruneguard/pkg/index",
			procs: 2, iterations: 200000, unit: "lookup-µs/median", value: 38.5},
		{name: "a result broken by a log line between the name and the figures", bench: "BenchmarkPlan/size=L",
			pkg: "github.com/pruneguard/pruneguard/pruner", size: "L", procs: 2, iterations: 1, unit: "full-plan-MiB/peak-rss", value: 2900},
		{name: "a name without the GOMAXPROCS suffix", bench: "BenchmarkHandler", pkg: "github.com/pruneguard/pruneguard/webhook",
			procs: 1, iterations: 50000, unit: "reviews/s", value: 6451},
		{name: "a sub-benchmark that is not a size", bench: "BenchmarkWebhookAdded/rate=200", pkg: "github.com/pruneguard/pruneguard/webhook",
			procs: 2, iterations: 1, unit: "webhook-added-ms/p99.9", value: 3.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := find(t, run, tc.bench)
			if b.Package != tc.pkg || b.Size != tc.size || b.Procs != tc.procs || b.Iterations != tc.iterations {
				t.Errorf("got package %q size %q procs %d iterations %d; want %q %q %d %d",
					b.Package, b.Size, b.Procs, b.Iterations, tc.pkg, tc.size, tc.procs, tc.iterations)
			}
			if v, ok := b.Value(tc.unit); !ok || v != tc.value {
				t.Errorf("%s = %v (%v), want %v; metrics %+v", tc.unit, v, ok, tc.value, b.Metrics)
			}
		})
	}
	if got := find(t, run, "BenchmarkPlan/size=M").Base(); got != "BenchmarkPlan" {
		t.Errorf("Base() = %q, want BenchmarkPlan", got)
	}
	if len(run.Failures) != 2 || !strings.Contains(run.Failures[0], "BenchmarkFence") {
		t.Errorf("failures = %q, want the --- FAIL line and the FAIL line of the package", run.Failures)
	}
}

func TestParseRejectsAFigureThatIsNotANumber(t *testing.T) {
	_, err := Parse(strings.NewReader("BenchmarkX-2   1   abc ns/op\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v, want an error naming line 1", err)
	}
}

func TestParseSkipsWhatIsNotABenchmark(t *testing.T) {
	run, err := Parse(strings.NewReader("=== RUN   TestX\n--- PASS: TestX (0.00s)\nPASS\nok  \tpkg\t0.1s\nBenchmarking is fun 3 times\n"))
	if err != nil || len(run.Benchmarks) != 0 || len(run.Failures) != 0 {
		t.Fatalf("run = %+v, %v; want nothing", run, err)
	}
}
