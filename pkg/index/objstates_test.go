package index

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// A lookup takes Created, Since and Phase from memory: no record is read, after writes, after
// a reopen and in a read-only open.
func TestLookupsTakeObjectStatesFromMemory(t *testing.T) {
	ix, clock := openTest(t)
	d := digestOf("a")
	web := podObject("web", "Pending", digestRef("f", "ns/is", d))
	mustApply(t, ix, PutObject(web))
	clock.Advance(time.Hour)
	mustApply(t, ix, PutPending(podObject("job", "", digestRef("f", "ns/is", d)), t0.Add(2*time.Hour)))
	web.Phase = "Running"
	mustApply(t, ix, PutObject(web))
	want := map[string]model.Referrer{
		"web": {Created: t0, Since: t0, Phase: "Running"},
		"job": {Created: t0, Since: t0.Add(time.Hour), Pending: true},
	}
	check := func(t *testing.T, ix *Index) {
		t.Helper()
		before := ix.states.recordReads.Load()
		rs, err := ix.ReferrersOfDigest(context.Background(), "", d)
		if err != nil || len(rs) != 2 {
			t.Fatalf("want two referrers, got %+v, %v", rs, err)
		}
		for _, r := range rs {
			w := want[r.Object.Name]
			if !r.Created.Equal(w.Created) || !r.Since.Equal(w.Since) || r.Phase != w.Phase || r.Pending != w.Pending {
				t.Errorf("%s: created %s since %s phase %q pending %v; want %s %s %q %v", r.Object, r.Created,
					r.Since, r.Phase, r.Pending, w.Created, w.Since, w.Phase, w.Pending)
			}
		}
		if n := ix.states.recordReads.Load() - before; n != 0 {
			t.Errorf("the lookup read %d records, want none", n)
		}
	}
	check(t, ix)
	mustCheck(t, ix)
	dir := ix.dir
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	for _, readOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("reopened read-only %v", readOnly), func(t *testing.T) {
			ix, err := Open(Options{Dir: dir, ReadOnly: readOnly})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ix.Close() }()
			check(t, ix)
		})
	}
}

// What an update writes: its record, and the entries of the references whose match keys or
// values changed — not those of an object whose phase alone changed.
func TestAnUpdateWritesOnlyWhatChanged(t *testing.T) {
	a, b := digestRef("a", "ns/is", digestOf("a")), digestRef("b", "ns/is", digestOf("b"))
	moved := digestRef("a", "ns/is", digestOf("c"))
	tests := []struct {
		behaviour string
		next      model.Object
		writes    int
	}{
		{"a new resource version writes the record", podObject("web", "Pending", a, b), 1},
		{"a new phase writes the record", podObject("web", "Running", a, b), 1},
		{"a new creation time writes the record", func() model.Object {
			o := podObject("web", "Pending", a, b)
			o.Created = t0.Add(time.Hour)
			return o
		}(), 1},
		{"a moved reference writes the record, its old entry out and its new one in", podObject("web", "Running", moved, b), 3},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			ix, _ := openTest(t)
			mustApply(t, ix, PutObject(podObject("web", "Pending", a, b)))
			snap := ix.db.NewTransaction(false)
			defer snap.Discard()
			w := ix.newWriter(snap, nil, nil, 1)
			next := tt.next
			next.ResourceVersion = "2"
			if err := PutObject(next).apply(w); err != nil {
				t.Fatal(err)
			}
			if len(w.writes) != tt.writes {
				var keys []string
				for _, wr := range w.writes {
					keys = append(keys, describeKey(wr.key))
				}
				t.Fatalf("wrote %d keys, want %d: %v", len(w.writes), tt.writes, keys)
			}
		})
	}
}

// A phase change that writes no entry still reports the object's references to OnCommit
// subscribers: a pod's phase decides whether it protects its images.
func TestAPhaseChangeReportsTheReferencesOfItsObject(t *testing.T) {
	ix, _ := openTest(t)
	o := podObject("web", "Running", digestRef("f", "ns/is", digestOf("a")), tagRef("g", "ns/is", "v1"))
	mustApply(t, ix, PutObject(o))
	rec := subscribe(t, ix)
	o.Phase = "Succeeded"
	mustApply(t, ix, PutObject(o))
	got := withoutTime(rec.got)
	if len(got) != 1 || !equalStrings(got[0].Digests, []string{digestOf("a")}) || !equalStrings(got[0].Tags, []string{"ns/is:v1"}) {
		t.Fatalf("want the digest and the tag reported once, got %+v", got)
	}
}

// Lookups running while objects change return, for each referrer, the Created and Phase of
// the same version of the object as the reference: the writer gives version v of every pod
// the digest, creation time and phase of v mod len(digests), so a referrer of digest j must
// carry j's creation time and phase, whichever commit a lookup's snapshot falls between.
func TestLookupsSeeTheObjectStatesOfTheirSnapshot(t *testing.T) {
	ix, _ := openTest(t)
	const pods, versions = 40, 8
	phases := []string{"Pending", "Running", "Succeeded", "Failed"}
	version := func(name string, v int) model.Object {
		o := podObject(name, phases[v%versions%len(phases)], digestRef("f", "ns/is", digestOf(itoa(v%versions))))
		o.Created = t0.Add(time.Duration(v%versions) * time.Hour)
		return o
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var writeErr error
	var rounds atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := 0; ctx.Err() == nil; v++ {
			var ops []Op
			for p := range pods {
				name := "p" + itoa(p)
				if p%5 == 0 {
					ops = append(ops, DeleteObject(version(name, v).Key)) // re-created below
				}
				ops = append(ops, PutObject(version(name, v)))
			}
			if err := ix.Apply(ctx, ops...); err != nil {
				if !errors.Is(err, context.Canceled) {
					writeErr = err
				}
				return
			}
			rounds.Add(1)
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	lookups := 0
	for ; time.Now().Before(deadline) || rounds.Load() < 50; lookups++ {
		j := lookups % versions
		rs, err := ix.ReferrersOfDigest(ctx, "", digestOf(itoa(j)))
		if err != nil {
			t.Fatal(err)
		}
		want := version("", j)
		for _, r := range rs {
			if !r.Created.Equal(want.Created) || r.Phase != want.Phase {
				t.Fatalf("lookup %d (after %d rounds): %s references digest %d with created %s phase %q, want %s %q",
					lookups, rounds.Load(), r.Object, j, r.Created, r.Phase, want.Created, want.Phase)
			}
		}
	}
	cancel()
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	t.Logf("%d lookups during %d rounds of %d updates; %d referrers read from their records",
		lookups, rounds.Load(), pods, ix.states.recordReads.Load())
	mustCheck(t, ix)
}

// A commit that fails may have staged states it never wrote: the table is loaded again, and
// lookups and Check see what was committed.
func TestAFailedCommitLeavesTheCommittedStates(t *testing.T) {
	ix, _ := openTest(t)
	o := podObject("web", "Running", digestRef("f", "ns/is", digestOf("a")))
	mustApply(t, ix, PutObject(o))
	// What the write path does for a commit that then fails.
	attempted := o
	attempted.Phase = "Failed"
	w := ix.newWriter(nil, nil, nil, 1)
	w.writes = []write{{key: objectKey(o.Key), val: encodeObject(storedObject{Object: attempted, Since: t0})}}
	w.opEnds, w.ops = []int{1}, []Op{PutObject(attempted)}
	w.stage(1)
	w.failed()
	rs, err := ix.ReferrersOfDigest(context.Background(), "", digestOf("a"))
	if err != nil || len(rs) != 1 || rs[0].Phase != "Running" {
		t.Fatalf("want the committed phase, got %+v, %v", rs, err)
	}
	mustCheck(t, ix)
}

// An aborted rebuild may have staged states of records it never wrote.
func TestAnAbortedRebuildLeavesTheStatesOfWhatItWrote(t *testing.T) {
	ix, _ := openTest(t)
	rb, err := ix.BeginRebuild(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := rb.PutObject(podObject("p"+itoa(i), "Running", digestRef("f", "ns/is", digestOf(itoa(i))))); err != nil {
			t.Fatal(err)
		}
	}
	rb.Abort()
	ix.wmu.Lock()
	lines, err := ix.states.check(ix.db)
	ix.wmu.Unlock()
	if err != nil || len(lines) != 0 {
		t.Fatalf("object states differ from the records after the abort (%v):\n%s", err, joinLines(lines))
	}
}

// Check reports a state in memory that differs from its record.
func TestCheckReportsObjectStatesThatDifferFromTheRecords(t *testing.T) {
	ix, _ := openTest(t)
	o := podObject("web", "Running", digestRef("f", "ns/is", digestOf("a")))
	mustApply(t, ix, PutObject(o))
	o.Phase = "Succeeded"
	ix.states.stage([]write{{key: objectKey(o.Key), val: encodeObject(storedObject{Object: o, Since: t0})}}, 0)
	lines, err := ix.Check(context.Background(), filepath.Join(t.TempDir(), "check"))
	if err != nil || len(lines) != 1 {
		t.Fatalf("want one difference, got %v:\n%s", err, joinLines(lines))
	}
	t.Log(lines[0])
}

// A lookup made when a commit is visible to new snapshots but not yet published reads that
// commit's states from its records, not the states of the version before.
func TestALookupBetweenACommitAndItsPublicationSeesTheCommit(t *testing.T) {
	ix, _ := openTest(t)
	o := podObject("web", "Pending", digestRef("f", "ns/is", digestOf("a")))
	mustApply(t, ix, PutObject(o))
	var got []model.Referrer
	var lookupErr error
	testHookCommitted = func(hooked *Index) {
		if hooked == ix && got == nil {
			got, lookupErr = ix.ReferrersOfDigest(context.Background(), "", digestOf("a"))
		}
	}
	defer func() { testHookCommitted = nil }()
	o.Phase = "Running"
	mustApply(t, ix, PutObject(o))
	if lookupErr != nil || len(got) != 1 || got[0].Phase != "Running" {
		t.Fatalf("want the committed phase Running, got %+v, %v", got, lookupErr)
	}
}

// The compact table reuses the positions of removed states, codes phases it has not met
// before, and stores no state it cannot code (lookups read that record).
func TestStateTableStoresWhatItIsGiven(t *testing.T) {
	tab := newStateTable()
	key := func(i int) []byte { return objectKey(podObject("p"+itoa(i), "").Key) }
	for i := range 300 {
		tab.set(key(i), objectState{created: int64(i), since: int64(-i), phase: "phase-" + itoa(i), gen: uint64(i)})
	}
	tab.remove(key(7))
	tab.set(key(1000), objectState{created: 1000, phase: "Running"})
	if len(tab.states) != math.MaxUint8+1-len(podPhases) { // the states with a phase code
		t.Errorf("the state of key 1000 took a new position instead of 7's: %d positions", len(tab.states))
	}
	for i := range 300 {
		got, ok := tab.get(key(i))
		switch {
		case i == 7:
			if ok {
				t.Errorf("removed state %d is still there: %+v", i, got)
			}
		case i+len(podPhases) > math.MaxUint8: // codes 0..255
			if ok {
				t.Errorf("state %d with phase %d is stored, but there is no code left for it: %+v", i, i, got)
			}
		default:
			want := objectState{created: int64(i), since: int64(-i), phase: "phase-" + itoa(i), gen: uint64(i)}
			if !ok || got != want {
				t.Errorf("state %d: got %+v, %v; want %+v", i, got, ok, want)
			}
		}
	}
	if got, ok := tab.get(key(1000)); !ok || got.phase != "Running" || got.created != 1000 {
		t.Errorf("state 1000: got %+v, %v", got, ok)
	}
}

// An update of an object with long references (two-byte segment lengths) moves exactly the
// entries of the references that changed.
func TestAnUpdateOfLongReferencesMovesTheirEntries(t *testing.T) {
	ix, _ := openTest(t)
	repo := "ns/" + strings.Repeat("r", 200)
	o := podObject("web", "Running", digestRef("a", repo, digestOf("a")), digestRef("b", repo, digestOf("b")))
	mustApply(t, ix, PutObject(o))
	o.Refs[1] = digestRef("b", repo, digestOf("c"))
	o.Phase = "Succeeded"
	mustApply(t, ix, PutObject(o))
	for d, want := range map[string]int{"a": 1, "b": 0, "c": 1} {
		if got := referrersOfDigest(t, ix, "", digestOf(d)); len(got) != want {
			t.Errorf("digest %s: %d referrers, want %d", d, len(got), want)
		}
	}
	mustCheck(t, ix)
}
