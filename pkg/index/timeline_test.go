package index

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func imagesCreatedBetween(t testing.TB, ix *Index, from, to time.Time) []string {
	t.Helper()
	var out []string
	if err := ix.ImagesCreatedBetween(context.Background(), from, to, func(d string) error {
		out = append(out, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func streamsWithItemsBetween(t testing.TB, ix *Index, from, to time.Time) []string {
	t.Helper()
	var out []string
	if err := ix.StreamsWithItemsCreatedBetween(context.Background(), from, to, func(s string) error {
		out = append(out, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// imageAt is image name created h hours after t0.
func imageAt(name string, h int) model.Image {
	img := image(name)
	img.Created = t0.Add(time.Duration(h) * time.Hour)
	return img
}

func hours(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

func TestImagesCreatedBetween(t *testing.T) {
	a, b, c := imageAt("a", 1), imageAt("b", 2), imageAt("c", 3)
	older := imageAt("older", -5)
	unknown := image("unknown")
	unknown.Created = time.Time{}
	all := []Op{PutImage(c), PutImage(a), PutImage(b), PutImage(older), PutImage(unknown)}
	tests := []struct {
		behaviour string
		ops       []Op
		from, to  time.Time
		want      []string
	}{
		{"the range is open at from and closed at to, in creation order", all, hours(1), hours(3),
			[]string{b.Digest, c.Digest}},
		{"a range holding everything lists every dated image", all, hours(-10), hours(10),
			[]string{older.Digest, a.Digest, b.Digest, c.Digest}},
		{"an empty range lists nothing", all, hours(3), hours(3), nil},
		{"a reversed range lists nothing", all, hours(3), hours(1), nil},
		{"an image moved out of the range by an update is gone", append(all, PutImage(imageAt("b", 7))),
			hours(1), hours(3), []string{c.Digest}},
		{"an image moved into the range by an update is listed", append(all, PutImage(imageAt("older", 2))),
			hours(1), hours(3), []string{b.Digest, older.Digest, c.Digest}},
		{"a deleted image is gone", append(all, DeleteImage(b.Digest)), hours(0), hours(3), []string{a.Digest, c.Digest}},
		{"an image without a creation time is in no range after 1970", all, time.Unix(0, 0), hours(10),
			[]string{older.Digest, a.Digest, b.Digest, c.Digest}},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			ix, _ := openTest(t)
			mustApply(t, ix, tt.ops...)
			if got := imagesCreatedBetween(t, ix, tt.from, tt.to); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			mustCheck(t, ix)
		})
	}
}

// streamWithItems is stream ns/name with one tag whose items were created at the given hours.
func streamWithItems(name string, hs ...int) model.Stream {
	s := model.Stream{Namespace: "ns", Name: name, Created: t0}
	tag := model.Tag{Name: "latest"}
	for i, h := range hs {
		tag.Items = append(tag.Items, model.TagItem{Image: digestOf(name + string(rune('a'+i))), Created: hours(h)})
	}
	s.Tags = []model.Tag{tag}
	return s
}

func TestStreamsWithItemsCreatedBetween(t *testing.T) {
	x := streamWithItems("x", 5, 2, 2, 1)
	y := streamWithItems("y", 3)
	z := streamWithItems("z", 9)
	all := []Op{PutStream(x), PutStream(y), PutStream(z)}
	tests := []struct {
		behaviour string
		ops       []Op
		from, to  time.Time
		want      []string
	}{
		{"each stream is listed once, by its first item in range", all, hours(1), hours(5),
			[]string{"ns/x", "ns/y"}},
		{"the range is open at from", all, hours(5), hours(9), []string{"ns/z"}},
		{"the range is closed at to", all, hours(0), hours(1), []string{"ns/x"}},
		{"a stream whose items in range were removed is gone",
			append(all, PutStream(streamWithItems("x", 5))), hours(0), hours(4), []string{"ns/y"}},
		{"a stream keeps an entry while another item has the same time",
			append(all, PutStream(streamWithItems("x", 2))), hours(1), hours(2), []string{"ns/x"}},
		{"a deleted stream is gone", append(all, DeleteStream("ns", "y")), hours(0), hours(10),
			[]string{"ns/x", "ns/z"}},
		{"an empty range lists nothing", all, hours(2), hours(2), nil},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			ix, _ := openTest(t)
			mustApply(t, ix, tt.ops...)
			if got := streamsWithItemsBetween(t, ix, tt.from, tt.to); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			mustCheck(t, ix)
		})
	}
}

func TestTimeRangeScansStopOnErrorAndCancel(t *testing.T) {
	ix, _ := openTest(t)
	mustApply(t, ix, PutImage(imageAt("a", 1)), PutImage(imageAt("b", 2)), PutStream(streamWithItems("x", 1, 2)))
	stop := errors.New("stop")
	calls := 0
	err := ix.ImagesCreatedBetween(context.Background(), hours(0), hours(5), func(string) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("an error from fn must stop the scan and be returned: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = ix.StreamsWithItemsCreatedBetween(ctx, hours(0), hours(5), func(string) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled context must stop the scan: %v", err)
	}
}

func TestTimeEntriesSurviveARebuild(t *testing.T) {
	ix, _ := openTest(t)
	ctx := context.Background()
	rb, err := ix.BeginRebuild(ctx)
	must(t, err)
	must(t, rb.PutImage(imageAt("a", 1)))
	must(t, rb.PutStream(streamWithItems("x", 2)))
	must(t, rb.Finish(ctx))
	if got := imagesCreatedBetween(t, ix, hours(0), hours(1)); !reflect.DeepEqual(got, []string{digestOf("a")}) {
		t.Fatalf("images after rebuild: %v", got)
	}
	if got := streamsWithItemsBetween(t, ix, hours(1), hours(2)); !reflect.DeepEqual(got, []string{"ns/x"}) {
		t.Fatalf("streams after rebuild: %v", got)
	}
}
