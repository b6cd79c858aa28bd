package audit

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ImagePruned(2048, t0, t0.Add(90*time.Second))
	m.ImagePruned(0, time.Time{}, t0) // size and prunable time unknown
	m.PruneFinished(1500 * time.Millisecond)
	m.SetFencesActive(3)
	m.AdmissionDenied(DeniedFenced)
	m.AdmissionDenied(DeniedFenced)
	m.AdmissionDenied(DeniedPruned)

	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"pruneguard_images_pruned_total", testutil.ToFloat64(m.ImagesPruned), 2},
		{"pruneguard_bytes_pruned_total", testutil.ToFloat64(m.BytesPruned), 2048},
		{"pruneguard_fences_active", testutil.ToFloat64(m.FencesActive), 3},
		{"pruneguard_admissions_denied_total{reason=fenced}", testutil.ToFloat64(m.AdmissionsDenied.WithLabelValues(DeniedFenced)), 2},
		{"pruneguard_admissions_denied_total{reason=pruned}", testutil.ToFloat64(m.AdmissionsDenied.WithLabelValues(DeniedPruned)), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	hist := map[string]uint64{}
	for _, f := range families {
		if h := f.GetMetric()[0].GetHistogram(); h != nil {
			hist[f.GetName()] = h.GetSampleCount()
		}
	}
	// Only the delete with a known prunable time is observed as time-to-prune.
	if hist["pruneguard_time_to_prune_seconds"] != 1 || hist["pruneguard_prune_duration_seconds"] != 1 {
		t.Errorf("histogram samples %v", hist)
	}

	again, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("a second NewMetrics on the same registry: %v", err)
	}
	again.ImagePruned(0, time.Time{}, t0)
	if got := testutil.ToFloat64(m.ImagesPruned); got != 3 {
		t.Errorf("the second Metrics does not share the registered counter: %v", got)
	}
}
