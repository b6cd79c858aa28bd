package audit

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestReferrers(t *testing.T) {
	ix := fixture(t)
	l := NewLocal(ix, nil)
	tests := []struct {
		name      string
		q         ImageQuery
		wantImage string
		wantTag   string
		want      []string
		wantItems []model.StreamItem
	}{
		{
			name:      "a digest lists its digest referrers and the referrers of the tag whose current item it is",
			q:         ImageQuery{Image: imgA},
			wantImage: imgA,
			want:      []string{"Pod/shop/web-1 app confirmed digest", "Pod/shop/web-1 sidecar confirmed tag"},
			wantItems: []model.StreamItem{{Repo: "shop/web", Tag: "v1", Position: 0}},
		},
		{
			name:      "a tag that holds the image only at an older position does not reach it; pending references are marked",
			q:         ImageQuery{Image: imgB},
			wantImage: imgB,
			want:      []string{"Pod/team/job-1 run confirmed digest", "Pod/team/pending-1 tool pending tag"},
			wantItems: []model.StreamItem{{Repo: "shop/web", Tag: "v1", Position: 1}, {Repo: "team/tools", Tag: "latest", Position: 0}},
		},
		{
			name:      "NAMESPACE/STREAM:TAG stands for the tag and its current image",
			q:         ImageQuery{Image: "shop/web:v1"},
			wantImage: imgA,
			wantTag:   "shop/web:v1",
			want:      []string{"Pod/shop/web-1 app confirmed digest", "Pod/shop/web-1 sidecar confirmed tag"},
			wantItems: []model.StreamItem{{Repo: "shop/web", Tag: "v1", Position: 0}},
		},
		{
			name:    "a pull spec naming a tag that holds no image lists the tag's referrers, the registry host ignored",
			q:       ImageQuery{Image: "quay.io/shop/web:v9"},
			wantTag: "shop/web:v9",
			want:    []string{"Pod/shop/ghost app confirmed tag"},
		},
		{
			name:      "a pull spec with a digest names that digest under any repository",
			q:         ImageQuery{Image: registry + "elsewhere/x@" + imgA},
			wantImage: imgA,
			want:      []string{"Pod/shop/web-1 app confirmed digest", "Pod/shop/web-1 sidecar confirmed tag"},
			wantItems: []model.StreamItem{{Repo: "shop/web", Tag: "v1", Position: 0}},
		},
		{
			name:      "a namespace keeps only the referrers and stream items of that namespace",
			q:         ImageQuery{Image: imgB, Namespace: "shop"},
			wantImage: imgB,
			want:      []string{},
			wantItems: []model.StreamItem{{Repo: "shop/web", Tag: "v1", Position: 1}},
		},
		{
			name:      "an image nothing references has no referrers",
			q:         ImageQuery{Image: imgD},
			wantImage: imgD,
			want:      []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := l.Referrers(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if res.Image != tt.wantImage || res.Tag != tt.wantTag {
				t.Errorf("image, tag = %q, %q; want %q, %q", res.Image, res.Tag, tt.wantImage, tt.wantTag)
			}
			equal(t, "referrers", referrerNames(res.Referrers), tt.want)
			if len(res.StreamItems) != len(tt.wantItems) {
				t.Fatalf("stream items %v, want %v", res.StreamItems, tt.wantItems)
			}
			for i := range res.StreamItems {
				if res.StreamItems[i] != tt.wantItems[i] {
					t.Errorf("stream items %v, want %v", res.StreamItems, tt.wantItems)
				}
			}
		})
	}
}

func TestReferrersCarrySinceAndReference(t *testing.T) {
	ix := fixture(t)
	res, err := NewLocal(ix, nil).Referrers(context.Background(), ImageQuery{Image: imgA})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Referrers[0]
	if !r.Since.Equal(t0) || !r.Created.Equal(t0) || r.Reference != registry+"shop/web@"+imgA ||
		r.FieldPath != "spec.containers[app].image" || r.Phase != "Running" {
		t.Errorf("referrer %+v lacks the object's metadata", r)
	}
}

func TestInvalidArguments(t *testing.T) {
	l := NewLocal(fixture(t), nil)
	ctx := context.Background()
	for name, run := range map[string]func() error{
		"a name without namespace names no stream": func() error { _, err := l.Referrers(ctx, ImageQuery{Image: "nginx"}); return err },
		"a short digest is not a digest":           func() error { _, err := l.Referrers(ctx, ImageQuery{Image: "sha256:abc"}); return err },
		"an upper-case name is not a reference":    func() error { _, err := l.Referrers(ctx, ImageQuery{Image: "Shop/Web:v1"}); return err },
		"an object key needs two or three parts":   func() error { _, err := l.ObjectImages(ctx, ObjectQuery{Object: "Pod"}); return err },
		"an object key has no empty parts":         func() error { _, err := l.ObjectImages(ctx, ObjectQuery{Object: "Pod//x"}); return err },
		"a filter is one of three":                 func() error { _, err := l.Images(ctx, ImagesQuery{Filter: "some"}); return err },
		"a continue token is one we issued": func() error {
			_, err := l.Referrers(ctx, ImageQuery{Image: imgA, Page: Page{Limit: 1, Continue: "bogus!"}})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := run(); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestReferrersPages(t *testing.T) {
	ix := fixture(t)
	l := NewLocal(ix, nil)
	ctx := context.Background()
	full, err := l.Referrers(ctx, ImageQuery{Image: imgB})
	if err != nil {
		t.Fatal(err)
	}
	paged, err := AllReferrers(ctx, l, ImageQuery{Image: imgB}, 1)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "pages of one", referrerNames(paged.Referrers), referrerNames(full.Referrers))
	first, err := l.Referrers(ctx, ImageQuery{Image: imgB, Page: Page{Limit: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Referrers) != 1 || first.Continue == "" {
		t.Fatalf("first page %+v: want one referrer and a token", first)
	}
	last, err := l.Referrers(ctx, ImageQuery{Image: imgB, Page: Page{Limit: 1, Continue: first.Continue}})
	if err != nil {
		t.Fatal(err)
	}
	if len(last.Referrers) != 1 || last.Continue != "" {
		t.Errorf("last page %+v: want one referrer and no token", last)
	}
}

func TestObjectImages(t *testing.T) {
	ix := fixture(t)
	ctx := context.Background()
	type row struct{ field, digest, by, note string }
	rows := func(res *ObjectImages) []row {
		var out []row
		for _, im := range res.Images {
			out = append(out, row{im.FieldPath, im.Digest, im.ResolvedBy, im.Note})
		}
		return out
	}
	tests := []struct {
		name    string
		object  string
		canRead func(context.Context, string) bool
		want    []row
	}{
		{
			name:   "a digest reference resolves to itself, a tag through the stream's current item",
			object: "Pod/shop/web-1",
			want: []row{{"spec.containers[app].image", imgA, "digest", ""},
				{"spec.containers[sidecar].image", imgA, "shop/web:v1", ""}},
		},
		{
			name:   "a tag that holds no image stays unresolved and says so; the kind is matched without case",
			object: "pod/shop/ghost",
			want:   []row{{"spec.containers[app].image", "", "", "image stream tag shop/web:v9 holds no image"}},
		},
		{
			name:    "a tag in a namespace the caller may not read is not resolved",
			object:  "Pod/shop/web-2",
			canRead: func(context.Context, string) bool { return false },
			want:    []row{{"spec.containers[app].image", "", "", "not resolved: you may not read image streams in namespace shop"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLocal(ix, nil)
			l.canRead = tt.canRead
			res, err := l.ObjectImages(ctx, ObjectQuery{Object: tt.object})
			if err != nil {
				t.Fatal(err)
			}
			got := rows(res)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("row %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	t.Run("a resolved image the index holds is known", func(t *testing.T) {
		res, err := NewLocal(ix, nil).ObjectImages(ctx, ObjectQuery{Object: "Pod/shop/web-1"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Images[0].Known {
			t.Errorf("image %s not known", res.Images[0].Digest)
		}
	})
	t.Run("an object the index lacks is not found", func(t *testing.T) {
		_, err := NewLocal(ix, nil).ObjectImages(ctx, ObjectQuery{Object: "Pod/shop/nope"})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("every confirmed row says so", func(t *testing.T) {
		res, err := NewLocal(ix, nil).ObjectImages(ctx, ObjectQuery{Object: "Pod/shop/web-1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range res.Images {
			if im.State != StateConfirmed || !im.Since.IsZero() {
				t.Errorf("%s: state %q since %v", im.FieldPath, im.State, im.Since)
			}
		}
	})
	t.Run("pages of one reference add up to the whole", func(t *testing.T) {
		res, err := AllObjectImages(ctx, NewLocal(ix, nil), ObjectQuery{Object: "Pod/shop/web-1"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Images) != 2 || res.Images[1].FieldPath != "spec.containers[sidecar].image" {
			t.Errorf("paged %+v", res.Images)
		}
	})
}

func TestObjectImagesListPendingReferences(t *testing.T) {
	recorded := t0.Add(time.Minute)
	ix2, err := index.Open(index.Options{Dir: t.TempDir(), Now: func() time.Time { return recorded }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix2.Close() })
	// web-2 is confirmed with app → shop/web:v2; its admitted update adds an init container.
	apply(t, ix2,
		index.PutImage(img(imgB)), index.PutImage(img(imgC)),
		index.PutStream(stream("shop", "web", map[string][]string{"v1": {imgA, imgB}, "v2": {imgC}})),
		index.PutStream(stream("team", "tools", map[string][]string{"latest": {imgB}})),
		index.PutObject(pod("shop", "web-2", tagRef("app", "shop/web", "v2"))),
		index.PutPending(pod("shop", "web-2", tagRef("app", "shop/web", "v2"), digestRef("init", "shop/web", imgB)), t0.Add(time.Hour)),
		index.PutPending(pod("team", "pending-1", tagRef("tool", "team/tools", "latest")), t0.Add(time.Hour)),
	)
	ctx := context.Background()
	type row struct{ container, state, digest, by string }
	for _, tt := range []struct {
		name   string
		object string
		want   []row
	}{
		{"an object only admitted so far is found, its references pending and resolved",
			"Pod/team/pending-1", []row{{"tool", StatePending, imgB, "team/tools:latest"}}},
		{"an object with an admitted update lists its confirmed references, then the pending version's",
			"Pod/shop/web-2", []row{{"app", StateConfirmed, imgC, "shop/web:v2"},
				{"app", StatePending, imgC, "shop/web:v2"}, {"init", StatePending, imgB, "digest"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := AllObjectImages(ctx, NewLocal(ix2, nil), ObjectQuery{Object: tt.object}, 1)
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			for _, im := range res.Images {
				got = append(got, row{im.Container, im.State, im.Digest, im.ResolvedBy})
				if im.State == StatePending && !im.Since.Equal(recorded) {
					t.Errorf("%s: since %v, want the time of the pending record %v", im.Container, im.Since, recorded)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	t.Run("a reader without pending records answers with the confirmed state", func(t *testing.T) {
		res, err := NewLocal(confirmedOnly{ix2}, nil).ObjectImages(ctx, ObjectQuery{Object: "Pod/shop/web-2"})
		if err != nil || len(res.Images) != 1 || res.Images[0].State != StateConfirmed {
			t.Errorf("got %+v, %v", res, err)
		}
		if _, err := NewLocal(confirmedOnly{ix2}, nil).ObjectImages(ctx, ObjectQuery{Object: "Pod/team/pending-1"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("a pending-only object through a reader without pending records: %v, want ErrNotFound", err)
		}
	})
}

// confirmedOnly hides the index's pending records, as the temporary index of a dump has none.
type confirmedOnly struct{ model.Reader }
