package audit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

func openTrail(t testing.TB, dir string) *Trail {
	t.Helper()
	tr, err := OpenTrail(TrailOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func actions(recs []Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, string(r.Action)+"@"+r.Time.Format("15:04"))
	}
	return out
}

func TestTrailRecordsInTimeOrderAndPages(t *testing.T) {
	tr := openTrail(t, t.TempDir())
	ctx := context.Background()
	// Appended out of order, and one of another image in between.
	for _, r := range []Record{
		{Time: t0.Add(2 * time.Minute), Action: ActionDeleted, Image: imgA},
		{Time: t0, Action: ActionFenced, Image: imgA},
		{Time: t0.Add(time.Minute), Action: ActionKept, Image: imgB},
		{Time: t0.Add(3 * time.Minute), Action: ActionLifted, Image: imgA},
		{Time: t0.Add(2 * time.Minute), Action: ActionDenied, Image: imgA, Actor: "alice"},
	} {
		if err := tr.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	all, next, err := tr.Records(ctx, imgA, "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "history of A", actions(all), []string{"fenced@23:00", "deleted@23:02", "denied@23:02", "lifted@23:03"})
	if next != "" {
		t.Errorf("cursor %q after the whole history", next)
	}
	var paged []Record
	cursor := ""
	for range 10 {
		page, c, err := tr.Records(ctx, imgA, cursor, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
		if cursor = c; c == "" {
			break
		}
	}
	equal(t, "pages of three", actions(paged), actions(all))
	denied, _, err := tr.Records(ctx, imgA, "", 0, func(r Record) bool { return r.Actor == "alice" })
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "filtered", actions(denied), []string{"denied@23:02"})
	if _, _, err := tr.Records(ctx, imgA, "zz", 0, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad cursor: err = %v, want ErrInvalidArgument", err)
	}
}

func TestTrailRejectsInvalidRecords(t *testing.T) {
	tr := openTrail(t, t.TempDir())
	for name, r := range map[string]Record{
		"a record needs an image":       {Time: t0, Action: ActionKept},
		"a record needs a known action": {Time: t0, Action: "vanished", Image: imgA},
		"a record needs a time":         {Action: ActionKept, Image: imgA},
	} {
		if err := tr.Append(context.Background(), r); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: err = %v, want ErrInvalidRecord", name, err)
		}
	}
}

func TestTrailExpireRemovesOnlyOlderRecords(t *testing.T) {
	tr := openTrail(t, t.TempDir())
	ctx := context.Background()
	for i := range 5 {
		if err := tr.Append(ctx, Record{Time: t0.Add(time.Duration(i) * time.Hour), Action: ActionKept, Image: imgA}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := tr.Expire(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Expire = %d, %v; want 2 removed", n, err)
	}
	left, _, err := tr.Records(ctx, imgA, "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "left", actions(left), []string{"kept@01:00", "kept@02:00", "kept@03:00"})
}

func TestTrailSurvivesAnIndexRebuildInTheSameDirectory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	ix, err := index.Open(index.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := OpenTrail(TrailOptions{Dir: TrailDir(dir)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Append(ctx, Record{Time: t0, Action: ActionDeleted, Image: imgA, Rule: "image-unused"}); err != nil {
		t.Fatal(err)
	}
	apply(t, ix, index.PutObject(pod("shop", "web-1", digestRef("app", "shop/web", imgA))))
	rb, err := ix.BeginRebuild(ctx) // wipes every index key
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(ix.Close(), tr.Close()); err != nil {
		t.Fatal(err)
	}
	ix, err = index.Open(index.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, found, _ := ix.Object(ctx, model.ObjectKey{Kind: model.KindPod, Namespace: "shop", Name: "web-1"}); found {
		t.Error("the rebuild did not wipe the index; the test proves nothing")
	}
	ro, err := OpenTrail(TrailOptions{Dir: TrailDir(dir), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	recs, _, err := ro.Records(ctx, imgA, "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Rule != "image-unused" {
		t.Errorf("trail after rebuild and reopen: %+v", recs)
	}
}

func TestHistory(t *testing.T) {
	ix := fixture(t)
	tr := openTrail(t, t.TempDir())
	ctx := context.Background()
	shopRef := model.Referrer{Object: model.ObjectKey{Kind: model.KindPod, Namespace: "shop", Name: "web-1"}}
	teamRef := model.Referrer{Object: model.ObjectKey{Kind: model.KindPod, Namespace: "team", Name: "job-1"}}
	for _, r := range []Record{
		{Time: t0, Action: ActionKept, Image: imgA, StreamItem: &model.StreamItem{Repo: "shop/web", Tag: "v1"},
			Rule: "tag-referenced", Referrers: []model.Referrer{shopRef, teamRef}},
		{Time: t0.Add(time.Minute), Action: ActionDenied, Image: imgA, Referrers: []model.Referrer{teamRef}},
		{Time: t0.Add(2 * time.Minute), Action: ActionDeleted, Image: imgA, Rule: "image-unused"},
	} {
		if err := tr.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	l := NewLocal(ix, tr)
	t.Run("a tag resolves to its current image's history", func(t *testing.T) {
		h, err := l.History(ctx, HistoryQuery{Image: "shop/web:v1"})
		if err != nil {
			t.Fatal(err)
		}
		if h.Image != imgA {
			t.Errorf("image %q, want %q", h.Image, imgA)
		}
		equal(t, "records", actions(h.Records), []string{"kept@23:00", "denied@23:01", "deleted@23:02"})
	})
	t.Run("a namespace sees its stream items' and referrers' records, with its referrers only", func(t *testing.T) {
		h, err := l.History(ctx, HistoryQuery{Image: imgA, Namespace: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "records", actions(h.Records), []string{"kept@23:00"})
		if len(h.Records[0].Referrers) != 1 || h.Records[0].Referrers[0].Object.Namespace != "shop" {
			t.Errorf("referrers not narrowed: %+v", h.Records[0].Referrers)
		}
		h, err = l.History(ctx, HistoryQuery{Image: imgA, Namespace: "team"})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "records of team", actions(h.Records), []string{"kept@23:00", "denied@23:01"})
	})
	t.Run("pages of one add up to the whole", func(t *testing.T) {
		h, err := AllHistory(ctx, l, HistoryQuery{Image: imgA}, 1)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "records", actions(h.Records), []string{"kept@23:00", "denied@23:01", "deleted@23:02"})
	})
	t.Run("without a trail history is not found", func(t *testing.T) {
		if _, err := NewLocal(ix, nil).History(ctx, HistoryQuery{Image: imgA}); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}
