package index

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestRecordCacheServesTheNextUpdate(t *testing.T) {
	ix, _ := openTest(t)
	a := podObject("a", "Pending", digestRef("f", "ns/is", digestOf("1")))
	mustApply(t, ix, PutObject(a))
	if st := ix.RecordCacheStats(); st.Entries != 1 || st.Hits != 0 {
		t.Fatalf("after a create the cache holds its record and was not hit: %+v", st)
	}
	a.Phase, a.Refs = "Running", []model.Ref{digestRef("f", "ns/is", digestOf("2"))}
	mustApply(t, ix, PutObject(a))
	if st := ix.RecordCacheStats(); st.Hits != 1 || st.Misses != 0 {
		t.Fatalf("the update reads its previous record from the cache: %+v", st)
	}
	if got := referrersOfDigest(t, ix, "", digestOf("1")); len(got) != 0 {
		t.Fatalf("the moved reference left its old entry: %v", got)
	}
	mustApply(t, ix, DeleteObject(a.Key))
	if st := ix.RecordCacheStats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("a deleted object leaves the cache: %+v", st)
	}
	mustCheck(t, ix)
}

// A record the cache does not hold is read from Badger and cached: after a reopen the first
// update of an object misses, the second hits.
func TestRecordCacheFillsOnAMissAfterReopen(t *testing.T) {
	ix, _ := openTest(t)
	dir := ix.dir
	a := podObject("a", "Running", digestRef("f", "ns/is", digestOf("1")))
	mustApply(t, ix, PutObject(a))
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := ro.RecordCacheStats(); st.Limit != 0 {
		t.Fatalf("a read-only index has no cache: %+v", st)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(Options{Dir: dir, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	for range 2 {
		a.Refs = []model.Ref{digestRef("f", "ns/is", digestOf(a.ResourceVersion+"x"))}
		a.ResourceVersion += "x"
		mustApply(t, ix, PutObject(a))
	}
	if st := ix.RecordCacheStats(); st.Hits != 1 || st.Misses != 1 || st.Entries != 1 {
		t.Fatalf("want one miss (read from Badger and cached), then one hit: %+v", st)
	}
	mustCheck(t, ix)
}

// A write whose commit fails must not reach the cache: the next update of the object has to
// move the reverse entries of what was committed, not of what was attempted.
func TestRecordCacheHoldsOnlyCommittedRecords(t *testing.T) {
	ix, _ := openTest(t, func(o *Options) { o.MemTableSize = 1 << 20 })
	small := podObject("p", "Running", digestRef("f", "ns/is", digestOf("kept")))
	mustApply(t, ix, PutObject(small))
	huge := podObject("p", "Running")
	for i := range 20000 {
		huge.Refs = append(huge.Refs, digestRef("f"+itoa(i), "ns/is", digestOf(itoa(i))))
	}
	if err := ix.Apply(context.Background(), PutObject(huge)); !errors.Is(err, badger.ErrTxnTooBig) {
		t.Fatalf("the huge update cannot commit, got %v", err)
	}
	mustApply(t, ix, DeleteObject(small.Key))
	if got := referrersOfDigest(t, ix, "", digestOf("kept")); len(got) != 0 {
		t.Fatalf("the delete removed the entries of the uncommitted record instead of the committed one: %v", got)
	}
	mustCheck(t, ix)
}

// A cache smaller than the objects it sees drops entries to stay within its budget, and the
// index it serves is exactly the index without a cache.
func TestRecordCacheBudgetAndEquivalence(t *testing.T) {
	ctx := context.Background()
	const budget = 4 << 10
	cached, _ := openTest(t, func(o *Options) { o.RecordCacheBytes = budget })
	plain, _ := openTest(t, func(o *Options) { o.RecordCacheBytes = -1 })
	r := rand.New(rand.NewPCG(7, 8))
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"}
	phases := []string{"Pending", "Running", "Succeeded"}
	for round := range 200 {
		var ops []Op
		for range 1 + r.IntN(300) {
			name := names[r.IntN(len(names))]
			if r.IntN(8) == 0 {
				ops = append(ops, DeleteObject(podObject(name, "").Key))
				continue
			}
			o := podObject(name, phases[r.IntN(len(phases))])
			for j := range r.IntN(4) {
				o.Refs = append(o.Refs, digestRef("spec.containers["+itoa(j)+"].image", "ns/is", digestOf(itoa(r.IntN(6)))))
			}
			if r.IntN(3) == 0 {
				o.Refs = append(o.Refs, tagRef("spec.initContainers[0].image", "ns/is", "t"+itoa(r.IntN(3))))
			}
			o.ResourceVersion = itoa(round)
			ops = append(ops, PutObject(o))
		}
		mustApply(t, cached, ops...)
		mustApply(t, plain, ops...)
		if st := cached.RecordCacheStats(); st.Bytes > budget {
			t.Fatalf("round %d: the cache holds %d bytes, over its budget of %d", round, st.Bytes, budget)
		}
		// Compared after every round: a later update can hide an earlier wrong one.
		lines, err := cached.Diff(ctx, plain, DiffOptions{Name: "cached", OtherName: "uncached"})
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) > 0 {
			t.Fatalf("round %d: the cached index differs from the uncached one:\n%s", round, joinLines(lines))
		}
	}
	st := cached.RecordCacheStats()
	if st.Hits == 0 || st.Misses == 0 {
		t.Fatalf("a cache smaller than the objects both hits and misses: %+v", st)
	}
	if ps := plain.RecordCacheStats(); ps != (RecordCacheStats{}) {
		t.Fatalf("a disabled cache holds and counts nothing: %+v", ps)
	}
	mustCheck(t, cached)
}

func TestRecordCacheIsEmptiedByARebuild(t *testing.T) {
	ctx := context.Background()
	ix, _ := openTest(t)
	a := podObject("a", "Running", digestRef("f", "ns/is", digestOf("1")))
	mustApply(t, ix, PutObject(a))
	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := ix.RecordCacheStats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("the wipe empties the cache: %+v", st)
	}
	b := podObject("a", "Running", digestRef("f", "ns/is", digestOf("2")))
	if err := rb.PutObject(b); err != nil {
		t.Fatal(err)
	}
	if err := rb.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	// The update reads the rebuilt record (digest 2), not the one cached before the wipe.
	mustApply(t, ix, PutObject(podObject("a", "Running", digestRef("f", "ns/is", digestOf("3")))))
	if got := referrersOfDigest(t, ix, "", digestOf("2")); len(got) != 0 {
		t.Fatalf("the update left the rebuilt record's entry: %v", got)
	}
	mustCheck(t, ix)
}

func TestRecordCacheDisabled(t *testing.T) {
	ix, _ := openTest(t, func(o *Options) { o.RecordCacheBytes = -1 })
	a := podObject("a", "Running", digestRef("f", "ns/is", digestOf("1")))
	mustApply(t, ix, PutObject(a), PutObject(a))
	if st := ix.RecordCacheStats(); st != (RecordCacheStats{}) {
		t.Fatalf("a disabled cache holds and counts nothing: %+v", st)
	}
	if st := newRecordCache(0); st.limit != DefaultRecordCacheBytes {
		t.Fatalf("0 means the default budget, got %d", st.limit)
	}
}
