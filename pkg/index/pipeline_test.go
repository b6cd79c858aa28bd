package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// pipelinePod is pod i with a reference to each of digests, in containers c0, c1, …; pad
// lengthens the references' pull specs (to make a batch outgrow a transaction).
func pipelinePod(i int, phase, pad string, digests ...string) model.Object {
	var refs []model.Ref
	for j, d := range digests {
		r := digestRef(fmt.Sprintf("spec.containers[c%d].image", j), "ns/is", d)
		r.Raw = "reg" + pad + "/ns/is@" + d
		refs = append(refs, r)
	}
	return podObject(fmt.Sprintf("pod-%d", i), phase, refs...)
}

// failedCommit is how the second asynchronous commit of an Apply call fails.
type failedCommit struct {
	name string
	// lands: the commit is written although it reports an error (Badger's writer reports
	// one error for all the requests it wrote together, some of which may be in the
	// memtable already).
	lands bool
	// laterFails: the third commit fails too; otherwise it commits.
	laterFails bool
	// memtable, when not 0, is small enough that batch 1 is split in several transactions,
	// the last one asynchronous.
	memtable int64
}

// Badger's writer takes each commit on its own, so a batch can commit after the one before
// it failed, having been prepared on that one's writes. Apply must then undo it: here batch
// 1 moves each pod's reference from W to X and batch 2 adds Y, so a batch 2 left in place
// over a failed batch 1 would leave the pods referencing X with no entry for X, and X
// prunable. Whatever fails, the index must be exactly what it was after the ops before the
// failed commit, and only those are reported to OnCommit.
func TestACommitThatFailsUndoesTheBatchesCommittedAfterIt(t *testing.T) {
	for _, tc := range []failedCommit{
		{name: "fails, the next batch commits"},
		{name: "lands but reports an error, the next batch commits", lands: true},
		{name: "fails, the next batch fails too", laterFails: true},
		{name: "split batches, the last part fails, the next batch commits", memtable: 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) { testFailedCommit(t, tc) })
	}
}

func testFailedCommit(t *testing.T, tc failedCommit) {
	opts := func(o *Options) {
		if tc.memtable > 0 {
			o.MemTableSize = tc.memtable
		}
	}
	pad := ""
	if tc.memtable > 0 {
		pad = strings.Repeat("p", 1500)
	}
	const pods = applyBatch
	var setup, ops []Op
	for i := range pods {
		setup = append(setup, PutObject(pipelinePod(i, "Pending", "", digestOf(fmt.Sprint("w", i)))))
	}
	// Batch 0 changes each pod's phase, batch 1 moves its reference, batch 2 adds one; each
	// sets a new phase.
	for i := range pods {
		ops = append(ops, PutObject(pipelinePod(i, "Running", "", digestOf(fmt.Sprint("w", i)))))
	}
	for i := range pods {
		ops = append(ops, PutObject(pipelinePod(i, "Succeeded", pad, digestOf(fmt.Sprint("x", i)))))
	}
	for i := range pods {
		ops = append(ops, PutObject(pipelinePod(i, "Failed", "", digestOf(fmt.Sprint("x", i)), digestOf(fmt.Sprint("y", i)))))
	}

	ix, _ := openTest(t, opts)
	mustApply(t, ix, setup...)
	rec := subscribe(t, ix)
	injected := errors.New("injected write error")
	var calls int
	var failed chan<- error
	var notApplied int
	testHookCommit = func(batch []Op, txn *badger.Txn, done chan<- error) bool {
		calls++
		switch calls {
		case 2:
			// The failure is reported only once the next batch is through, as when Badger's
			// writer has both in hand.
			failed, notApplied = done, len(batch)
			if tc.lands {
				txn.CommitWith(func(error) {})
			} else {
				txn.Discard()
			}
			return true
		case 3:
			notApplied += len(batch)
			if tc.laterFails {
				txn.Discard()
				done <- injected
				failed <- injected
				return true
			}
			txn.CommitWith(func(err error) { done <- err; failed <- injected })
			return true
		}
		return false
	}
	defer func() { testHookCommit = nil }()
	err := ix.Apply(context.Background(), ops...)
	testHookCommit = nil
	if calls != 3 {
		t.Fatalf("want 3 asynchronous commits, got %d", calls)
	}
	if !errors.Is(err, injected) || !strings.Contains(err.Error(), fmt.Sprintf("failed to commit %d index ops", notApplied)) {
		t.Fatalf("want the injected error naming the %d ops not applied, got %v", notApplied, err)
	}
	applied := len(ops) - notApplied
	if tc.memtable > 0 && applied == pods {
		t.Fatalf("batch 1 was not split: the test does not cover a failed last part")
	}

	want, _ := openTest(t, opts)
	mustApply(t, want, setup...)
	mustApply(t, want, ops[:applied]...)
	if diff := diffDBs(t, ix, want); diff != "" {
		t.Fatalf("after the failure the index differs from one that applied the %d ops before it:\n%s", applied, diff)
	}
	mustCheck(t, ix)
	// Batch 0 changes the phase of pods referencing w…, the part of batch 1 that committed
	// moves pods from w… to x….
	wantReported := map[string]bool{}
	for i := range pods {
		wantReported[digestOf(fmt.Sprint("w", i))] = true
	}
	for i := range applied - pods {
		wantReported[digestOf(fmt.Sprint("x", i))] = true
	}
	if got := reportedDigests(rec.got); !maps.Equal(got, wantReported) {
		t.Fatalf("OnCommit reported %d digests, want the %d of the %d ops applied", len(got), len(wantReported), applied)
	}
	// The index goes on: the ops not applied apply now.
	mustApply(t, ix, ops[applied:]...)
	mustApply(t, want, ops[applied:]...)
	if diff := diffDBs(t, ix, want); diff != "" {
		t.Fatalf("after the rest of the ops:\n%s", diff)
	}
}

// reportedDigests is the set of digests in cs.
func reportedDigests(cs []Changes) map[string]bool {
	out := map[string]bool{}
	for _, c := range cs {
		for _, d := range c.Digests {
			out[d] = true
		}
	}
	return out
}

// diffDBs describes the keys whose values differ between two indexes, the first few.
func diffDBs(t *testing.T, got, want *Index) string {
	t.Helper()
	g, w := dumpDB(t, got), dumpDB(t, want)
	var out []string
	for k, v := range w {
		if gv, ok := g[k]; !ok {
			out = append(out, "missing "+describeKey([]byte(k)))
		} else if !bytes.Equal([]byte(gv), []byte(v)) {
			out = append(out, "differs "+describeKey([]byte(k)))
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			out = append(out, "extra "+describeKey([]byte(k)))
		}
	}
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("… %d more", len(out)-10))
	}
	return joinLines(out)
}

func dumpDB(t *testing.T, ix *Index) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().KeyCopy(nil))] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// movingOps updates pods 0…n-1 rounds times, each time moving their second reference to a new
// digest and changing their phase, so that every op reads what the op before it on the same
// pod wrote, whichever batch that was in.
func movingOps(n, rounds int) []Op {
	var ops []Op
	for r := range rounds {
		for i := range n {
			phase := []string{"Pending", "Running"}[r%2]
			ops = append(ops, PutObject(pipelinePod(i, phase, "", digestOf(fmt.Sprint("a", i)), digestOf(fmt.Sprint("m", i, "-", r)))))
		}
	}
	return ops
}

// A call of many rounds of batches ends where applying its ops one call at a time ends.
func TestABigCallEndsWhereOneOpPerCallEnds(t *testing.T) {
	ops := movingOps(500, 6) // 3,000 ops: 3 rounds; a pod's last write 500 ops back
	ix, _ := openTest(t)
	mustApply(t, ix, ops...)
	want, _ := openTest(t)
	for _, op := range ops {
		mustApply(t, want, op)
	}
	if diff := diffDBs(t, ix, want); diff != "" {
		t.Fatalf("one call of %d ops and %d calls differ:\n%s", len(ops), len(ops), diff)
	}
	mustCheck(t, ix)
}

// Batches are prepared while the ones before them are still committing: here no commit
// reports before the round's last batch is prepared, so each batch reads the writes of the
// earlier ones from their logs, here those of three batches back.
func TestBatchesReadTheWritesOfEveryEarlierBatchInFlight(t *testing.T) {
	ops := movingOps(3*applyBatch, applyRound)[:applyRound*applyBatch] // exactly one round
	ix, _ := openTest(t)
	var held []chan error
	var dones []chan<- error
	testHookCommit = func(_ []Op, txn *badger.Txn, done chan<- error) bool {
		result := make(chan error, 1)
		txn.CommitWith(func(err error) { result <- err })
		held, dones = append(held, result), append(dones, done)
		if len(held) == applyRound {
			for i := range held {
				dones[i] <- <-held[i]
			}
		}
		return true
	}
	defer func() { testHookCommit = nil }()
	mustApply(t, ix, ops...)
	testHookCommit = nil
	if len(held) != applyRound {
		t.Fatalf("want %d commits, got %d", applyRound, len(held))
	}
	want, _ := openTest(t)
	for _, op := range ops {
		mustApply(t, want, op)
	}
	if diff := diffDBs(t, ix, want); diff != "" {
		t.Fatalf("batches prepared over unfinished ones differ from ops applied one by one:\n%s", diff)
	}
	mustCheck(t, ix)
}
