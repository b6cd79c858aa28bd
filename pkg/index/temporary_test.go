package index

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// loadSmallCluster rebuilds ix from a few thousand generated images, streams and pods.
func loadSmallCluster(t *testing.T, ix *Index) {
	t.Helper()
	ctx := context.Background()
	rb, err := ix.BeginRebuild(ctx)
	must(t, err)
	for i := range 2_000 {
		must(t, rb.PutImage(benchImage(i)))
	}
	for s := range 100 {
		must(t, rb.PutStream(benchStream(s)))
	}
	for i := range 3_000 {
		must(t, rb.PutObject(benchPod(i, 0, func(n int) int { return (i%100)*20 + n%20 })))
	}
	must(t, rb.Finish(ctx))
}

func TestTemporaryIndexAnswersLikeADurableOne(t *testing.T) {
	open := func(temporary bool) *Index {
		// Small memtables: the load lands as many level-0 tables, which Finish must merge.
		ix, err := Open(Options{Dir: filepath.Join(t.TempDir(), "index"), Temporary: temporary,
			MemTableSize: 1 << 20, Now: func() time.Time { return t0 }})
		must(t, err)
		t.Cleanup(func() { _ = ix.Close() })
		loadSmallCluster(t, ix)
		return ix
	}
	durable, temporary := open(false), open(true)
	lines, err := durable.Diff(context.Background(), temporary, DiffOptions{IncludePending: true})
	must(t, err)
	if len(lines) > 0 {
		t.Fatalf("the temporary index differs:\n%v", lines)
	}
	// The load's tables are merged; only the blob counts, written after the merge, may
	// remain in level 0.
	if n := temporary.db.Levels()[0].NumTables; n > 1 {
		t.Errorf("the temporary index kept %d level-0 tables after Finish, want them merged", n)
	}
	ctx := context.Background()
	for _, d := range []string{benchDigest("image", 0), benchDigest("image", 1_999), digestOf("none")} {
		a, errA := durable.ReferrersOfDigest(ctx, "", d)
		b, errB := temporary.ReferrersOfDigest(ctx, "", d)
		if errA != nil || errB != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("referrers of %s: durable %v %v, temporary %v %v", d, a, errA, b, errB)
		}
	}
	// The merge reopened Badger: the index still takes writes and reads them back.
	o := benchPod(0, 1, func(int) int { return 5 })
	mustApply(t, temporary, PutObject(o))
	if got, found, err := temporary.Object(ctx, o.Key); err != nil || !found || got.UID != o.UID {
		t.Fatalf("object after the merge: %+v %v %v", got, found, err)
	}
}

func TestObjectFilterNeverForgetsAKey(t *testing.T) {
	f := newKeyFilter(0)
	const n = 4 * filterMinKeys // several generations
	for i := range n {
		f.add(objectKey(model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: fmt.Sprint(i)}))
	}
	if len(f.gens) < 2 {
		t.Fatalf("%d keys fit in %d generation(s) of %d", n, len(f.gens), filterMinKeys)
	}
	falsePositives := 0
	for i := range n {
		if !f.mayContain(objectKey(model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: fmt.Sprint(i)})) {
			t.Fatalf("key %d was added and is not in the filter", i)
		}
		if f.mayContain(objectKey(model.ObjectKey{Kind: model.KindPod, Namespace: "other", Name: fmt.Sprint(i)})) {
			falsePositives++
		}
	}
	if rate := float64(falsePositives) / n; rate > 0.05 {
		t.Errorf("false-positive rate %.3f, want at most 0.05", rate)
	}
}

// The filter is rebuilt from disk by Open: an update after a restart must find the record
// (and keep its Since and move its entries), not take the object for a new one.
func TestUpdateAfterReopenFindsTheRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	now := t0
	ix, err := Open(Options{Dir: dir, Now: func() time.Time { return now }})
	must(t, err)
	o := benchPod(1, 0, func(n int) int { return n }) // images 2 and 3
	mustApply(t, ix, PutObject(o))
	must(t, ix.Close())
	now = t0.Add(time.Hour)
	ix, err = Open(Options{Dir: dir, Now: func() time.Time { return now }})
	must(t, err)
	defer func() { _ = ix.Close() }()
	moved := o
	moved.Refs = append([]model.Ref(nil), o.Refs...)
	moved.Refs[0].Digest = benchDigest("image", 100)
	mustApply(t, ix, PutObject(moved))
	ctx := context.Background()
	rs, err := ix.ReferrersOfDigest(ctx, "", moved.Refs[0].Digest)
	must(t, err)
	if len(rs) != 1 || !rs[0].Since.Equal(t0) {
		t.Fatalf("referrers of the new digest: %+v, want one first seen at %v", rs, t0)
	}
	if old, err := ix.ReferrersOfDigest(ctx, "", o.Refs[0].Digest); err != nil || len(old) != 0 {
		t.Fatalf("the old reference is still indexed: %+v %v", old, err)
	}
	mustCheck(t, ix)
}
