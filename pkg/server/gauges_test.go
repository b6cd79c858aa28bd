package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestIndexGaugesPublishTheRecordCache(t *testing.T) {
	ctx := context.Background()
	ix, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	reg := prometheus.NewRegistry()
	g, err := newIndexGauges(reg, ix, time.Hour, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	pod := model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: "a"}, Phase: "Running"}
	for _, rv := range []string{"1", "2", "3"} {
		pod.ResourceVersion = rv
		if err := ix.Apply(ctx, index.PutObject(pod)); err != nil {
			t.Fatal(err)
		}
		g.refresh(ctx) // counters take the difference since the last refresh
	}
	st := ix.RecordCacheStats()
	if st.Entries != 1 || st.Hits != 2 {
		t.Fatalf("two updates of a created pod hit the cache: %+v", st)
	}
	if got := sumOf(t, reg, "pruneguard_index_record_cache_entries"); got != 1 {
		t.Errorf("entries gauge = %v, want 1", got)
	}
	if got := sumOf(t, reg, "pruneguard_index_record_cache_bytes"); got != float64(st.Bytes) || got == 0 {
		t.Errorf("bytes gauge = %v, want %d", got, st.Bytes)
	}
	if got := sumOf(t, reg, "pruneguard_index_record_cache_lookups_total"); got != float64(st.Hits+st.Misses) {
		t.Errorf("lookups counter = %v, want %d (each counted once across refreshes)", got, st.Hits+st.Misses)
	}
}

// sumOf gathers reg and sums the values of the counter or gauge name over its labels.
func sumOf(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
