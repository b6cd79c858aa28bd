package report

import (
	"math"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/synth"
)

func TestTargetMet(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Target
		v    float64
		want bool
	}{
		{"an at-most target is met below its value", Target{Op: AtMost, Value: 50}, 38.5, true},
		{"an at-most target is met at exactly its value", Target{Op: AtMost, Value: 50}, 50, true},
		{"an at-most target is missed above its value", Target{Op: AtMost, Value: 50}, 50.01, false},
		{"an at-least target is met above its value", Target{Op: AtLeast, Value: 5000}, 6451, true},
		{"an at-least target is met at exactly its value", Target{Op: AtLeast, Value: 5000}, 5000, true},
		{"an at-least target is missed below its value", Target{Op: AtLeast, Value: 5000}, 4999, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.t.Met(tc.v); got != tc.want {
				t.Fatalf("Met(%v) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}

func build(t *testing.T) *Report {
	t.Helper()
	run := parseFile(t, "testdata/bench-output.txt")
	return Build(run, Machine{CPU: "test"}, Targets(), Comparisons(), time.Unix(0, 0))
}

func results(r *Report, metric string) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Target.Metric == metric {
			out = append(out, res)
		}
	}
	return out
}

func TestBuildJudgesEveryTarget(t *testing.T) {
	r := build(t)
	for _, tc := range []struct {
		name, metric string
		status       []Status
		otherSize    []bool
	}{
		{"a rate above its target is met", "updates/s", []Status{Met}, []bool{false}},
		{"a median below its target is met", "lookup-µs/median", []Status{Met}, []bool{false}},
		{"an RSS above its target at the target's size is missed", "serve-MiB/rss", []Status{Missed}, []bool{false}},
		{"a p99 above its target is missed", "webhook-added-ms/p99", []Status{Missed}, []bool{false}},
		{"each size is judged on its own and only L is at the target's size", "candidate-ms/op",
			[]Status{Met, Met, Missed}, []bool{true, true, false}},
		{"a target no benchmark reported is not measured", "cold-start-s", []Status{NotMeasured}, []bool{false}},
		{"a target whose benchmark failed is not measured", "fence-ms/median", []Status{NotMeasured}, []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := results(r, tc.metric)
			if len(got) != len(tc.status) {
				t.Fatalf("%d results, want %d: %+v", len(got), len(tc.status), got)
			}
			for i, res := range got {
				if res.Status != tc.status[i] || res.OtherSize != tc.otherSize[i] {
					t.Errorf("result %d (size %s, value %v) = %s other-size %v; want %s %v",
						i, res.Size, res.Value, res.Status, res.OtherSize, tc.status[i], tc.otherSize[i])
				}
			}
		})
	}
	seen := map[string]bool{}
	for _, res := range r.Results {
		seen[res.Target.Metric] = true
	}
	for _, tg := range Targets() {
		if !seen[tg.Metric] {
			t.Errorf("target %s is missing from the results", tg.Metric)
		}
	}
}

func TestComparisonsPairTheSameSize(t *testing.T) {
	r := build(t)
	byKey := map[string]ComparisonResult{}
	for _, c := range r.Comparisons {
		byKey[c.Comparison.Name+"/"+c.Size] = c
	}
	for _, tc := range []struct {
		name, key                  string
		baseline, candidate, ratio float64
	}{
		{"plan time is full-plan-s over index-plan-s", "plan time: full scan vs live index/L", 25, 0.2, 125},
		{"a decision converts seconds to milliseconds", "one decision: full plan vs one candidate from the index/M", 2300, 0.09, 2300 / 0.09},
		{"time to prune adds the mean wait for the nightly run", "time to prune: next nightly run + full scan vs continuous p99/S",
			43200.21, 1.7, 43200.21 / 1.7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := byKey[tc.key]
			if !ok {
				t.Fatalf("no comparison %s in %v", tc.key, r.Comparisons)
			}
			if !near(c.Baseline, tc.baseline) || !near(c.Candidate, tc.candidate) || !near(c.Ratio, tc.ratio) {
				t.Errorf("got %v vs %v ratio %v, want %v vs %v ratio %v", c.Baseline, c.Candidate, c.Ratio, tc.baseline, tc.candidate, tc.ratio)
			}
		})
	}
	if _, ok := byKey["time to prune: next nightly run + full scan vs continuous p99/M"]; ok {
		t.Error("a comparison at M was made though time-to-prune was measured only at S")
	}
}

func TestGrowthFactors(t *testing.T) {
	r := build(t)
	var plan *Growth
	for i, g := range r.Growth {
		if g.Benchmark == "BenchmarkPlan" && g.Metric == "full-plan-s" {
			plan = &r.Growth[i]
		}
		if g.Metric == "B/op" || len(g.Values) < 2 {
			t.Errorf("growth %+v should not be listed", g)
		}
	}
	if plan == nil {
		t.Fatalf("no growth for BenchmarkPlan full-plan-s in %+v", r.Growth)
	}
	if !near(plan.MOverS, 2.3/0.21) || !near(plan.LOverM, 25/2.3) {
		t.Errorf("factors M/S %v L/M %v, want %v and %v", plan.MOverS, plan.LOverM, 2.3/0.21, 25/2.3)
	}
	if want := math.Log(25/0.21) / math.Log(100); !near(plan.Exponent, want) {
		t.Errorf("exponent %v, want %v", plan.Exponent, want)
	}
}

// TestSizeImagesAreSynthSizes keeps the plots' x axis equal to the generator's sizes.
func TestSizeImagesAreSynthSizes(t *testing.T) {
	for _, s := range synth.Sizes {
		if SizeImages[string(s)] != float64(s.Images()) {
			t.Errorf("size %s: report plots %v images, synth generates %d", s, SizeImages[string(s)], s.Images())
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// A time-to-prune measured on a small fixed cluster (no size) stands against the full plan at
// every size measured, and is marked as unsized; a sized candidate is never borrowed so.
func TestUnsizedCandidateStandsAgainstEverySize(t *testing.T) {
	run := &Run{Benchmarks: []Benchmark{
		{Name: "BenchmarkPlan/size=S", Size: "S", Metrics: []Metric{{Value: 0.5, Unit: "full-plan-s"}}},
		{Name: "BenchmarkPlan/size=M", Size: "M", Metrics: []Metric{{Value: 5, Unit: "full-plan-s"}}},
		{Name: "BenchmarkTimeToPrune", Metrics: []Metric{{Value: 1, Unit: "time-to-prune-s/p99"}}},
	}}
	r := Build(run, Machine{}, Targets(), Comparisons(), time.Unix(0, 0))
	var sizes []string
	for _, c := range r.Comparisons {
		if c.Comparison.Candidate != "time-to-prune-s/p99" {
			continue
		}
		sizes = append(sizes, c.Size)
		if !c.CandidateUnsized || c.Candidate != 1 {
			t.Errorf("size %s: candidate %v unsized %v, want 1 and unsized", c.Size, c.Candidate, c.CandidateUnsized)
		}
	}
	if len(sizes) != 2 || sizes[0] != "S" || sizes[1] != "M" {
		t.Errorf("time-to-prune compared at %v, want [S M]", sizes)
	}
}

func TestBuildCallsAValueInconclusiveWhenItsOwnSpreadCrossesTheTarget(t *testing.T) {
	latency := Target{Issue: 4, Metric: "webhook-added-ms/p99", Op: AtMost, Value: 2}
	rate := Target{Issue: 3, Metric: "updates/s", Op: AtLeast, Value: 50_000}
	bench := func(name string, metrics ...Metric) Benchmark {
		return Benchmark{Name: name, Procs: 2, Iterations: 1, Metrics: metrics}
	}
	run := &Run{Benchmarks: []Benchmark{
		bench("BenchmarkNoisy", Metric{-15.8, "webhook-added-ms/p99"}, Metric{-29.9, "webhook-added-ms/p99-q1"}, Metric{10.3, "webhook-added-ms/p99-q3"}),
		bench("BenchmarkTight", Metric{1.1, "webhook-added-ms/p99"}, Metric{0.7, "webhook-added-ms/p99-q1"}, Metric{1.9, "webhook-added-ms/p99-q3"}),
		bench("BenchmarkMissed", Metric{9.8, "webhook-added-ms/p99"}, Metric{2.8, "webhook-added-ms/p99-q1"}, Metric{16.1, "webhook-added-ms/p99-q3"}),
		bench("BenchmarkRate", Metric{50_759, "updates/s"}, Metric{46_000, "updates/s-q1"}, Metric{52_000, "updates/s-q3"}),
		bench("BenchmarkRateNoSpread", Metric{50_759, "updates/s"}),
	}}
	r := Build(run, Machine{CPU: "test"}, []Target{latency, rate}, nil, time.Unix(0, 0))
	want := map[string]Status{
		"BenchmarkNoisy":        Inconclusive,
		"BenchmarkTight":        Met,
		"BenchmarkMissed":       Missed,
		"BenchmarkRate":         Inconclusive,
		"BenchmarkRateNoSpread": Met,
	}
	for _, res := range r.Results {
		if res.Status != want[res.Benchmark] {
			t.Errorf("%s (%s = %v): %s, want %s", res.Benchmark, res.Target.Metric, res.Value, res.Status, want[res.Benchmark])
		}
	}
	if len(r.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(r.Results), len(want))
	}
}
