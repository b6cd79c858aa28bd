package synth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/synth"
	"github.com/pruneguard/pruneguard/pruner"
)

var reproNow = time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)

// dumpOf generates the size S cluster of seed and returns its dump.
func dumpOf(t *testing.T, seed int64) []byte {
	t.Helper()
	c, err := synth.Generate(synth.Options{Size: synth.Small, Seed: seed, Now: reproNow, NoInvalidRefs: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := synth.WriteDump(&buf, c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// planOf plans a one-shot prune with the default flags on dump, as `prune images --from-file
// --now` does, and returns the plan as JSON.
func planOf(t *testing.T, dump []byte) ([]byte, *pruner.Plan) {
	t.Helper()
	ctx := context.Background()
	r, closeFn, err := pruner.OpenDump(ctx, bytes.NewReader(dump), pruner.DumpOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := closeFn(); err != nil {
			t.Error(err)
		}
	}()
	plan, err := pruner.NewPlanner(r, pruner.NewOptions().Policy(reproNow)).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	return data, plan
}

// TestSameSeedGivesTheSameClusterAndPlan is issue 9's "results reproducible": two generations
// of one seed give byte-identical dumps, and planning gives the same plan on one dump twice
// and on the dumps of both generations; another seed gives another cluster and another plan.
func TestSameSeedGivesTheSameClusterAndPlan(t *testing.T) {
	first, second, other := dumpOf(t, 1), dumpOf(t, 1), dumpOf(t, 2)
	if !bytes.Equal(first, second) {
		t.Fatalf("two generations of seed 1 differ: %d and %d bytes", len(first), len(second))
	}
	if bytes.Equal(first, other) {
		t.Fatal("seeds 1 and 2 gave the same dump")
	}
	plan, p := planOf(t, first)
	if len(p.Images) == 0 || len(p.Streams) == 0 {
		t.Fatalf("the plan of seed 1 deletes %d images from %d streams: a plan that prunes nothing proves nothing",
			len(p.Images), len(p.Streams))
	}
	for what, dump := range map[string][]byte{"the same dump planned again": first, "the second generation's dump": second} {
		if again, _ := planOf(t, dump); !bytes.Equal(plan, again) {
			t.Errorf("%s gives another plan (%d and %d bytes of JSON)", what, len(plan), len(again))
		}
	}
	if otherPlan, _ := planOf(t, other); bytes.Equal(plan, otherPlan) {
		t.Error("seeds 1 and 2 gave the same plan")
	}
	t.Logf("seed 1: %d bytes of dump, a plan of %d images and %d streams", len(first), len(p.Images), len(p.Streams))
}
