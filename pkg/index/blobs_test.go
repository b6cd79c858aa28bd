package index

import (
	"context"
	"reflect"
	"testing"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestGlobalBlobCounts(t *testing.T) {
	base, app, other := "base", "app", "other"
	changed := image("a", base, other)
	tests := []struct {
		behaviour string
		ops       []Op
		want      map[string]int // layer name -> global count
	}{
		{"images sharing a layer count it once each",
			[]Op{PutImage(image("a", base, app)), PutImage(image("b", base))},
			map[string]int{base: 2, app: 1, other: 0}},
		{"a layer repeated in one image counts once",
			[]Op{PutImage(image("a", base, base, base))}, map[string]int{base: 1}},
		{"deleting an image releases its layers",
			[]Op{PutImage(image("a", base, app)), PutImage(image("b", base)), DeleteImage(digestOf("a"))},
			map[string]int{base: 1, app: 0}},
		{"replacing an image moves its counts",
			[]Op{PutImage(image("a", base, app)), PutImage(changed)}, map[string]int{base: 1, app: 0, other: 1}},
		{"writing the same image twice counts it once",
			[]Op{PutImage(image("a", base)), PutImage(image("a", base))}, map[string]int{base: 1}},
		{"deleting an unknown image changes nothing",
			[]Op{PutImage(image("a", base)), DeleteImage(digestOf("zzz"))}, map[string]int{base: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			ix, _ := openTest(t)
			mustApply(t, ix, tt.ops...)
			for layer, want := range tt.want {
				if got := blobCount(t, ix, "", digestOf(layer)); got != want {
					t.Errorf("count of %s = %d, want %d", layer, got, want)
				}
			}
			mustCheck(t, ix)
		})
	}
}

func TestRepositoryBlobCounts(t *testing.T) {
	imgA, imgB := image("a", "base", "app"), image("b", "base")
	holdsAB := stream("ns", "is", map[string][]string{"latest": {"a", "b"}, "v1": {"a"}})
	holdsB := stream("ns", "is", map[string][]string{"latest": {"b"}})
	tests := []struct {
		behaviour string
		ops       []Op
		want      map[string]int // layer name -> count in ns/is
	}{
		{"a repository counts the distinct images its items hold",
			[]Op{PutImage(imgA), PutImage(imgB), PutStream(holdsAB)}, map[string]int{"base": 2, "app": 1}},
		{"images written after the stream are counted the same",
			[]Op{PutStream(holdsAB), PutImage(imgA), PutImage(imgB)}, map[string]int{"base": 2, "app": 1}},
		{"an item dropped from the stream releases its image's layers",
			[]Op{PutImage(imgA), PutImage(imgB), PutStream(holdsAB), PutStream(holdsB)},
			map[string]int{"base": 1, "app": 0}},
		{"deleting the stream releases everything",
			[]Op{PutImage(imgA), PutStream(holdsAB), DeleteStream("ns", "is")}, map[string]int{"base": 0, "app": 0}},
		{"deleting an image held by the stream releases its layers there",
			[]Op{PutImage(imgA), PutImage(imgB), PutStream(holdsAB), DeleteImage(imgA.Digest)},
			map[string]int{"base": 1, "app": 0}},
		{"an item naming an unknown image counts nothing",
			[]Op{PutStream(holdsAB)}, map[string]int{"base": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			ix, _ := openTest(t)
			mustApply(t, ix, tt.ops...)
			for layer, want := range tt.want {
				if got := blobCount(t, ix, "ns/is", digestOf(layer)); got != want {
					t.Errorf("count of %s in ns/is = %d, want %d", layer, got, want)
				}
			}
			if got := blobCount(t, ix, "ns/other", digestOf("base")); got != 0 {
				t.Errorf("another repository counts %d", got)
			}
			mustCheck(t, ix)
		})
	}
}

func TestBlobImagesListsTheImagesOfABlob(t *testing.T) {
	ix, _ := openTest(t)
	mustApply(t, ix, PutImage(image("a", "base")), PutImage(image("b", "base")), PutImage(image("c", "x")))
	got, err := ix.BlobImages(context.Background(), digestOf("base"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{digestOf("a"): true, digestOf("b"): true}
	if len(got) != 2 || !want[got[0]] || !want[got[1]] {
		t.Fatalf("got %v", got)
	}
}

func TestStreamsAndTheirItems(t *testing.T) {
	ix, _ := openTest(t)
	s := stream("ns", "is", map[string][]string{"latest": {"a", "b", "a"}, "v1": {"b"}})
	mustApply(t, ix, PutStream(s), PutStream(stream("ns2", "is", map[string][]string{"x": {"a"}})))

	items, err := ix.StreamItemsOfImage(context.Background(), "", digestOf("a"))
	if err != nil {
		t.Fatal(err)
	}
	want := []model.StreamItem{{Repo: "ns/is", Tag: "latest", Position: 0}, {Repo: "ns/is", Tag: "latest", Position: 2},
		{Repo: "ns2/is", Tag: "x", Position: 0}}
	if !reflect.DeepEqual(items, want) {
		t.Errorf("items of a in any stream: got %v, want %v", items, want)
	}
	items, _ = ix.StreamItemsOfImage(context.Background(), "ns2/is", digestOf("a"))
	if len(items) != 1 || items[0].Repo != "ns2/is" {
		t.Errorf("items of a in ns2/is: got %v", items)
	}

	got, ok, err := ix.Stream(context.Background(), "ns", "is")
	if err != nil || !ok || !reflect.DeepEqual(got, s) {
		t.Errorf("stream round trip: got %+v %v %v", got, ok, err)
	}
	var names []string
	_ = ix.Streams(context.Background(), "ns2", func(s model.Stream) error { names = append(names, s.Repo()); return nil })
	if !equalStrings(names, []string{"ns2/is"}) {
		t.Errorf("streams of ns2: %v", names)
	}
	names = nil
	_ = ix.Streams(context.Background(), "", func(s model.Stream) error { names = append(names, s.Repo()); return nil })
	if len(names) != 2 {
		t.Errorf("all streams: %v", names)
	}

	// A new item pushed on top shifts the positions of the history.
	pushed := stream("ns", "is", map[string][]string{"latest": {"c", "a", "b", "a"}, "v1": {"b"}})
	mustApply(t, ix, PutStream(pushed))
	items, _ = ix.StreamItemsOfImage(context.Background(), "ns/is", digestOf("a"))
	if len(items) != 2 || items[0].Position != 1 || items[1].Position != 3 {
		t.Errorf("after a push, a is at positions 1 and 3: got %v", items)
	}
	mustApply(t, ix, DeleteStream("ns", "is"))
	if items, _ = ix.StreamItemsOfImage(context.Background(), "ns/is", digestOf("a")); len(items) != 0 {
		t.Errorf("deleted stream still holds %v", items)
	}
	mustCheck(t, ix)
}

func TestImagesAndLimitRanges(t *testing.T) {
	ix, _ := openTest(t)
	img := sampleImage()
	mustApply(t, ix, PutImage(img), PutImage(image("b")),
		PutLimitRange(model.LimitRange{Namespace: "ns", Name: "a", MaxImageSize: 10}),
		PutLimitRange(model.LimitRange{Namespace: "ns", Name: "b", MaxImageSize: 20}),
		PutLimitRange(model.LimitRange{Namespace: "ns2", Name: "a", MaxImageSize: 30}),
		DeleteLimitRange("ns", "b"))
	got, ok, err := ix.Image(context.Background(), img.Digest)
	if err != nil || !ok || !reflect.DeepEqual(got, img) {
		t.Errorf("image round trip: got %+v %v %v", got, ok, err)
	}
	if _, ok, _ := ix.Image(context.Background(), digestOf("none")); ok {
		t.Error("an unknown image is found")
	}
	n := 0
	_ = ix.Images(context.Background(), func(model.Image) error { n++; return nil })
	if n != 2 {
		t.Errorf("Images listed %d, want 2", n)
	}
	lrs, err := ix.LimitRanges(context.Background(), "ns")
	if err != nil || len(lrs) != 1 || lrs[0].MaxImageSize != 10 {
		t.Errorf("limit ranges of ns: %+v %v", lrs, err)
	}
}

func TestAllLimitRangesListsEveryNamespace(t *testing.T) {
	ix, _ := openTest(t)
	mustApply(t, ix,
		PutLimitRange(model.LimitRange{Namespace: "ns2", Name: "a", MaxImageSize: 30}),
		PutLimitRange(model.LimitRange{Namespace: "ns", Name: "b", MaxImageSize: 20}),
		PutLimitRange(model.LimitRange{Namespace: "ns", Name: "a", MaxImageSize: 10}),
		PutLimitRange(model.LimitRange{Namespace: "gone", Name: "a", MaxImageSize: 1}),
		DeleteLimitRange("gone", "a"))
	var got []model.LimitRange
	err := ix.AllLimitRanges(context.Background(), func(l model.LimitRange) error {
		got = append(got, l)
		return nil
	})
	want := []model.LimitRange{{Namespace: "ns", Name: "a", MaxImageSize: 10},
		{Namespace: "ns", Name: "b", MaxImageSize: 20}, {Namespace: "ns2", Name: "a", MaxImageSize: 30}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}
