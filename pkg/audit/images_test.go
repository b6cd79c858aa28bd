package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/pruneguard/pruneguard/pkg/index"
)

func TestImages(t *testing.T) {
	ix := fixture(t)
	l := NewLocal(ix, nil)
	type row struct {
		digest    string
		referrers int
		streams   string
	}
	tests := []struct {
		name string
		q    ImagesQuery
		want []row
	}{
		{
			name: "all images with their cluster-wide referrer counts and streams",
			q:    ImagesQuery{},
			want: []row{{imgA, 2, "[shop/web]"}, {imgB, 2, "[shop/web team/tools]"}, {imgC, 1, "[shop/web]"}, {imgD, 0, "[]"}},
		},
		{
			name: "unreferenced images are those no digest and no current tag reaches",
			q:    ImagesQuery{Filter: FilterUnreferenced},
			want: []row{{imgD, 0, "[]"}},
		},
		{
			name: "referenced images",
			q:    ImagesQuery{Filter: FilterReferenced},
			want: []row{{imgA, 2, "[shop/web]"}, {imgB, 2, "[shop/web team/tools]"}, {imgC, 1, "[shop/web]"}},
		},
		{
			name: "a namespace keeps the images its streams hold and names only its streams; counts stay cluster-wide",
			q:    ImagesQuery{Namespace: "team"},
			want: []row{{imgB, 2, "[team/tools]"}},
		},
		{
			name: "a namespace without streams has no images",
			q:    ImagesQuery{Namespace: "empty"},
			want: []row{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := l.Images(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			got := []row{}
			for _, u := range res.Images {
				if u.Referenced != (u.Referrers > 0) {
					t.Errorf("%s: referenced %v with %d referrers", u.Digest, u.Referenced, u.Referrers)
				}
				got = append(got, row{u.Digest, u.Referrers, fmt.Sprint(u.Streams)})
			}
			slices.SortFunc(got, func(a, b row) int { return cmp.Compare(a.digest, b.digest) })
			slices.SortFunc(tt.want, func(a, b row) int { return cmp.Compare(a.digest, b.digest) })
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestImagesPagesFollowIndexOrder(t *testing.T) {
	ix := openIndex(t)
	// Canonical digests and one that is not (another algorithm): the index orders the latter
	// first, and pages must follow the index's order to neither skip nor repeat.
	var ops []index.Op
	want := []string{"sha512:" + digestOf("odd")[7:] + digestOf("odd")[7:]}
	ops = append(ops, index.PutImage(img(want[0])))
	for i := range 7 {
		d := digestOf(fmt.Sprint(i))
		want = append(want, d)
		ops = append(ops, index.PutImage(img(d)))
	}
	apply(t, ix, ops...)
	slices.Sort(want[1:])
	l := NewLocal(ix, nil)
	for _, size := range []int{1, 2, 3, 100} {
		res, err := AllImages(context.Background(), l, ImagesQuery{}, size)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range res.Images {
			got = append(got, u.Digest)
		}
		equal(t, fmt.Sprintf("pages of %d", size), got, want)
	}
	// A page boundary survives the deletion of the image it names.
	first, err := l.Images(context.Background(), ImagesQuery{Page: Page{Limit: 2}})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, ix, index.DeleteImage(first.Images[1].Digest))
	rest, err := l.Images(context.Background(), ImagesQuery{Page: Page{Continue: first.Continue}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Images) != len(want)-2 || rest.Images[0].Digest != want[2] {
		t.Errorf("after deleting the boundary image the next page starts at %s with %d images, want %s with %d",
			rest.Images[0].Digest, len(rest.Images), want[2], len(want)-2)
	}
}
