package report

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MetricReporter is what *testing.B offers to report a custom metric.
type MetricReporter interface {
	ReportMetric(n float64, unit string)
}

// Quantiles are the points of a latency distribution Latencies reports, by the suffix
// the metric gets. The report reads them back to plot the distribution.
var Quantiles = []struct {
	Suffix string
	Q      float64
}{{"median", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}, {"max", 1}}

// Latencies reports the distribution of samples as metrics "<name>/median",
// "<name>/p90", "<name>/p99", "<name>/p99.9" and "<name>/max", in units of unit; name should
// say the unit, as in "webhook-added-ms". Nothing is reported for no samples.
func Latencies(b MetricReporter, name string, unit time.Duration, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	for _, q := range Quantiles {
		b.ReportMetric(float64(quantile(sorted, q.Q))/float64(unit), name+"/"+q.Suffix)
	}
}

// quantile returns the nearest-rank quantile q of sorted samples.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// quantileOf reads the quantile a metric suffix stands for.
func quantileOf(suffix string) (float64, bool) {
	for _, q := range Quantiles {
		if q.Suffix == suffix {
			return q.Q, true
		}
	}
	if p, ok := strings.CutPrefix(suffix, "p"); ok {
		if v, err := strconv.ParseFloat(p, 64); err == nil && v > 0 && v <= 100 {
			return v / 100, true
		}
	}
	return 0, false
}

// PeakRSSMiB returns the peak resident set size of this process (VmHWM) in MiB. Linux only.
func PeakRSSMiB() (float64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("failed to read the peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kib, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0, fmt.Errorf("failed to parse VmHWM %q: %w", f[1], err)
			}
			return kib / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// ResetPeakRSS resets the peak RSS to the current RSS, so that PeakRSSMiB measures only what
// runs after it (Linux 4.0 or later).
func ResetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("failed to reset the peak RSS: %w", err)
	}
	return nil
}
