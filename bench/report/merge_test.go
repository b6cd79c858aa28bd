package report

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	earlier = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	oldest  = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	here    = Machine{CPU: "AMD EPYC", Cores: 2}
)

func sized(name, size string, v float64) Benchmark {
	return Benchmark{Name: name + "/size=" + size, Size: size, Metrics: []Metric{{v, "full-plan-s"}}}
}

// previous is an earlier report of a full run (S, M, L) and an unsized line; its M line was
// itself carried from an older run.
func previous() *Report {
	m := sized("BenchmarkPlan", "M", 5)
	m.CarriedFrom = oldest
	return &Report{Generated: earlier, Machine: here, Run: &Run{Benchmarks: []Benchmark{
		sized("BenchmarkPlan", "S", 0.5), m, sized("BenchmarkPlan", "L", 70),
		{Name: "BenchmarkLookupDigest", Metrics: []Metric{{40, "lookup-µs/median"}}},
	}}}
}

func TestMerge(t *testing.T) {
	lOnly := &Run{Benchmarks: []Benchmark{sized("BenchmarkPlan", "L", 60)}}
	for _, tc := range []struct {
		name    string
		run     *Run
		prev    *Report
		machine Machine
		want    map[string]time.Time // name → CarriedFrom (zero: this run's)
		sizes   []string
		skipped bool
	}{
		{"an L run keeps the earlier S and M lines, each with the time it was measured, and its own L",
			lOnly, previous(), here,
			map[string]time.Time{"BenchmarkPlan/size=L": {}, "BenchmarkPlan/size=S": earlier, "BenchmarkPlan/size=M": oldest},
			[]string{"S", "M"}, false},
		{"a run of every size carries nothing",
			&Run{Benchmarks: []Benchmark{sized("BenchmarkPlan", "S", 1), sized("BenchmarkPlan", "M", 2), sized("BenchmarkPlan", "L", 3)}},
			previous(), here,
			map[string]time.Time{"BenchmarkPlan/size=S": {}, "BenchmarkPlan/size=M": {}, "BenchmarkPlan/size=L": {}}, nil, false},
		{"a size whose benchmark failed in this run is not filled from the earlier run",
			&Run{Benchmarks: []Benchmark{sized("BenchmarkLoad", "L", 1)}, Failures: []string{"--- FAIL: BenchmarkPlan/size=L"}},
			previous(), here,
			map[string]time.Time{"BenchmarkLoad/size=L": {}, "BenchmarkPlan/size=S": earlier, "BenchmarkPlan/size=M": oldest},
			[]string{"S", "M"}, false},
		{"an earlier report of another machine is not used", lOnly, previous(), Machine{CPU: "Other", Cores: 64},
			map[string]time.Time{"BenchmarkPlan/size=L": {}}, nil, true},
		{"without an earlier report the run is what it is", lOnly, nil, here,
			map[string]time.Time{"BenchmarkPlan/size=L": {}}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.run.Benchmarks)
			got, carried := Merge(tc.run, tc.prev, tc.machine)
			if len(tc.run.Benchmarks) != n {
				t.Error("Merge modified its input run")
			}
			names := map[string]time.Time{}
			for _, b := range got.Benchmarks {
				names[b.Name] = b.CarriedFrom
			}
			if len(names) != len(tc.want) {
				t.Errorf("lines %v, want %v", names, tc.want)
			}
			for name, from := range tc.want {
				if at, ok := names[name]; !ok || !at.Equal(from) {
					t.Errorf("line %s: present %v carried from %v, want %v", name, ok, at, from)
				}
			}
			switch {
			case tc.skipped:
				if carried == nil || carried.Skipped == "" || carried.Lines != 0 {
					t.Errorf("carried %+v, want a skip with its reason", carried)
				}
			case tc.sizes == nil:
				if carried != nil {
					t.Errorf("carried %+v, want nothing", carried)
				}
			default:
				if carried == nil || strings.Join(carried.Sizes, ",") != strings.Join(tc.sizes, ",") || carried.Lines != len(tc.sizes) {
					t.Errorf("carried %+v, want sizes %v", carried, tc.sizes)
				}
			}
		})
	}
}

// TestMergedReportKeepsEverySizeColumn writes the report of a full run, then builds the
// report of an L-only run on top of it, through the JSON file as the command does: the growth
// table still has S and M, marked as carried, and L is the new run's.
func TestMergedReportKeepsEverySizeColumn(t *testing.T) {
	dir := t.TempDir()
	first := Build(previous().Run, here, Targets(), Comparisons(), earlier)
	if err := WriteFiles(dir, first); err != nil {
		t.Fatal(err)
	}
	prev, err := ReadReport(filepath.Join(dir, JSONFile))
	if err != nil || prev == nil {
		t.Fatalf("read back: %v, %v", prev, err)
	}
	run, carried := Merge(&Run{Benchmarks: []Benchmark{sized("BenchmarkPlan", "L", 60)}}, prev, here)
	r := Build(run, here, Targets(), Comparisons(), earlier.Add(time.Hour))
	r.Carried = carried
	g := costOf(t, r, "full-plan-s")
	if g.Values["S"] != 0.5 || g.Values["M"] != 5 || g.Values["L"] != 60 || !g.Carried["S"] || !g.Carried["M"] || g.Carried["L"] {
		t.Errorf("full-plan-s %+v: want S 0.5 and M 5 carried, L 60 new", g)
	}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| full-scan plan time (oc's way) | `full-plan-s` | 0.5 † | 5 † | 60 | 10× | 12× |",
		"the 2 lines at S, M marked † are an earlier run's",
		"BenchmarkPlan/size=S † measured 2026-11-01 12:00 UTC",
		"BenchmarkPlan/size=M † measured 2026-10-01 12:00 UTC",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, buf.String())
		}
	}
	if missing, err := ReadReport(filepath.Join(dir, "none.json")); missing != nil || err != nil {
		t.Errorf("a missing earlier report: %v, %v; want nothing and no error", missing, err)
	}
}
