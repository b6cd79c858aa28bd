package report

import (
	"testing"
	"time"
)

// recorder is a MetricReporter that keeps what it was given.
type recorder map[string]float64

func (r recorder) ReportMetric(v float64, unit string) { r[unit] = v }

func TestReportLatencies(t *testing.T) {
	var samples []time.Duration
	for i := 1000; i >= 1; i-- { // reversed, so the function must sort
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	rec := recorder{}
	Latencies(rec, "x-ms", time.Millisecond, samples)
	want := map[string]float64{"x-ms/median": 500, "x-ms/p90": 900, "x-ms/p99": 990, "x-ms/p99.9": 999, "x-ms/max": 1000}
	for unit, v := range want {
		if rec[unit] != v {
			t.Errorf("%s = %v, want %v", unit, rec[unit], v)
		}
	}
	if samples[0] != time.Second {
		t.Error("Latencies reordered the caller's samples")
	}
	empty := recorder{}
	Latencies(empty, "x-ms", time.Millisecond, nil)
	if len(empty) != 0 {
		t.Errorf("no samples reported %v", empty)
	}
}

func TestPeakRSSGrowsWithAllocation(t *testing.T) {
	if err := ResetPeakRSS(); err != nil {
		t.Skip(err)
	}
	before, err := PeakRSSMiB()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	after, err := PeakRSSMiB()
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50 {
		t.Errorf("peak RSS went from %.0f to %.0f MiB after touching 64 MiB", before, after)
	}
	_ = buf[len(buf)-1]
}

func TestReadMachine(t *testing.T) {
	m := ReadMachine("fallback cpu")
	if m.Cores < 1 || m.CPU == "" || m.Go == "" {
		t.Fatalf("machine %+v", m)
	}
	if got := cpuModel([]byte("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n")); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := memTotalKiB([]byte("MemTotal:       24575296 kB\nMemFree: 1 kB\n")); got != 24575296 {
		t.Errorf("memTotalKiB = %d", got)
	}
}
