package server_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/server"
)

func TestIndexGaugesPublishTheRecordCache(t *testing.T) {
	ctx := context.Background()
	ix, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	reg := prometheus.NewRegistry()
	refresh, err := server.IndexGaugesRefresher(reg, ix)
	if err != nil {
		t.Fatal(err)
	}
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
