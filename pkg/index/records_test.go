package index

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func sampleObject() storedObject {
	return storedObject{
		Object: model.Object{Key: pod, UID: "u-1", ResourceVersion: "42", Created: t0, Phase: "Running",
			Refs: []model.Ref{
				{FieldPath: "spec.containers[app].image", Container: "app", Kind: model.RefDockerImage,
					Raw: "reg/ns/is@" + digestOf("a"), Repo: "ns/is", Digest: digestOf("a")},
				{FieldPath: "spec.initContainers[x].image", Kind: model.RefDockerImage, Raw: "Bad Ref",
					Invalid: "invalid reference format"},
				{FieldPath: "spec.ephemeralContainers[d].image", Raw: "reg/ns/is:v1", Repo: "ns/is", Tag: "v1", Extra: true},
			}},
		Since:   t0.Add(time.Minute),
		Expires: t0.Add(time.Hour),
	}
}

func sampleImage() model.Image {
	return model.Image{Digest: digestOf("img"), Created: t0, Managed: true,
		DockerImageReference: "reg/ns/is@" + digestOf("img"), ManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
		Size: 1234, Layers: []model.Blob{{Digest: digestOf("l1"), Size: 10, MediaType: "m"}, {Digest: digestOf("l2"), Size: 20}},
		Config: digestOf("cfg"), Children: []string{digestOf("c1"), digestOf("c2")}}
}

func sampleStream() model.Stream {
	return model.Stream{Namespace: "ns", Name: "is", Created: t0, ResourceVersion: "7", Tags: []model.Tag{
		{Name: "latest", Items: []model.TagItem{{Image: digestOf("a"), Created: t0, DockerImageReference: "r", Generation: 3},
			{Image: digestOf("b"), Created: t0.Add(-time.Hour)}}},
		{Name: "empty"},
	}}
}

func TestRecordsRoundTrip(t *testing.T) {
	t.Run("an object record keeps every field", func(t *testing.T) {
		want := sampleObject()
		got, err := decodeObject(want.Key, encodeObject(want))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("an object without refs or times decodes with nil refs and zero times", func(t *testing.T) {
		want := storedObject{Object: model.Object{Key: pod}}
		got, err := decodeObject(pod, encodeObject(want))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("an image record keeps every field", func(t *testing.T) {
		want := sampleImage()
		got, err := decodeImage(want.Digest, encodeImage(want))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("a stream record keeps tags, items and empty tags", func(t *testing.T) {
		want := sampleStream()
		got, err := decodeStream("ns", "is", encodeStream(want))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("a limit range keeps its size", func(t *testing.T) {
		want := model.LimitRange{Namespace: "ns", Name: "lr", MaxImageSize: 1 << 30}
		got, err := decodeLimitRange("ns", "lr", encodeLimitRange(want))
		if err != nil || got != want {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("times in another zone come back as the same instant", func(t *testing.T) {
		local := t0.In(time.FixedZone("x", 3600))
		o := storedObject{Object: model.Object{Key: pod, Created: local}}
		got, _ := decodeObject(pod, encodeObject(o))
		if !got.Created.Equal(local) {
			t.Fatalf("created %v, want %v", got.Created, local)
		}
	})
}

func TestRecordsAreCompact(t *testing.T) {
	img := sampleImage()
	plain := 0
	for _, l := range img.Layers {
		plain += len(l.Digest) + len(l.MediaType)
	}
	plain += len(img.DockerImageReference) + len(img.ManifestMediaType) + len(img.Config) + len(img.Children)*71
	if got := len(encodeImage(img)); got >= plain {
		t.Errorf("an image record takes %d bytes, no fewer than its strings (%d)", got, plain)
	}
	// Uncommon forms still round-trip: a pull spec naming another digest, an unknown media
	// type, a non-sha256 digest.
	odd := model.Image{Digest: "sha512:abc", DockerImageReference: "reg/a/b@" + digestOf("other"),
		ManifestMediaType: "application/x-custom", Layers: []model.Blob{{Digest: "sha256:ABC", MediaType: ""}}}
	got, err := decodeImage(odd.Digest, encodeImage(odd))
	if err != nil || !reflect.DeepEqual(got, odd) {
		t.Errorf("got %+v, %v; want %+v", got, err, odd)
	}
	spec := model.Ref{Raw: "@" + digestOf("a"), Digest: digestOf("a")}
	o := storedObject{Object: model.Object{Key: pod, Refs: []model.Ref{spec}}}
	if back, err := decodeObject(pod, encodeObject(o)); err != nil || back.Refs[0].Raw != spec.Raw {
		t.Errorf("a pull spec that is only @digest round-trips: %+v %v", back.Refs, err)
	}
}

func TestRecordsRejectCorruptValues(t *testing.T) {
	obj := encodeObject(sampleObject())
	img := encodeImage(sampleImage())
	tests := []struct {
		behaviour string
		decode    func() error
	}{
		{"a truncated object is an error", func() error { _, err := decodeObject(pod, obj[:len(obj)-1]); return err }},
		{"an object with trailing bytes is an error", func() error { _, err := decodeObject(pod, append(obj, 0)); return err }},
		{"a huge ref count is an error, not an allocation", func() error {
			b := append(encodeObject(storedObject{}), 0)[:0]
			b = recordWriter(b).time(time.Time{}).time(time.Time{}).str("").str("").time(time.Time{}).str("").uvarint(1 << 31)
			_, err := decodeObject(pod, b)
			return err
		}},
		{"a truncated image is an error", func() error { _, err := decodeImage("d", img[:10]); return err }},
		{"an empty stream value is an error", func() error { _, err := decodeStream("a", "b", nil); return err }},
		{"an empty counter is an error", func() error { _, err := decodeCount(nil); return err }},
		{"a counter with trailing bytes is an error", func() error { _, err := decodeCount([]byte{1, 0}); return err }},
		{"a counter in a longer encoding than needed is an error", func() error {
			_, err := decodeCount([]byte{0x81, 0x00})
			return err
		}},
		{"a string length past the end is an error", func() error {
			_, err := decodeRefValue(&parsedKey{Prefix: prefixRefTag}, recordWriter(nil).uvarint(200))
			return err
		}},
		{"a pull spec in a form its match keys do not allow is an error", func() error {
			ref := model.Ref{Raw: "x:v1", Tag: "v1"}
			b := encodeRefValue(&ref)
			b[len(b)-1-1-len("x")-1] = rawRepoTag // the form byte; this tag entry has no repo
			_, err := decodeRefValue(&parsedKey{Prefix: prefixRefTag, Tag: "v1"}, b)
			return err
		}},
		{"a pull spec stored verbatim that has a shorter form is an error", func() error {
			ref := model.Ref{Raw: "x:v1", Tag: "v1"}
			b := recordWriter(nil).str("").str("").refKind("")
			b = b.u8(rawVerbatim).str("x:v1").bool(false)
			_, err := decodeRefValue(&parsedKey{Prefix: prefixRefTag, Tag: ref.Tag}, b)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			if tt.decode() == nil {
				t.Fatal("decoded without error")
			}
		})
	}
}

// FuzzDecodeRecords: decoding arbitrary bytes as any record never panics, and what decodes
// re-encodes to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(encodeObject(sampleObject()))
	f.Add(encodeImage(sampleImage()))
	f.Add(encodeStream(sampleStream()))
	o := sampleObject()
	for i := range o.Refs {
		f.Add(encodeRefValue(&o.Refs[i]))
	}
	digestEntry := parsedKey{Prefix: prefixRefDigest, Digest: digestOf("a"), Repo: "ns/is", Object: pod}
	tagEntry := parsedKey{Prefix: prefixRefTag, Repo: "ns/is", Tag: "v1", Object: pod}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range []parsedKey{digestEntry, tagEntry} {
			r, err := decodeRefValue(&p, b)
			if err != nil {
				continue
			}
			if string(encodeRefValue(&r.Ref)) != string(b) {
				t.Errorf("reference entry value re-encodes differently")
			}
		}
		if o, err := decodeObject(pod, b); err == nil && string(encodeObject(o)) != string(b) {
			t.Errorf("object re-encodes differently")
		}
		if img, err := decodeImage("d", b); err == nil && string(encodeImage(img)) != string(b) {
			t.Errorf("image re-encodes differently")
		}
		if s, err := decodeStream("a", "b", b); err == nil && string(encodeStream(s)) != string(b) {
			t.Errorf("stream re-encodes differently")
		}
	})
}

// Each reference of an object record is a segment with its length, short (one length byte) or
// long (two or more): recordRefs splits them without decoding and each decodes on its own.
func TestObjectRecordReferenceSegments(t *testing.T) {
	o := sampleObject()
	long := digestRef("spec.containers[c].image", "ns/"+strings.Repeat("n", 300), digestOf("long"))
	long.Raw = "reg/" + long.Repo + "@" + long.Digest + "-not-a-canonical-form" // stored verbatim
	o.Refs = append(o.Refs, long)
	rec := encodeObject(o)
	back, err := decodeObject(o.Key, rec)
	if err != nil || !reflect.DeepEqual(back, o) {
		t.Fatalf("round trip: got %+v, %v", back, err)
	}
	st, segs, ok := recordRefs(rec, nil)
	if !ok || len(segs) != len(o.Refs) {
		t.Fatalf("want %d segments, got %d (ok %v)", len(o.Refs), len(segs), ok)
	}
	if st.phase != o.Phase || st.created != o.Created.UnixNano() || st.since != o.Since.UnixNano() {
		t.Errorf("head: got %+v", st)
	}
	if len(segs[3]) < 300 || segs[3][0] < 0x80 {
		t.Errorf("the long reference has a one-byte length: %d bytes, first %#x", len(segs[3]), segs[3][0])
	}
	for i, seg := range segs {
		ref, err := decodeRefSegment(seg)
		if err != nil || ref != o.Refs[i] {
			t.Errorf("segment %d: got %+v, %v; want %+v", i, ref, err, o.Refs[i])
		}
	}
	for _, cut := range []int{1, len(segs[3]) / 2} {
		if _, _, ok := recordRefs(rec[:len(rec)-cut], nil); ok {
			t.Errorf("a record cut %d bytes short splits without error", cut)
		}
	}
	// A segment whose length claims fewer bytes than its reference takes is corrupt.
	bad := append([]byte(nil), rec...)
	bad[len(rec)-len(segs[3])-len(segs[2])]-- // segment 2's one-byte length
	if _, err := decodeObject(o.Key, bad); err == nil {
		t.Error("a segment length one short decodes")
	}
}
