package index

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// bigStream is a stream whose record exceeds valueThreshold, so it lives in the value log.
func bigStream(i, version int) model.Stream {
	s := model.Stream{Namespace: "ns", Name: "is" + itoa(i), ResourceVersion: itoa(version)}
	tag := model.Tag{Name: "latest"}
	for j := range 60 {
		tag.Items = append(tag.Items, model.TagItem{Image: digestOf(itoa(j)), Created: t0,
			DockerImageReference: strings.Repeat("r", 100) + itoa(version)})
	}
	s.Tags = append(s.Tags, tag)
	return s
}

func TestGCReclaimsOverwrittenStreamRecords(t *testing.T) {
	opts := func(o *Options) { o.MemTableSize = 1 << 20; o.ValueLogFileSize = 1 << 20 }
	ix, _ := openTest(t, opts)
	ctx := context.Background()
	// Each reopen flushes the memtable into a table of its own; compacting those tables
	// records which value-log entries are garbage, the statistics GC picks files by.
	for version := range 6 {
		var ops []Op
		for i := range 200 {
			ops = append(ops, PutStream(bigStream(i, version)))
		}
		mustApply(t, ix, ops...)
		must(t, ix.Close())
		ix = reopenWith(t, ix.dir, opts)
	}
	must(t, ix.db.Flatten(1))
	before, err := DirUsage(ix.dir)
	must(t, err)
	n, err := ix.GCOnce(ctx)
	must(t, err)
	after, err := DirUsage(ix.dir)
	must(t, err)
	if n == 0 || after["vlog"].Files >= before["vlog"].Files {
		t.Fatalf("GC rewrote %d files; value-log files %d -> %d", n, before["vlog"].Files, after["vlog"].Files)
	}
	got, ok, err := ix.Stream(ctx, "ns", "is7")
	if err != nil || !ok || got.ResourceVersion != "5" {
		t.Fatalf("the latest stream record survives GC: %v %v %v", got.ResourceVersion, ok, err)
	}
	mustCheck(t, ix)
}

func TestRunGCStopsWithItsContext(t *testing.T) {
	ix, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.RunGC(ctx, time.Millisecond) }()
	time.Sleep(20 * time.Millisecond) // let a few ticks run GC on an index with nothing to rewrite
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunGC returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunGC did not stop after its context was cancelled")
	}
}

func reopenWith(t *testing.T, dir string, opts func(*Options)) *Index {
	t.Helper()
	o := Options{Dir: dir}
	opts(&o)
	ix, err := Open(o)
	must(t, err)
	t.Cleanup(func() { _ = ix.Close() })
	return ix
}
