package index

import (
	"reflect"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestStreamDecodeKeepsEveryForm(t *testing.T) {
	d := digestOf("x")
	cases := []struct {
		name string
		item model.TagItem
	}{
		{"a spec ending in @digest (the elided form)", model.TagItem{Image: d, DockerImageReference: "reg/ns/is@" + d, Generation: 4}},
		{"a spec naming a tag", model.TagItem{Image: d, DockerImageReference: "reg/ns/is:v1", Generation: -2}},
		{"a spec naming another digest", model.TagItem{Image: d, DockerImageReference: "reg/ns/is@" + digestOf("y")}},
		{"a non-sha256 digest", model.TagItem{Image: "sha512:abc", DockerImageReference: "r@sha512:abc"}},
		{"an item without digest or spec", model.TagItem{}},
		{"a spec that is only @digest", model.TagItem{Image: d, DockerImageReference: "@" + d}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.item.Created = t0
			want := model.Stream{Namespace: "ns", Name: "is", Created: t0, ResourceVersion: "9",
				Tags: []model.Tag{{Name: "a", Items: []model.TagItem{c.item, c.item}}, {Name: "empty"}}}
			got, err := decodeStream("ns", "is", encodeStream(want))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

func TestStreamDecodeResultsDoNotAlias(t *testing.T) {
	a := sampleStream()
	b := model.Stream{Namespace: "ns", Name: "other", Created: t0.Add(time.Hour), ResourceVersion: "1",
		Tags: []model.Tag{{Name: "zzz", Items: []model.TagItem{{Image: digestOf("q"), DockerImageReference: "x@" + digestOf("q")}}}}}
	val := encodeStream(a)
	first, err := decodeStream("ns", "is", val)
	must(t, err)
	// A second decode reuses the scratch buffer, and the record's bytes may be reused by
	// Badger once the transaction ends: neither may change the first result.
	if _, err := decodeStream("ns", "other", encodeStream(b)); err != nil {
		t.Fatal(err)
	}
	clear(val)
	if !reflect.DeepEqual(first, a) {
		t.Fatalf("first result changed to %+v, want %+v", first, a)
	}
}

func TestStreamDecodeRejectsNonCanonicalSpecs(t *testing.T) {
	d := digestOf("x")
	head := func() recordWriter { return recordWriter(nil).time(t0).str("1").uvarint(1).str("t").uvarint(1) }
	// The long form of a digest spelled out: digestRaw, a uint16 length, the text.
	long := append(append(head().u8(digestRaw), 0, byte(len(d))), d...)
	cases := []struct {
		name string
		val  []byte
	}{
		{"a verbatim spec ending in @digest", head().digest(d).time(t0).u8(0).str("reg/ns/is@" + d).varint(0)},
		{"an elided spec without a digest", head().digest("").time(t0).u8(1).str("reg/ns/is").varint(0)},
		{"a sha256 digest in the long form", long.time(t0).u8(0).str("r").varint(0)},
		{"an unknown digest form", head().u8(7).time(t0).u8(0).str("r").varint(0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if s, err := decodeStream("ns", "is", c.val); err == nil {
				t.Fatalf("decoded %+v without complaint", s)
			}
		})
	}
}

// BenchmarkDecodeStream decodes a stream of two tags with 50 history items each, the shape
// the planner reads for every stream.
func BenchmarkDecodeStream(b *testing.B) {
	s := model.Stream{Namespace: "ns-1", Name: "is-1", Created: t0, ResourceVersion: "12345"}
	for _, tag := range []string{"latest", "stable"} {
		t := model.Tag{Name: tag}
		for i := range 50 {
			d := benchDigest(tag, i)
			t.Items = append(t.Items, model.TagItem{Image: d, Created: t0, Generation: int64(i),
				DockerImageReference: "image-registry.openshift-image-registry.svc:5000/ns-1/is-1@" + d})
		}
		s.Tags = append(s.Tags, t)
	}
	val := encodeStream(s)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := decodeStream("ns-1", "is-1", val); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/item")
}
