package report

import "math"

// Kind is what a cost measures, which decides its plot.
type Kind string

// The kinds of cost.
const (
	// KindTime is a duration; Scale converts the metric to seconds.
	KindTime Kind = "time"
	// KindMemory is a size in MiB.
	KindMemory Kind = "memory"
	// KindRate is work per second: it grows when the cost shrinks, so it is tabulated but
	// not drawn with the costs.
	KindRate Kind = "rate"
)

// Cost is one cost whose growth with the cluster the report follows, bound to the metric a
// benchmark reports for it.
type Cost struct {
	Name string `json:"name"`
	// Metric is the b.ReportMetric unit; Benchmark, when set, the benchmark base name (without
	// its size element) that must report it, for metrics several benchmarks report.
	Metric    string `json:"metric"`
	Benchmark string `json:"benchmark,omitempty"`
	Kind      Kind   `json:"kind"`
	// Scale converts the metric to the kind's unit (seconds, MiB); 0 means 1.
	Scale float64 `json:"scale,omitempty"`
}

// Costs are the costs of issue 9's "how each cost grows from S to M to L", in the order the
// report lists them. Costs measured only on a fixture of their own (apply, lookup, refs) have
// no cluster size: the report shows their value and says so, rather than leave them out.
func Costs() []Cost {
	return []Cost{
		{Name: "full-scan plan time (oc's way)", Metric: "full-plan-s", Kind: KindTime},
		{Name: "full-scan plan peak RSS", Metric: "full-plan-MiB/peak-rss", Kind: KindMemory},
		{Name: "plan time from the live index", Metric: "index-plan-s", Kind: KindTime},
		{Name: "plan peak RSS from the live index", Metric: "index-plan-MiB/peak-rss", Kind: KindMemory},
		{Name: "one decision from the index (mean)", Metric: "candidate-ms/op", Kind: KindTime, Scale: 1e-3},
		{Name: "one decision from the index (p99)", Metric: "candidate-ms/p99", Kind: KindTime, Scale: 1e-3},
		{Name: "one-shot plan through the API", Metric: "one-shot-plan-s", Benchmark: "BenchmarkOneShotPlan/source=live", Kind: KindTime},
		{Name: "one-shot plan through the API, peak RSS", Metric: "one-shot-plan-MiB/peak-rss", Benchmark: "BenchmarkOneShotPlan/source=live", Kind: KindMemory},
		{Name: "apply pod updates to the index", Metric: "updates/s", Benchmark: "BenchmarkApply/moving-refs", Kind: KindRate},
		{Name: "who references digest D (median)", Metric: "lookup-µs/median", Kind: KindTime, Scale: 1e-6},
		{Name: "refs of an image with 100 referrers (p99)", Metric: "refs-ms/p99", Benchmark: "BenchmarkRefs1M/local", Kind: KindTime, Scale: 1e-3},
		{Name: "index on disk", Metric: "index-MiB/disk", Kind: KindMemory},
		{Name: "cold start to ready", Metric: "cold-start-s", Kind: KindTime},
		{Name: "warm restart to ready", Metric: "warm-start-s", Kind: KindTime},
		{Name: "generate the synthetic cluster", Metric: "generate-ms/op", Kind: KindTime, Scale: 1e-3},
		{Name: "write its dump", Metric: "dump-ms/op", Kind: KindTime, Scale: 1e-3},
		{Name: "bulk load into etcd", Metric: "objects/s", Kind: KindRate},
	}
}

// CostGrowth is one cost at each size it was measured at.
type CostGrowth struct {
	Cost Cost `json:"cost"`
	// Values are the metric's values by size, as reported (unscaled); Unsized is the value
	// measured without a cluster size (a benchmark's own fixture), when there is one.
	Values  map[string]float64 `json:"values"`
	Unsized *float64           `json:"unsized,omitempty"`
	// Carried names the sizes whose value an earlier run measured (see Merge).
	Carried map[string]bool `json:"carried,omitempty"`
	// MOverS and LOverM are the growth factors S→M and M→L; 0 when either size is missing.
	MOverS float64 `json:"mOverS,omitempty"`
	LOverM float64 `json:"lOverM,omitempty"`
	// Exponent is the log-log slope between the smallest and the largest size measured (1 is
	// linear growth); 0 with fewer than two sizes.
	Exponent float64 `json:"exponent,omitempty"`
}

// Measured reports whether the cost was measured at all.
func (g CostGrowth) Measured() bool { return len(g.Values) > 0 || g.Unsized != nil }

// Seconds or MiB: the value at size in the kind's unit.
func (g CostGrowth) scaled(size string) (float64, bool) {
	v, ok := g.Values[size]
	if !ok {
		return 0, false
	}
	if g.Cost.Scale != 0 {
		v *= g.Cost.Scale
	}
	return v, true
}

// costGrowth finds every cost in run: per size the first line that reports its metric (from
// its benchmark, when the cost names one).
func costGrowth(run *Run, costs []Cost) []CostGrowth {
	out := make([]CostGrowth, 0, len(costs))
	for _, c := range costs {
		g := CostGrowth{Cost: c, Values: map[string]float64{}}
		for _, b := range run.Benchmarks {
			if c.Benchmark != "" && b.Base() != c.Benchmark {
				continue
			}
			v, ok := b.Value(c.Metric)
			if !ok {
				continue
			}
			if b.Size == "" {
				if g.Unsized == nil {
					g.Unsized = &v
				}
				continue
			}
			if _, seen := g.Values[b.Size]; seen {
				continue
			}
			g.Values[b.Size] = v
			if !b.CarriedFrom.IsZero() {
				if g.Carried == nil {
					g.Carried = map[string]bool{}
				}
				g.Carried[b.Size] = true
			}
		}
		g.MOverS, g.LOverM = factor(g.Values, "S", "M"), factor(g.Values, "M", "L")
		g.Exponent = exponent(g.Values)
		out = append(out, g)
	}
	return out
}

// factor is v[to]/v[from], or 0 when either is missing or not positive.
func factor(v map[string]float64, from, to string) float64 {
	a, b := v[from], v[to]
	if a <= 0 || b <= 0 || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return 0
	}
	return b / a
}
