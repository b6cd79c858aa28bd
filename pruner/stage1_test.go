package pruner_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// TestStage1Rules checks each stage 1 rule: which items a prune deletes, with the rule that
// deleted them, and the rule that keeps the others.
func TestStage1Rules(t *testing.T) {
	abc := func() *world { return newWorld().images(img("a", ago(old)), img("b", ago(old)), img("c", ago(old))) }
	tests := []struct {
		name        string
		world       func() *world
		wantDeleted map[string]pruner.Rule
		// keptBy maps an image name to the rule its stage 1 decision must name.
		keptBy map[string]pruner.Rule
	}{
		{
			name: "stream-younger-than: a stream created after the cutoff keeps every item",
			world: func() *world {
				return abc().keep(0).streams(stream("ns", "is", ago(fresh), tag("t", items("a", "b"))))
			},
			wantDeleted: map[string]pruner.Rule{},
			keptBy:      map[string]pruner.Rule{"a": pruner.RuleStreamYoung, "b": pruner.RuleStreamYoung},
		},
		{
			name: "item-younger-than: an item created after the cutoff is kept beyond keep-tag-revisions",
			world: func() *world {
				its := items("a", "b")
				its[1].Created = ago(fresh)
				return abc().keep(0).streams(stream("ns", "is", ago(old), tag("t", its)))
			},
			wantDeleted: map[string]pruner.Rule{"ns/is:t@a": pruner.RuleItemPrunable},
			keptBy:      map[string]pruner.Rule{"b": pruner.RuleItemYoung},
		},
		{
			name: "item-younger-than: an item created exactly at the cutoff is not younger",
			world: func() *world {
				its := items("a")
				its[0].Created = ago(time.Hour)
				return abc().keep(0).streams(stream("ns", "is", ago(old), tag("t", its)))
			},
			wantDeleted: map[string]pruner.Rule{"ns/is:t@a": pruner.RuleItemPrunable},
		},
		{
			name: "keep-tag-revisions: the newest N revisions are kept and older ones dropped",
			world: func() *world {
				return abc().keep(2).streams(stream("ns", "is", ago(old), tag("t", items("a", "b", "c"))))
			},
			wantDeleted: map[string]pruner.Rule{"ns/is:t@c": pruner.RuleItemPrunable},
			keptBy:      map[string]pruner.Rule{"a": pruner.RuleTagRevisions, "b": pruner.RuleTagRevisions},
		},
		{
			name: "tag-referenced: revision 1 of a tag a deployment uses is kept, revision 2 is not",
			world: func() *world {
				return abc().keep(0).streams(stream("ns", "is", ago(old), tag("t", items("a", "b")))).
					objects(deployment("ns", "d", tagRef("ns/is", "t")))
			},
			wantDeleted: map[string]pruner.Rule{"ns/is:t@b": pruner.RuleItemPrunable},
			keptBy:      map[string]pruner.Rule{"a": pruner.RuleTagReferenced},
		},
		{
			name: "tag-referenced: a reference to another tag of the stream protects nothing here",
			world: func() *world {
				return abc().keep(0).streams(stream("ns", "is", ago(old), tag("t", items("a")))).
					objects(deployment("ns", "d", tagRef("ns/is", "other")))
			},
			wantDeleted: map[string]pruner.Rule{"ns/is:t@a": pruner.RuleItemPrunable},
		},
		{
			name: "image-missing: an item whose Image object is gone is dropped even within keep-tag-revisions",
			world: func() *world {
				return abc().streams(stream("ns", "is", ago(old), tag("t", items("a", "gone"))))
			},
			wantDeleted: map[string]pruner.Rule{"ns/is:t@gone": pruner.RuleImageMissing},
		},
		{
			name: "digest-referenced: an item whose ns/is@digest a pod uses is kept",
			world: func() *world {
				return abc().keep(0).streams(stream("ns", "is", ago(old), tag("t", items("a", "b")))).
					objects(pod("ns", "p", "Running", ago(old), digestRef("ns/is", "b")))
			},
			wantDeleted: map[string]pruner.Rule{"ns/is:t@a": pruner.RuleItemPrunable},
			keptBy:      map[string]pruner.Rule{"b": pruner.RuleDigestReferenced},
		},
		{
			name: "digest-referenced: a reference to the digest under another repository does not keep the item",
			world: func() *world {
				return abc().keep(0).streams(stream("ns", "is", ago(old), tag("t", items("a")))).
					objects(pod("ns", "p", "Running", ago(old), digestRef("other/is", "a")))
			},
			wantDeleted: map[string]pruner.Rule{"ns/is:t@a": pruner.RuleItemPrunable},
		},
		{
			name: "digest-referenced: extra references (pruneguard only) protect like others",
			world: func() *world {
				r := digestRef("ns/is", "a")
				r.Extra = true
				return abc().keep(0).streams(stream("ns", "is", ago(old), tag("t", items("a")))).
					objects(deployment("ns", "dc", r))
			},
			wantDeleted: map[string]pruner.Rule{},
			keptBy:      map[string]pruner.Rule{"a": pruner.RuleDigestReferenced},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.world()
			got := deletedItems(w.plan(t))
			if !reflect.DeepEqual(got, tt.wantDeleted) {
				t.Errorf("deleted items = %v, want %v", got, tt.wantDeleted)
			}
			for name, rule := range tt.keptBy {
				ds := w.decisions(t, name)
				if len(ds) == 0 || ds[0].Stage != 1 || !ds[0].Keep || ds[0].Rule != rule {
					t.Errorf("stage 1 decision about %s = %+v, want kept by %s", name, ds, rule)
				}
			}
		})
	}
}

// TestPodPhaseRule checks which pods count as referrers: Running and Pending always, others
// only when created after the cutoff (at the cutoff counts too).
func TestPodPhaseRule(t *testing.T) {
	tests := []struct {
		name    string
		phase   string
		created time.Time
		kept    bool
	}{
		{"a Running pod of any age protects the tag", "Running", ago(old), true},
		{"a Pending pod of any age protects the tag", "Pending", ago(old), true},
		{"an old Succeeded pod does not protect the tag", "Succeeded", ago(old), false},
		{"an old Failed pod does not protect the tag", "Failed", ago(old), false},
		{"a Failed pod created after the cutoff protects the tag", "Failed", ago(fresh), true},
		{"a Succeeded pod created exactly at the cutoff protects the tag", "Succeeded", ago(time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld().keep(0).images(img("a", ago(old))).
				streams(stream("ns", "is", ago(old), tag("t", items("a")))).
				objects(pod("ns", "p", tt.phase, tt.created, tagRef("ns/is", "t")))
			got := deletedItems(w.plan(t))
			if kept := len(got) == 0; kept != tt.kept {
				t.Errorf("item kept = %v, want %v (deleted %v)", kept, tt.kept, got)
			}
		})
	}
}

// TestOverSizeRule checks --prune-over-size-limit: items are dropped only when their image
// exceeds the namespace's limit, whatever their revision and age.
func TestOverSizeRule(t *testing.T) {
	big, small := img("big", ago(fresh)), img("small", ago(old))
	big.Size, small.Size = 2000, 500
	build := func(limit int64) *world {
		w := newWorld().images(big, small).streams(stream("ns", "is", ago(fresh), tag("t", []model.TagItem{
			{Image: dg("big"), Created: now}, {Image: dg("small"), Created: ago(old)},
		})))
		w.opts.PruneOverSizeLimit = true
		if limit > 0 {
			w.r.AddLimitRange(model.LimitRange{Namespace: "ns", Name: "l", MaxImageSize: limit})
		}
		return w
	}
	t.Run("within-size-limit: an image above max.storage is dropped at any revision and age, one below is kept", func(t *testing.T) {
		w := build(1000)
		p := w.plan(t)
		want := map[string]pruner.Rule{"ns/is:t@big": pruner.RuleItemPrunable}
		if got := deletedItems(p); !reflect.DeepEqual(got, want) {
			t.Errorf("deleted items = %v, want %v", got, want)
		}
		if got := deletedImages(p); !reflect.DeepEqual(got, map[string]bool{"big": true}) {
			t.Errorf("deleted images = %v, want only big (over-size mode ignores image age)", got)
		}
		if ds := w.decisions(t, "small"); len(ds) == 0 || ds[0].Rule != pruner.RuleWithinSizeLimit {
			t.Errorf("decision about small = %+v, want %s", ds, pruner.RuleWithinSizeLimit)
		}
	})
	t.Run("within-size-limit: a namespace without LimitRange keeps every item", func(t *testing.T) {
		if got := deletedItems(build(0).plan(t)); len(got) != 0 {
			t.Errorf("deleted items = %v, want none", got)
		}
	})
}
