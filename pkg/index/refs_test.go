package index

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestObjectReferencesAreFoundByEveryKey(t *testing.T) {
	ix, _ := openTest(t)
	dA, dB := digestOf("a"), digestOf("b")
	web := podObject("web", "Running",
		digestRef("spec.containers[a].image", "ns/is", dA),
		tagRef("spec.containers[b].image", "ns/is", "v1"),
		model.Ref{FieldPath: "spec.containers[c].image", Raw: "docker.io/library/nginx@" + dB, Digest: dB},
		model.Ref{FieldPath: "spec.containers[d].image", Raw: "BAD", Invalid: "invalid reference format"})
	mustApply(t, ix, PutObject(web))

	tests := []struct {
		behaviour string
		got       []string
		want      []string
	}{
		{"a digest lookup in any repo finds the reference", referrersOfDigest(t, ix, "", dA),
			[]string{"Pod/ns/web spec.containers[a].image"}},
		{"a digest lookup in its repo finds the reference", referrersOfDigest(t, ix, "ns/is", dA),
			[]string{"Pod/ns/web spec.containers[a].image"}},
		{"a digest lookup in another repo finds nothing", referrersOfDigest(t, ix, "ns/other", dA), []string{}},
		{"a digest reference without repo is found in any repo", referrersOfDigest(t, ix, "", dB),
			[]string{"Pod/ns/web spec.containers[c].image"}},
		{"a digest reference without repo is not found under a repo", referrersOfDigest(t, ix, "library/nginx", dB), []string{}},
		{"a tag lookup finds the tag reference", referrersOfTag(t, ix, "ns/is", "v1"),
			[]string{"Pod/ns/web spec.containers[b].image"}},
		{"a tag lookup of another tag finds nothing", referrersOfTag(t, ix, "ns/is", "v10"), []string{}},
		{"a digest reference does not protect a tag", referrersOfTag(t, ix, "ns/is", "latest"), []string{}},
	}
	for _, tt := range tests {
		if !equalStrings(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.behaviour, tt.got, tt.want)
		}
	}
	got, ok, err := ix.Object(context.Background(), web.Key)
	if err != nil || !ok || len(got.Refs) != 4 || got.Refs[3].Invalid == "" {
		t.Errorf("object by key keeps all refs, invalid ones too: got %+v %v %v", got, ok, err)
	}
	mustCheck(t, ix)
}

func TestReplaceMovesReferencesAndKeepsReferrerMetadataCurrent(t *testing.T) {
	ix, clock := openTest(t)
	dOld, dNew := digestOf("old"), digestOf("new")
	mustApply(t, ix, PutObject(podObject("web", "Pending", digestRef("spec.containers[a].image", "ns/is", dOld))))
	clock.Advance(time.Hour)
	next := podObject("web", "Running", digestRef("spec.containers[a].image", "ns/is", dNew))
	next.Created = t0.Add(time.Minute)
	mustApply(t, ix, PutObject(next))

	if got := referrersOfDigest(t, ix, "", dOld); len(got) != 0 {
		t.Errorf("the old digest is no longer referenced after a replace, got %v", got)
	}
	rs, err := ix.ReferrersOfDigest(context.Background(), "", dNew)
	if err != nil || len(rs) != 1 {
		t.Fatalf("the new digest is referenced once: %v %v", rs, err)
	}
	if rs[0].Phase != "Running" || !rs[0].Created.Equal(next.Created) {
		t.Errorf("the referrer carries the replaced phase and created time, got %q %v", rs[0].Phase, rs[0].Created)
	}
	if !rs[0].Since.Equal(t0) {
		t.Errorf("Since stays when the object was first recorded, got %v", rs[0].Since)
	}

	// A status-only change rewrites no entry but is still visible through lookups.
	done := next
	done.Phase = "Succeeded"
	mustApply(t, ix, PutObject(done))
	rs, _ = ix.ReferrersOfDigest(context.Background(), "ns/is", dNew)
	if len(rs) != 1 || rs[0].Phase != "Succeeded" {
		t.Errorf("a phase-only update shows in lookups, got %+v", rs)
	}
	mustCheck(t, ix)
}

func TestDeleteObjectRemovesRecordAndEntries(t *testing.T) {
	ix, _ := openTest(t)
	d := digestOf("a")
	web := podObject("web", "Running", digestRef("f", "ns/is", d), tagRef("g", "ns/is", "latest"))
	mustApply(t, ix, PutObject(web), DeleteObject(web.Key), DeleteObject(web.Key))
	if got := referrersOfDigest(t, ix, "", d); len(got) != 0 {
		t.Errorf("digest still referenced: %v", got)
	}
	if got := referrersOfTag(t, ix, "ns/is", "latest"); len(got) != 0 {
		t.Errorf("tag still referenced: %v", got)
	}
	if _, ok, _ := ix.Object(context.Background(), web.Key); ok {
		t.Error("object still present")
	}
	st, err := ix.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for kind, n := range st.Keys {
		if kind != "meta" && n != 0 {
			t.Errorf("deleting the only object leaves %d %s keys", n, kind)
		}
	}
}

func TestObjectsListsEveryConfirmedObject(t *testing.T) {
	ix, _ := openTest(t)
	mustApply(t, ix, PutObject(podObject("a", "")), PutObject(podObject("b", "")),
		PutPending(podObject("c", ""), t0.Add(time.Hour)))
	var names []string
	err := ix.Objects(context.Background(), func(o model.Object) error {
		names = append(names, o.Key.Name)
		return nil
	})
	if err != nil || !equalStrings(names, []string{"a", "b"}) {
		t.Fatalf("got %v, %v; want confirmed objects a and b only", names, err)
	}
	stop := errors.New("stop")
	if err := ix.Objects(context.Background(), func(model.Object) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("iteration stops with fn's error, got %v", err)
	}
}

func TestApplyCommitsWhatFitsWhenATransactionGrowsTooBig(t *testing.T) {
	// A 1 MiB memtable limits a transaction to ~150 KiB, far less than these ops.
	ix, _ := openTest(t, func(o *Options) { o.MemTableSize = 1 << 20 })
	var ops []Op
	for i := range 3000 {
		name := strings.Repeat("p", 50) + string(rune('a'+i%26)) + itoa(i)
		ops = append(ops, PutObject(podObject(name, "Running",
			digestRef("spec.containers[a].image", "ns/is", digestOf(itoa(i%100))),
			tagRef("spec.containers[b].image", "ns/is", "v"+itoa(i%7)))))
	}
	mustApply(t, ix, ops...)
	if c := ix.commits.Load(); c < 2 {
		t.Fatalf("the batch was committed in %d transaction(s), want it split", c)
	}
	n := 0
	_ = ix.Objects(context.Background(), func(model.Object) error { n++; return nil })
	if n != 3000 {
		t.Fatalf("got %d objects, want all 3000", n)
	}
	if got := referrersOfDigest(t, ix, "", digestOf("7")); len(got) != 30 {
		t.Fatalf("digest 7 has %d referrers, want 30", len(got))
	}
	mustCheck(t, ix)
}

func TestApplyRejectsAnOpTooBigForAnyTransaction(t *testing.T) {
	ix, _ := openTest(t, func(o *Options) { o.MemTableSize = 1 << 20 })
	huge := podObject("huge", "Running")
	for i := range 20000 {
		huge.Refs = append(huge.Refs, digestRef("f"+itoa(i), "ns/is", digestOf(itoa(i))))
	}
	before := podObject("before", "Running", digestRef("f", "ns/is", digestOf("x")))
	after := podObject("after", "Running", digestRef("f", "ns/is", digestOf("x")))
	err := ix.Apply(context.Background(), PutObject(before), PutObject(huge), PutObject(after))
	if !errors.Is(err, badger.ErrTxnTooBig) || !strings.Contains(err.Error(), "Pod/ns/huge") {
		t.Fatalf("the error names the object and wraps ErrTxnTooBig, got %v", err)
	}
	got := referrersOfDigest(t, ix, "", digestOf("x"))
	if !equalStrings(got, []string{"Pod/ns/before f"}) {
		t.Fatalf("ops before the failing one are applied, ops after it are not: got %v", got)
	}
	if got := referrersOfDigest(t, ix, "", digestOf("1")); len(got) != 0 {
		t.Fatalf("nothing of the failing op is applied, got %v", got)
	}
	mustCheck(t, ix)
}

func TestApplyRejectsNamesThatCannotBeIndexed(t *testing.T) {
	ix, _ := openTest(t)
	long := podObject("long", "", tagRef("f", "ns/is", strings.Repeat("t", maxKeyString+1)))
	err := ix.Apply(context.Background(), PutObject(long))
	if !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("got %v, want ErrInvalidKey", err)
	}
	if got := referrersOfTag(t, ix, "ns/is", strings.Repeat("t", maxKeyString+1)); len(got) != 0 {
		t.Fatalf("an over-long lookup finds nothing, got %v", got)
	}
}

func TestApplyAfterCancelAppliesNothing(t *testing.T) {
	ix, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ix.Apply(ctx, PutObject(podObject("a", ""))); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, ok, _ := ix.Object(context.Background(), podObject("a", "").Key); ok {
		t.Fatal("object applied after cancel")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestReferrersCarryEveryFieldOfTheirReference(t *testing.T) {
	d := digestOf("a")
	refs := []model.Ref{
		{FieldPath: "spec.containers[a].image", Container: "a", Kind: model.RefDockerImage,
			Raw: "reg:5000/ns/is@" + d, Repo: "ns/is", Digest: d},
		{FieldPath: "spec.containers[b].image", Container: "b", Kind: model.RefDockerImage,
			Raw: "reg/ns/is:v1@" + d, Repo: "ns/is", Tag: "v1", Digest: d, Extra: true},
		{FieldPath: "spec.strategy.from", Kind: "CustomKind", Raw: "somewhere else", Repo: "ns/is", Digest: d},
		{FieldPath: "spec.triggers[0].from", Kind: model.RefImageStreamTag, Raw: "is:v2", Repo: "ns/is", Tag: "v2"},
		{FieldPath: "spec.containers[c].image", Kind: model.RefDockerImage, Raw: "ns/is:v2", Repo: "ns/is", Tag: "v2"},
	}
	o := model.Object{Key: model.ObjectKey{Kind: model.KindBuild, Namespace: "ns", Name: "b"}, Created: t0,
		Phase: "Complete", Refs: refs}
	ix, clock := openTest(t)
	mustApply(t, ix, PutObject(o))
	clock.Advance(time.Hour)
	mustApply(t, ix, PutPending(o, t0.Add(2*time.Hour)))
	var got []model.Referrer
	for _, lookup := range []func() ([]model.Referrer, error){
		func() ([]model.Referrer, error) { return ix.ReferrersOfDigest(context.Background(), "", d) },
		func() ([]model.Referrer, error) { return ix.ReferrersOfTag(context.Background(), "ns/is", "v2") },
	} {
		rs, err := lookup()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rs...)
	}
	var want []model.Referrer
	for _, pending := range []bool{false, true} {
		since := t0
		if pending {
			since = t0.Add(time.Hour)
		}
		for _, r := range refs {
			want = append(want, model.Referrer{Object: o.Key, Created: t0, Phase: "Complete", Ref: r,
				Pending: pending, Since: since})
		}
	}
	key := func(r model.Referrer) string { return fmt.Sprintf("%v %s", r.Pending, r.Ref.FieldPath) }
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestReferrersFollowPhaseChangesOfTheirObject(t *testing.T) {
	ix, _ := openTest(t)
	o := podObject("web", "Running", digestRef("f", "ns/is", digestOf("a")))
	mustApply(t, ix, PutObject(o))
	o.Phase = "Succeeded"
	mustApply(t, ix, PutObject(o))
	rs, err := ix.ReferrersOfDigest(context.Background(), "", digestOf("a"))
	if err != nil || len(rs) != 1 || rs[0].Phase != "Succeeded" {
		t.Fatalf("want the referrer in its new phase, got %+v, %v", rs, err)
	}
	mustCheck(t, ix)
}
