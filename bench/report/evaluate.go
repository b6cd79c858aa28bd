package report

import (
	"math"
	"sort"
	"time"
)

// Status is the verdict on one target.
type Status string

// The verdicts.
const (
	Met         Status = "met"
	Missed      Status = "missed"
	NotMeasured Status = "not measured"
	// Inconclusive is a value that meets its target while the benchmark's own spread of it
	// (its METRIC-q1 and METRIC-q3 figures) reaches past the target: the run cannot tell.
	Inconclusive Status = "inconclusive"
)

// Result is one target with what was measured for it.
type Result struct {
	Target    Target  `json:"target"`
	Benchmark string  `json:"benchmark,omitempty"`
	Package   string  `json:"package,omitempty"`
	Size      string  `json:"size,omitempty"`
	Value     float64 `json:"value"`
	Status    Status  `json:"status"`
	// OtherSize is true when the target is stated at a size other than the measured one
	// (a quick run at S judged against a target for L): the verdict is indicative only.
	OtherSize bool `json:"otherSize,omitempty"`
	// CarriedFrom is when an earlier run measured the value (see Merge); zero for this run.
	CarriedFrom time.Time `json:"carriedFrom,omitzero"`
}

// ComparisonResult is one side-by-side figure at one size.
type ComparisonResult struct {
	Comparison Comparison `json:"comparison"`
	Size       string     `json:"size,omitempty"`
	Baseline   float64    `json:"baseline"`
	Candidate  float64    `json:"candidate"`
	// Ratio is Baseline over Candidate: how many times cheaper pruneguard is.
	Ratio float64 `json:"ratio"`
	// CandidateUnsized is true when the candidate was measured without a cluster size (a
	// small fixed fixture) and is set against the baseline at Size.
	CandidateUnsized bool `json:"candidateUnsized,omitempty"`
}

// Growth is how one cost grows with the cluster size.
type Growth struct {
	Benchmark string             `json:"benchmark"`
	Metric    string             `json:"metric"`
	Values    map[string]float64 `json:"values"`
	// MOverS and LOverM are the growth factors between sizes; 0 when a size is missing.
	MOverS float64 `json:"mOverS,omitempty"`
	LOverM float64 `json:"lOverM,omitempty"`
	// Exponent is the slope of log(cost) over log(images) between the smallest and largest
	// size measured: 1 is linear growth, 0 constant.
	Exponent float64 `json:"exponent"`
}

// SizeImages is the number of images of each cluster size (pkg/synth's sizes), the x axis
// of the growth plots.
var SizeImages = map[string]float64{"S": 2_000, "M": 20_000, "L": 200_000}

// Report is everything one benchmark run shows.
type Report struct {
	Generated   time.Time          `json:"generated"`
	Machine     Machine            `json:"machine"`
	Results     []Result           `json:"results"`
	Comparisons []ComparisonResult `json:"comparisons"`
	// Costs are the named costs (Costs) at each size; Growth every metric measured at two
	// sizes or more.
	Costs  []CostGrowth `json:"costs"`
	Growth []Growth     `json:"growth"`
	Run    *Run         `json:"run"`
	// Carried says what Merge took over from an earlier report; nil when nothing was.
	Carried *Carried `json:"carried,omitempty"`
	// Quick is set when the run was a quick one (QuickEnv, `make bench-quick`).
	Quick bool `json:"quick,omitempty"`
	// Plots are the file names of the plots written next to the report.
	Plots []string `json:"plots,omitempty"`
}

// Build judges run against targets and comparisons. Every target appears at least once:
// once per benchmark line and size that reports its metric, or once as not measured.
func Build(run *Run, m Machine, targets []Target, comparisons []Comparison, now time.Time) *Report {
	r := &Report{Generated: now.UTC(), Machine: m, Run: run}
	for _, t := range targets {
		found := false
		for _, b := range run.Benchmarks {
			v, ok := b.Value(t.Metric)
			if !ok {
				continue
			}
			found = true
			res := Result{Target: t, Benchmark: b.Name, Package: b.Package, Size: b.Size, Value: v, Status: Missed,
				OtherSize: t.Size != "" && b.Size != t.Size, CarriedFrom: b.CarriedFrom}
			if t.Met(v) {
				res.Status = Met
				if spreadCrosses(b, t) {
					res.Status = Inconclusive
				}
			}
			r.Results = append(r.Results, res)
		}
		if !found {
			r.Results = append(r.Results, Result{Target: t, Status: NotMeasured})
		}
	}
	for _, c := range comparisons {
		r.Comparisons = append(r.Comparisons, compare(run, c)...)
	}
	r.Costs = costGrowth(run, Costs())
	r.Growth = growth(run)
	return r
}

// spreadCrosses reports whether b's spread of t's metric (its METRIC-q1 to METRIC-q3, when
// it reports them) reaches past the target: the quartile on the wrong side misses it.
func spreadCrosses(b Benchmark, t Target) bool {
	worse := t.Metric + "-q3"
	if t.Op == AtLeast {
		worse = t.Metric + "-q1"
	}
	v, ok := b.Value(worse)
	return ok && !t.Met(v)
}

// compare pairs the baseline and candidate metrics measured at the same size.
func compare(run *Run, c Comparison) []ComparisonResult {
	base, cand := firstBySize(run, c.Baseline), firstBySize(run, c.Candidate)
	var out []ComparisonResult
	for _, size := range []string{"", "S", "M", "L"} {
		b, okB := base[size]
		k, okC := cand[size]
		unsized := false
		if !okC && size != "" && len(cand) == 1 {
			// A candidate measured only without a size stands against every sized baseline,
			// marked as such.
			k, okC = cand[""]
			unsized = okC
		}
		if !okB || !okC {
			continue
		}
		res := ComparisonResult{Comparison: c, Size: size, CandidateUnsized: unsized,
			Baseline: b*c.BaselineScale + c.BaselineAdd, Candidate: k * c.CandidateScale}
		if res.Candidate > 0 {
			res.Ratio = res.Baseline / res.Candidate
		}
		out = append(out, res)
	}
	return out
}

// firstBySize returns, per size, the first value of metric in the run.
func firstBySize(run *Run, metric string) map[string]float64 {
	out := map[string]float64{}
	for _, b := range run.Benchmarks {
		if v, ok := b.Value(metric); ok {
			if _, seen := out[b.Size]; !seen {
				out[b.Size] = v
			}
		}
	}
	return out
}

// skipGrowth are the standard units that say nothing about a cost's growth on their own.
var skipGrowth = map[string]bool{"B/op": true, "allocs/op": true}

// growth groups every metric measured at two sizes or more by benchmark base name.
func growth(run *Run) []Growth {
	type key struct{ base, metric string }
	values := map[key]map[string]float64{}
	var order []key
	for _, b := range run.Benchmarks {
		if b.Size == "" {
			continue
		}
		for _, m := range b.Metrics {
			if skipGrowth[m.Unit] {
				continue
			}
			k := key{b.Base(), m.Unit}
			if values[k] == nil {
				values[k] = map[string]float64{}
				order = append(order, k)
			}
			values[k][b.Size] = m.Value
		}
	}
	var out []Growth
	for _, k := range order {
		v := values[k]
		if len(v) < 2 {
			continue
		}
		g := Growth{Benchmark: k.base, Metric: k.metric, Values: v}
		if v["S"] > 0 && v["M"] > 0 {
			g.MOverS = v["M"] / v["S"]
		}
		if v["M"] > 0 && v["L"] > 0 {
			g.LOverM = v["L"] / v["M"]
		}
		g.Exponent = exponent(v)
		out = append(out, g)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Benchmark < out[j].Benchmark })
	return out
}

// exponent is the log-log slope between the smallest and the largest size measured.
func exponent(v map[string]float64) float64 {
	var sizes []string
	for _, s := range []string{"S", "M", "L"} {
		if v[s] > 0 {
			sizes = append(sizes, s)
		}
	}
	if len(sizes) < 2 {
		return 0
	}
	a, b := sizes[0], sizes[len(sizes)-1]
	return math.Log(v[b]/v[a]) / math.Log(SizeImages[b]/SizeImages[a])
}
