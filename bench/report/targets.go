package report

// Op is the direction of a target.
type Op string

// The directions a target can have.
const (
	// AtMost is met when the measured value is <= the target (a time, a size).
	AtMost Op = "<="
	// AtLeast is met when the measured value is >= the target (a rate).
	AtLeast Op = ">="
)

// Target is one performance promise of an issue, bound to the metric a benchmark reports
// for it with b.ReportMetric.
type Target struct {
	// Issue is the issue number that states the target.
	Issue int `json:"issue"`
	// What says what is measured, in the issue's words.
	What string `json:"what"`
	// Metric is the unit passed to b.ReportMetric; it names the target uniquely, so a
	// benchmark anywhere in the module that reports it is measured against it.
	Metric string  `json:"metric"`
	Op     Op      `json:"op"`
	Value  float64 `json:"value"`
	// Size is the cluster size the issue states the target at ("L" for 200,000 images);
	// empty when it holds at any size. A measurement at another size is still shown and
	// judged, marked as taken at that size.
	Size string `json:"size,omitempty"`
}

// Met tells whether v meets the target.
func (t Target) Met(v float64) bool {
	if t.Op == AtLeast {
		return v >= t.Value
	}
	return v <= t.Value
}

// Targets are the targets of issues 3 to 7, in issue order. The Metric names are the
// contract with the benchmarks: a benchmark proves a target by reporting exactly that unit.
func Targets() []Target {
	return []Target{
		{Issue: 3, What: "index: pod updates applied per second (Apply, batches of 1,000, 100,000 pods)", Metric: "updates/s", Op: AtLeast, Value: 50_000},
		{Issue: 3, What: `index: "who references digest D", median wall time, 1,000,000 references indexed`, Metric: "lookup-µs/median", Op: AtMost, Value: 50},
		// The index benchmarks build their own fixture of exactly the stated size, so these two
		// carry no cluster size: the size is in What.
		{Issue: 3, What: "index of 200,000 images and 100,000 pods on disk (index's own fixture)", Metric: "index-MiB/disk", Op: AtMost, Value: 1024},
		{Issue: 3, What: "peak RSS (VmHWM) of a process serving 300,000 lookups at that size", Metric: "serve-MiB/rss", Op: AtMost, Value: 300},
		{Issue: 4, What: "webhook-added latency of a pod create, p99: the median, over ABBA-ordered pairs of short phases with the webhook on and off for the namespace (same run), of p99(on) − p99(off) per pair; their spread is webhook-added-ms/p99-q1..-q3, the API server's own timing of the call webhook-call-ms/p99 (its bucket bound), the machine's load loadavg-1m. BenchmarkWebhookAddedLatency runs 200 creates/s, …ByRate names its rate; …Floor measures a do-nothing webhook the same way, beside it below", Metric: "webhook-added-ms/p99", Op: AtMost, Value: 2},
		{Issue: 4, What: "admission handler alone over TLS on loopback", Metric: "reviews/s", Op: AtLeast, Value: 5_000},
		{Issue: 4, What: "cold start to ready (100,000 pods: synth L has 200,000 images, PRUNEGUARD_START_CLUSTER=issue4 the issue's 50,000; only `make bench`)", Metric: "cold-start-s", Op: AtMost, Value: 120},
		{Issue: 4, What: "warm restart with a persisted index to ready (same clusters; only `make bench`)", Metric: "warm-start-s", Op: AtMost, Value: 10},
		{Issue: 5, What: "one candidate decided from the index (PlanImage, mean over 1,000 random images)", Metric: "candidate-ms/op", Op: AtMost, Value: 1, Size: "L"},
		{Issue: 5, What: `continuous mode through serve: "becomes prunable" (last referrer deleted) to "Image deleted" (tracker, index change feed, pass, fence), p99 of 10`, Metric: "time-to-prune-s/p99", Op: AtMost, Value: 2},
		{Issue: 5, What: "one-shot full plan (full scan of a --from-file dump: decode, index, plan; API paging not included)", Metric: "full-plan-s", Op: AtMost, Value: 60, Size: "L"},
		{Issue: 5, What: "one-shot full plan, peak RSS", Metric: "full-plan-MiB/peak-rss", Op: AtMost, Value: 1024, Size: "L"},
		{Issue: 6, What: "fence overhead per deleted image (fence to lift minus the deletes, 10 images per fence), median", Metric: "fence-ms/median", Op: AtMost, Value: 500},
		{Issue: 7, What: "refs of an image with 100 referrers, 1,000,000 references indexed, p99 (stricter than the issue's single answer)", Metric: "refs-ms/p99", Op: AtMost, Value: 10},
	}
}

// Comparison puts pruneguard's cost next to the full-scan way of getting the same answer.
// Both metrics are converted to one unit with their scales before the ratio is taken.
type Comparison struct {
	Name string `json:"name"`
	// Slug names the comparison's plot file, cost-SLUG.png.
	Slug string `json:"slug"`
	// Unit is the unit both sides are shown in after scaling.
	Unit string `json:"unit"`
	// Baseline is the full-scan side; BaselineAdd is added after scaling (the mean wait for
	// the next nightly run, for time-to-prune).
	Baseline       string  `json:"baseline"`
	BaselineScale  float64 `json:"baselineScale"`
	BaselineAdd    float64 `json:"baselineAdd,omitempty"`
	Candidate      string  `json:"candidate"`
	CandidateScale float64 `json:"candidateScale"`
}

// nightlyWait is the mean time from an image becoming prunable to the next nightly prune
// run: half a day.
const nightlyWait = 12 * 3600.0

// Comparisons are the side-by-side figures of issue 9 ("full scan versus index"). They read
// the same metrics as the targets plus the index-side planning metrics.
func Comparisons() []Comparison {
	return []Comparison{
		{Name: "plan time: full scan vs live index", Slug: "plan-time", Unit: "s",
			Baseline: "full-plan-s", BaselineScale: 1, Candidate: "index-plan-s", CandidateScale: 1},
		{Name: "plan peak RSS: full scan vs live index", Slug: "plan-rss", Unit: "MiB",
			Baseline: "full-plan-MiB/peak-rss", BaselineScale: 1, Candidate: "index-plan-MiB/peak-rss", CandidateScale: 1},
		{Name: "one decision: full plan vs one candidate from the index", Slug: "decision", Unit: "ms",
			Baseline: "full-plan-s", BaselineScale: 1000, Candidate: "candidate-ms/op", CandidateScale: 1},
		{Name: "time to prune: next nightly run + full scan vs continuous p99", Slug: "time-to-prune", Unit: "s",
			Baseline: "full-plan-s", BaselineScale: 1, BaselineAdd: nightlyWait, Candidate: "time-to-prune-s/p99", CandidateScale: 1},
	}
}
