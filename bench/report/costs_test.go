package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

// grownRun is a fabricated run of every kind of cost: sized at S, M and L; at L only; on a
// fixture of its own (no size); reported by two benchmarks of which the cost names one.
func grownRun() *Run {
	return &Run{Benchmarks: []Benchmark{
		{Name: "BenchmarkPlan/size=S", Size: "S", Metrics: []Metric{{0.5, "full-plan-s"}, {100, "full-plan-MiB/peak-rss"}, {0.01, "index-plan-s"}, {0.2, "candidate-ms/op"}}},
		{Name: "BenchmarkPlan/size=M", Size: "M", Metrics: []Metric{{5, "full-plan-s"}, {400, "full-plan-MiB/peak-rss"}, {0.1, "index-plan-s"}, {0.2, "candidate-ms/op"}}},
		{Name: "BenchmarkPlan/size=L", Size: "L", Metrics: []Metric{{60, "full-plan-s"}, {1600, "full-plan-MiB/peak-rss"}, {1, "index-plan-s"}, {0.4, "candidate-ms/op"}}},
		{Name: "BenchmarkColdStart/size=L", Size: "L", Metrics: []Metric{{90, "cold-start-s"}}},
		{Name: "BenchmarkLookupDigest", Metrics: []Metric{{40, "lookup-µs/median"}}},
		{Name: "BenchmarkOneShotPlan/source=from-file/size=S", Size: "S", Metrics: []Metric{{9, "one-shot-plan-s"}}},
		{Name: "BenchmarkOneShotPlan/source=live/size=S", Size: "S", Metrics: []Metric{{0.8, "one-shot-plan-s"}}},
	}}
}

func costOf(t *testing.T, r *Report, metric string) CostGrowth {
	t.Helper()
	for _, g := range r.Costs {
		if g.Cost.Metric == metric {
			return g
		}
	}
	t.Fatalf("no cost %s in the report", metric)
	return CostGrowth{}
}

func TestCostGrowth(t *testing.T) {
	r := Build(grownRun(), Machine{}, Targets(), Comparisons(), time.Unix(0, 0))
	for _, tc := range []struct {
		name           string
		metric         string
		values         map[string]float64
		mOverS, lOverM float64
		exponent       float64
		unsized        float64 // -1: none
	}{
		{"a cost measured at S, M and L has both factors and the log-log slope",
			"full-plan-s", map[string]float64{"S": 0.5, "M": 5, "L": 60}, 10, 12, math.Log(120) / math.Log(100), -1},
		{"memory grows by its own factors", "full-plan-MiB/peak-rss", map[string]float64{"S": 100, "M": 400, "L": 1600}, 4, 4, math.Log(16) / math.Log(100), -1},
		{"a constant cost has factor 1 and exponent 0 from S to M", "candidate-ms/op", map[string]float64{"S": 0.2, "M": 0.2, "L": 0.4}, 1, 2, math.Log(2) / math.Log(100), -1},
		{"a cost measured at L only has no factor", "cold-start-s", map[string]float64{"L": 90}, 0, 0, 0, -1},
		{"a cost on its own fixture is shown unsized", "lookup-µs/median", map[string]float64{}, 0, 0, 0, 40},
		{"a cost bound to one benchmark ignores another reporting the same metric", "one-shot-plan-s", map[string]float64{"S": 0.8}, 0, 0, 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := costOf(t, r, tc.metric)
			if len(g.Values) != len(tc.values) {
				t.Fatalf("values %v, want %v", g.Values, tc.values)
			}
			for s, v := range tc.values {
				if !near(g.Values[s], v) {
					t.Errorf("value at %s = %v, want %v", s, g.Values[s], v)
				}
			}
			if !near(g.MOverS, tc.mOverS) || !near(g.LOverM, tc.lOverM) || !near(g.Exponent, tc.exponent) {
				t.Errorf("S→M %v, M→L %v, exponent %v; want %v, %v, %v", g.MOverS, g.LOverM, g.Exponent, tc.mOverS, tc.lOverM, tc.exponent)
			}
			switch {
			case tc.unsized < 0 && g.Unsized != nil:
				t.Errorf("unsized %v, want none", *g.Unsized)
			case tc.unsized >= 0 && (g.Unsized == nil || !near(*g.Unsized, tc.unsized)):
				t.Errorf("unsized %v, want %v", g.Unsized, tc.unsized)
			}
		})
	}
	if g := costOf(t, r, "warm-start-s"); g.Measured() {
		t.Errorf("warm start measured: %+v", g)
	}
}

func TestMarkdownShowsCostGrowth(t *testing.T) {
	r := Build(grownRun(), Machine{}, Targets(), Comparisons(), time.Unix(0, 0))
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"## How each cost grows from S to M to L",
		"| full-scan plan time (oc's way) | `full-plan-s` | 0.5 | 5 | 60 | 10× | 12× | 1.04 | — |",
		"| plan time from the live index | `index-plan-s` | 0.01 | 0.1 | 1 | 10× | 10× | 1.00 | — |",
		"| cold start to ready | `cold-start-s` | — | — | 90 | — | — | — | — |",
		"| who references digest D (median) | `lookup-µs/median` | — | — | — | — | — | — | 40 |",
		"Not measured in this run: ",
		"warm restart to ready (`warm-start-s`)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestCostPlotsByKind(t *testing.T) {
	r := Build(grownRun(), Machine{}, Targets(), Comparisons(), time.Unix(0, 0))
	for _, kind := range []Kind{KindTime, KindMemory} {
		p, err := costSizePlot(r, kind)
		if err != nil || p == nil {
			t.Fatalf("%s plot: %v, %v", kind, p, err)
		}
		// Times are drawn in seconds: the largest is the full scan at L (60 s), the smallest
		// a decision at S or M (0.2 ms).
		if kind == KindTime && (p.Y.Max < 60 || p.Y.Min > 0.0002*1.0001) {
			t.Errorf("time axis %v..%v does not span 0.0002 s to 60 s", p.Y.Min, p.Y.Max)
		}
	}
	unsized := Build(&Run{Benchmarks: []Benchmark{{Name: "BenchmarkLookupDigest", Metrics: []Metric{{40, "lookup-µs/median"}}}}},
		Machine{}, Targets(), Comparisons(), time.Unix(0, 0))
	if p, err := costSizePlot(unsized, KindTime); p != nil || err != nil {
		t.Errorf("a cost without a size was plotted against the size: %v, %v", p, err)
	}
}
