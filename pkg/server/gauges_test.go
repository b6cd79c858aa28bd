package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/server"
)

func TestIndexGaugesPublishTheRecordCache(t *testing.T) {
	ctx := context.Background()
	ix, reg, refresh := openIndexGauges(t)
	pod := model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: "a"}, Phase: "Running"}
	for _, rv := range []string{"1", "2", "3"} {
		pod.ResourceVersion = rv
		if err := ix.Apply(ctx, index.PutObject(pod)); err != nil {
			t.Fatal(err)
		}
		refresh(ctx) // counters take the difference since the last refresh
	}
	st := ix.RecordCacheStats()
	if st.Entries != 1 || st.Hits != 2 {
		t.Fatalf("two updates of a created pod hit the cache: %+v", st)
	}
	if got := counter(t, reg, "pruneguard_index_record_cache_entries"); got != 1 {
		t.Errorf("entries gauge = %v, want 1", got)
	}
	if got := counter(t, reg, "pruneguard_index_record_cache_bytes"); got != float64(st.Bytes) || got == 0 {
		t.Errorf("bytes gauge = %v, want %d", got, st.Bytes)
	}
	if got := counter(t, reg, "pruneguard_index_record_cache_lookups_total"); got != float64(st.Hits+st.Misses) {
		t.Errorf("lookups counter = %v, want %d (each counted once across refreshes)", got, st.Hits+st.Misses)
	}
}

func TestIndexGaugesPublishTheObjectStates(t *testing.T) {
	ctx := context.Background()
	ix, reg, refresh := openIndexGauges(t)
	// The index codes phases in a byte: beyond 256 distinct ones, a pod's state is not held
	// and lookups read its record, which the counter counts.
	digest := "sha256:" + strings.Repeat("a", 64)
	const pods = 300
	var ops []index.Op
	for i := range pods {
		ops = append(ops, index.PutObject(model.Object{
			Key:   model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: fmt.Sprint("p", i)},
			Phase: fmt.Sprint("phase-", i),
			Refs:  []model.Ref{{FieldPath: "spec.containers[c].image", Raw: "r/ns/is@" + digest, Repo: "ns/is", Digest: digest}},
		}))
	}
	if err := ix.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rs, err := ix.ReferrersOfDigest(ctx, "", digest)
		if err != nil || len(rs) != pods {
			t.Fatalf("want %d referrers, got %d, %v", pods, len(rs), err)
		}
		refresh(ctx)
	}
	st := ix.ObjectStateStats()
	if st.Entries == 0 || st.Entries >= pods || st.RecordReads != 2*(pods-st.Entries) {
		t.Fatalf("want some states held and each lookup to read the others' records: %+v", st)
	}
	if got := counter(t, reg, "pruneguard_index_object_states"); got != float64(st.Entries) {
		t.Errorf("states gauge = %v, want %d", got, st.Entries)
	}
	if got := counter(t, reg, "pruneguard_index_object_state_record_reads_total"); got != float64(st.RecordReads) {
		t.Errorf("record reads counter = %v, want %d (each counted once across refreshes)", got, st.RecordReads)
	}
}

// openIndexGauges opens an empty index and registers its gauges on a fresh registry.
func openIndexGauges(t *testing.T) (*index.Index, *prometheus.Registry, func(context.Context)) {
	t.Helper()
	ix, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	reg := prometheus.NewRegistry()
	refresh, err := server.IndexGaugesRefresher(reg, ix)
	if err != nil {
		t.Fatal(err)
	}
	return ix, reg, refresh
}
