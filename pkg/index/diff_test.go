package index

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// cluster is a small cluster state used to build indexes two ways.
type cluster struct {
	objects []model.Object
	images  []model.Image
	streams []model.Stream
	limits  []model.LimitRange
}

func sampleCluster() cluster {
	return cluster{
		objects: []model.Object{
			podObject("a", "Running", digestRef("f", "ns/is", digestOf("x")), tagRef("g", "ns/is", "latest")),
			podObject("b", "Succeeded", digestRef("f", "", digestOf("y"))),
		},
		images:  []model.Image{image("x", "base", "app"), image("y", "base")},
		streams: []model.Stream{stream("ns", "is", map[string][]string{"latest": {"x", "y"}})},
		limits:  []model.LimitRange{{Namespace: "ns", Name: "l", MaxImageSize: 100}},
	}
}

func (c cluster) ops() []Op {
	var ops []Op
	// Streams first and images last, the order a rebuild never uses, to show counts agree.
	for _, s := range c.streams {
		ops = append(ops, PutStream(s))
	}
	for _, o := range c.objects {
		ops = append(ops, PutObject(o))
	}
	for _, l := range c.limits {
		ops = append(ops, PutLimitRange(l))
	}
	for _, img := range c.images {
		ops = append(ops, PutImage(img))
	}
	return ops
}

func rebuildFrom(t testing.TB, c cluster) *Index {
	t.Helper()
	ix, _ := openTest(t)
	ctx := context.Background()
	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range c.images {
		must(t, rb.PutImage(img))
	}
	for _, o := range c.objects {
		must(t, rb.PutObject(o))
	}
	for _, s := range c.streams {
		must(t, rb.PutStream(s))
	}
	for _, l := range c.limits {
		must(t, rb.PutLimitRange(l))
	}
	must(t, rb.Finish(ctx))
	return ix
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestARebuildEqualsTheSameWritesApplied(t *testing.T) {
	live, clock := openTest(t)
	clock.Advance(time.Hour) // Since differs between the two; Diff ignores it
	mustApply(t, live, sampleCluster().ops()...)
	fresh := rebuildFrom(t, sampleCluster())
	lines, err := live.Diff(context.Background(), fresh, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 0 {
		t.Fatalf("want no differences, got:\n%s", joinLines(lines))
	}
}

func TestDiffDescribesEachDifference(t *testing.T) {
	c := sampleCluster()
	live, _ := openTest(t)
	mustApply(t, live, c.ops()...)
	mustApply(t, live,
		PutObject(podObject("a", "Running", digestRef("f", "ns/is", digestOf("y")))), // refs changed
		PutImage(image("z", "extra")), // image the cluster lacks
		PutPending(podObject("p", "", tagRef("f", "ns/is", "v9")), t0.Add(time.Hour)), // pending: ignored
	)
	fresh := rebuildFrom(t, c)
	lines, err := live.Diff(context.Background(), fresh, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"object Pod/ns/a: refs: index [f=reg/ns/is@" + digestOf("y"),
		"image " + digestOf("z") + ": only in index",
		"reference to ns/is:latest from Pod/ns/a ref 1: only in fresh",
		"blob count of " + digestOf("extra") + ": only in index",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "blob count of "+digestOf("base")) {
		t.Errorf("counts that agree are not reported:\n%s", text)
	}
	if strings.Contains(text, "pending") || strings.Contains(text, "v9") {
		t.Errorf("pending state is not compared by default:\n%s", text)
	}
	capped, _ := live.Diff(context.Background(), fresh, DiffOptions{MaxLines: 2})
	if len(capped) != 3 || !strings.HasPrefix(capped[2], "... and ") {
		t.Errorf("MaxLines caps the output and says how much was left out: %v", capped)
	}
}

func TestCheckFindsDerivedKeysThatDisagreeWithRecords(t *testing.T) {
	tests := []struct {
		behaviour string
		corrupt   func(txn *badger.Txn) error
		want      string
	}{
		{"a lost reverse entry is reported", func(txn *badger.Txn) error {
			return txn.Delete(refDigestKey(digestOf("x"), "ns/is", stateConfirmed, podObject("a", "").Key, 0))
		}, "reference to " + digestOf("x") + ` in repo "ns/is" from Pod/ns/a ref 0: only in recomputed`},
		{"a stale reverse entry is reported", func(txn *badger.Txn) error {
			return txn.Set(refTagKey("ns/is", "old", stateConfirmed, podObject("a", "").Key, 1), nil)
		}, "reference to ns/is:old from Pod/ns/a ref 1: only in index"},
		{"a wrong global count is reported", func(txn *badger.Txn) error {
			return txn.Set(blobCountKey(digestOf("base")), encodeCount(5))
		}, "blob count of " + digestOf("base") + ": count: index 5, recomputed 2"},
		{"a wrong repository count is reported", func(txn *badger.Txn) error {
			return txn.Delete(repoBlobCountKey("ns/is", digestOf("app")))
		}, "blob count of " + digestOf("app") + " in repo ns/is: only in recomputed"},
		{"a lost stream item is reported", func(txn *badger.Txn) error {
			return txn.Delete(streamItemKey(digestOf("y"), "ns/is", "latest", 1))
		}, "stream item ns/is:latest[1] holds " + digestOf("y") + ": only in recomputed"},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			ix, _ := openTest(t)
			mustApply(t, ix, sampleCluster().ops()...)
			must(t, ix.db.Update(tt.corrupt))
			lines, err := ix.Check(context.Background(), filepath.Join(t.TempDir(), "scratch"))
			if err != nil {
				t.Fatal(err)
			}
			if !equalStrings(lines, []string{tt.want}) {
				t.Fatalf("got:\n%s\nwant:\n  %s", joinLines(lines), tt.want)
			}
		})
	}
}
