package index

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// recorder collects the Changes an index reports.
type recorder struct{ got []Changes }

func (r *recorder) record(c Changes) { r.got = append(r.got, c) }

// subscribe records the index's Changes until the test ends.
func subscribe(t testing.TB, ix *Index) *recorder {
	r := &recorder{}
	t.Cleanup(ix.OnCommit(r.record))
	return r
}

// withoutTime drops At so that Changes compare by content.
func withoutTime(cs []Changes) []Changes {
	var out []Changes
	for _, c := range cs {
		c.At = time.Time{}
		out = append(out, c)
	}
	return out
}

func TestEachOpReportsExactlyWhatItChanged(t *testing.T) {
	d1, d2 := digestOf("one"), digestOf("two")
	both := []string{d1, d2}
	slices.Sort(both)
	web := podObject("web", "Running", digestRef("spec.containers[a].image", "ns/is", d1),
		tagRef("spec.containers[b].image", "ns/is", "latest"))
	moved := podObject("web", "Running", digestRef("spec.containers[a].image", "ns/is", d2),
		tagRef("spec.containers[b].image", "ns/is", "stable"))
	dropped := podObject("web", "Running")
	img := image("one", "l1")
	lr := model.LimitRange{Namespace: "ns", Name: "limits", MaxImageSize: 1 << 20}
	expires := t0.Add(time.Minute)
	tests := []struct {
		behaviour string
		setup     []Op
		ops       []Op // nil: run ExpirePending at expires instead
		want      []Changes
	}{
		{"putting an object reports its digest and its tag", nil, []Op{PutObject(web)},
			[]Changes{{Digests: []string{d1}, Tags: []string{"ns/is:latest"}}}},
		{"an update that moves both references reports old and new of each", []Op{PutObject(web)},
			[]Op{PutObject(moved)}, []Changes{{Digests: both, Tags: []string{"ns/is:latest", "ns/is:stable"}}}},
		{"an update that removes both references reports them", []Op{PutObject(web)},
			[]Op{PutObject(dropped)}, []Changes{{Digests: []string{d1}, Tags: []string{"ns/is:latest"}}}},
		{"a resource-version-only update reports nothing", []Op{PutObject(web)},
			[]Op{PutObject(withVersion(web, "2"))}, nil},
		{"a phase change reports the object's references, whose values changed", []Op{PutObject(web)},
			[]Op{PutObject(podObject("web", "Succeeded", web.Refs...))},
			[]Changes{{Digests: []string{d1}, Tags: []string{"ns/is:latest"}}}},
		{"deleting an object reports its references", []Op{PutObject(web)},
			[]Op{DeleteObject(web.Key)}, []Changes{{Digests: []string{d1}, Tags: []string{"ns/is:latest"}}}},
		{"deleting an absent object reports nothing", nil, []Op{DeleteObject(web.Key)}, nil},
		{"a pending put reports its references", nil, []Op{PutPending(web, expires)},
			[]Changes{{Digests: []string{d1}, Tags: []string{"ns/is:latest"}}}},
		{"confirming another version reports the pending and the confirmed references",
			[]Op{PutPending(web, expires)}, []Op{Confirm(moved)},
			[]Changes{{Digests: both, Tags: []string{"ns/is:latest", "ns/is:stable"}}}},
		{"expiring a pending record reports its references", []Op{PutPending(web, expires)}, nil,
			[]Changes{{Digests: []string{d1}, Tags: []string{"ns/is:latest"}}}},
		{"putting an image reports its digest", nil, []Op{PutImage(img)}, []Changes{{Digests: []string{img.Digest}}}},
		{"deleting an image reports its digest", []Op{PutImage(img)}, []Op{DeleteImage(img.Digest)},
			[]Changes{{Digests: []string{img.Digest}}}},
		{"deleting an absent image reports nothing", nil, []Op{DeleteImage(img.Digest)}, nil},
		{"putting a stream reports it", nil, []Op{PutStream(stream("ns", "is", map[string][]string{"latest": {"one"}}))},
			[]Changes{{Streams: []string{"ns/is"}}}},
		{"deleting a stream reports it", []Op{PutStream(stream("ns", "is", nil))}, []Op{DeleteStream("ns", "is")},
			[]Changes{{Streams: []string{"ns/is"}}}},
		{"putting a limit range reports its namespace", nil, []Op{PutLimitRange(lr)},
			[]Changes{{LimitRangeNamespaces: []string{"ns"}}}},
		{"deleting a limit range reports its namespace", []Op{PutLimitRange(lr)}, []Op{DeleteLimitRange("ns", "limits")},
			[]Changes{{LimitRangeNamespaces: []string{"ns"}}}},
		{"deleting an absent limit range reports nothing", nil, []Op{DeleteLimitRange("ns", "limits")}, nil},
		{"one batch is one Changes with each entry once",
			nil, []Op{PutObject(web), PutPending(web, expires), PutImage(img), PutLimitRange(lr), PutLimitRange(lr)},
			[]Changes{{Digests: []string{d1}, Tags: []string{"ns/is:latest"}, LimitRangeNamespaces: []string{"ns"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			ix, _ := openTest(t)
			mustApply(t, ix, tt.setup...)
			rec := subscribe(t, ix)
			if tt.ops == nil {
				if _, err := ix.ExpirePending(context.Background(), expires); err != nil {
					t.Fatal(err)
				}
			} else {
				mustApply(t, ix, tt.ops...)
			}
			if got := withoutTime(rec.got); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestChangesCarryTheCommitTime(t *testing.T) {
	ix, clock := openTest(t)
	rec := subscribe(t, ix)
	clock.Advance(time.Hour)
	mustApply(t, ix, PutImage(image("one")))
	if len(rec.got) != 1 || !rec.got[0].At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("want one Changes at %s, got %+v", t0.Add(time.Hour), rec.got)
	}
}

func TestCancelStopsCalls(t *testing.T) {
	ix, _ := openTest(t)
	first, second := &recorder{}, &recorder{}
	cancelFirst := ix.OnCommit(first.record)
	defer ix.OnCommit(second.record)()
	mustApply(t, ix, PutImage(image("one")))
	cancelFirst()
	cancelFirst() // a second cancel is harmless
	mustApply(t, ix, PutImage(image("two")))
	if len(first.got) != 1 || len(second.got) != 2 {
		t.Fatalf("cancelled subscriber got %d calls (want 1), the other %d (want 2)", len(first.got), len(second.got))
	}
}

func TestAFailedTransactionReportsNothing(t *testing.T) {
	ix, _ := openTest(t)
	rec := subscribe(t, ix)
	good := podObject("good", "", digestRef("f", "ns/is", digestOf("good")))
	bad := podObject(strings.Repeat("x", maxKeyString+1), "", digestRef("f", "ns/is", digestOf("bad")))
	err := ix.Apply(context.Background(), PutObject(good), PutObject(bad), PutImage(image("after")))
	if !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("want ErrInvalidKey, got %v", err)
	}
	want := []Changes{{Digests: []string{digestOf("good")}}}
	if got := withoutTime(rec.got); !reflect.DeepEqual(got, want) {
		t.Fatalf("only the committed op before the failure must be reported: got %+v, want %+v", got, want)
	}
	if err := ix.Apply(context.Background(), PutObject(bad)); err == nil {
		t.Fatal("want an error")
	}
	if len(rec.got) != 1 {
		t.Fatalf("a transaction that failed alone reported %+v", rec.got[1:])
	}
}

func TestATransactionTooBigIsReportedOncePerCommit(t *testing.T) {
	ix, _ := openTest(t, func(o *Options) { o.MemTableSize = 1 << 20 })
	rec := subscribe(t, ix)
	var ops []Op
	want := map[string]bool{}
	for i := range 3000 {
		d := digestOf(fmt.Sprint("big", i))
		want[d] = true
		o := podObject(fmt.Sprint("p", i), "", digestRef("spec.containers[a].image", "ns/is", d))
		ops = append(ops, PutObject(o))
	}
	before := ix.commits.Load()
	mustApply(t, ix, ops...)
	commits := int(ix.commits.Load() - before)
	if commits < 2 || len(rec.got) != commits {
		t.Fatalf("want one Changes per commit of a split batch, got %d for %d commits", len(rec.got), commits)
	}
	seen := map[string]bool{}
	for _, c := range rec.got {
		for _, d := range c.Digests {
			if seen[d] {
				t.Fatalf("digest %s reported by two commits", d)
			}
			seen[d] = true
		}
	}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("reported %d digests, want %d", len(seen), len(want))
	}
}

func TestRebuildReportsEverythingItWrote(t *testing.T) {
	ix, _ := openTest(t)
	rec := subscribe(t, ix)
	ctx := context.Background()
	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf("ref")
	must(t, rb.PutObject(podObject("web", "", digestRef("f", "ns/is", d), tagRef("g", "ns/is", "v1"))))
	must(t, rb.PutImage(image("one")))
	must(t, rb.PutStream(stream("ns", "is", map[string][]string{"v1": {"one"}})))
	must(t, rb.PutLimitRange(model.LimitRange{Namespace: "lim", Name: "l"}))
	for i := range changesChunk {
		must(t, rb.PutImage(image(fmt.Sprint("many", i))))
	}
	if len(rec.got) != 0 {
		t.Fatalf("a rebuild reported %d Changes before it finished", len(rec.got))
	}
	must(t, rb.Finish(ctx))
	digests, union := 0, Changes{}
	for _, c := range rec.got {
		if n := len(c.Digests) + len(c.Tags) + len(c.Streams) + len(c.LimitRangeNamespaces); n > changesChunk {
			t.Fatalf("a rebuild Changes holds %d entries, more than %d", n, changesChunk)
		}
		digests += len(c.Digests)
		union.Tags = append(union.Tags, c.Tags...)
		union.Streams = append(union.Streams, c.Streams...)
		union.LimitRangeNamespaces = append(union.LimitRangeNamespaces, c.LimitRangeNamespaces...)
	}
	want := Changes{Tags: []string{"ns/is:v1"}, Streams: []string{"ns/is"}, LimitRangeNamespaces: []string{"lim"}}
	if len(rec.got) < 2 || digests != changesChunk+2 || !reflect.DeepEqual(union, want) {
		t.Fatalf("got %d Changes with %d digests (want >= 2 and %d) and %+v (want %+v)",
			len(rec.got), digests, changesChunk+2, union, want)
	}
}

func TestCheckAgreesWithTimeEntriesAfterUpdates(t *testing.T) {
	ix, _ := openTest(t)
	img := image("one")
	s := stream("ns", "is", map[string][]string{"latest": {"one", "two"}})
	mustApply(t, ix, PutImage(img), PutStream(s))
	img.Created = t0.Add(time.Hour)
	s.Tags[0].Items = s.Tags[0].Items[:1]
	mustApply(t, ix, PutImage(img), PutStream(s))
	mustCheck(t, ix)
}

func withVersion(o model.Object, rv string) model.Object {
	o.ResourceVersion = rv
	return o
}
