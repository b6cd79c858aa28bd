package index

import (
	"testing"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestRefFormsRoundTrip(t *testing.T) {
	const internal = "image-registry.openshift-image-registry.svc:5000"
	d := digestOf("a")
	cases := []struct {
		name    string
		ref     model.Ref
		maxSize int // encoded reverse-entry value, at most (the object's fields are not in it)
	}{
		{"a pod container path and the internal registry take a byte each",
			model.Ref{FieldPath: "spec.containers[app].image", Container: "app", Kind: model.RefDockerImage,
				Raw: internal + "/ns/is@" + d, Repo: "ns/is", Digest: d}, 9},
		{"a cron job init container path is coded",
			model.Ref{FieldPath: "spec.jobTemplate.spec.template.spec.initContainers[i].image", Container: "i",
				Raw: "quay.io/ns/is:v1", Repo: "ns/is", Tag: "v1"}, 16},
		{"a container path under an unknown list keeps the list only",
			model.Ref{FieldPath: "spec.other[c].image", Container: "c", Raw: "x/ns/is@" + d, Repo: "ns/is", Digest: d}, 21},
		{"a path that names another container is verbatim",
			model.Ref{FieldPath: "spec.containers[b].image", Container: "c", Raw: "x", Repo: "ns/is", Digest: d}, 36},
		{"a path without a container is verbatim",
			model.Ref{FieldPath: "spec.strategy.sourceStrategy.from", Raw: "ns/is:latest", Repo: "ns/is", Tag: "latest",
				Kind: model.RefImageStreamTag}, 46},
		{"a container whose name ends a coded list is not confused with it",
			model.Ref{FieldPath: "spec.containers[s].image", Container: "ers[s", Raw: "docker.io", Repo: "ns/is", Digest: d}, 40},
		{"a host-like prefix of a longer stored part is verbatim",
			model.Ref{FieldPath: "f", Raw: "docker.io.evil/ns/is@" + d, Repo: "ns/is", Digest: d}, 36},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := storedObject{Object: model.Object{Key: pod, Created: t0, Phase: "Running", Refs: []model.Ref{c.ref}}, Since: t0}
			back, err := decodeObject(pod, encodeObject(o))
			if err != nil || back.Refs[0] != c.ref {
				t.Fatalf("object record: got %+v, %v; want %+v", back.Refs, err, c.ref)
			}
			p, err := parseKey(refEntry(stateConfirmed, pod, 0, c.ref))
			if err != nil {
				t.Fatal(err)
			}
			val := encodeRefValue(&o.Refs[0])
			r, err := decodeRefValue(&p, val)
			if err != nil || r.Ref != c.ref {
				t.Fatalf("reverse entry: got %+v, %v; want %+v", r.Ref, err, c.ref)
			}
			if len(val) > c.maxSize {
				t.Errorf("reverse entry value takes %d bytes, want at most %d", len(val), c.maxSize)
			}
		})
	}
}

func TestRefFormsRejectNonCanonicalEncodings(t *testing.T) {
	cases := []struct {
		name string
		val  recordWriter
		read func(r *recordReader)
	}{
		{"a coded path stored verbatim is corrupt",
			recordWriter(nil).u8(fieldPathVerbatim).str("spec.containers[c].image"),
			func(r *recordReader) { r.fieldPath("c") }},
		{"a coded list stored as a container path is corrupt",
			recordWriter(nil).u8(fieldPathContainer).str("spec.containers"),
			func(r *recordReader) { r.fieldPath("c") }},
		{"a coded path without a container is corrupt",
			recordWriter(nil).u8(1), func(r *recordReader) { r.fieldPath("") }},
		{"an unknown path code is corrupt",
			recordWriter(nil).u8(200), func(r *recordReader) { r.fieldPath("c") }},
		{"a known host stored verbatim is corrupt",
			recordWriter(nil).u8(rawVerbatim).str("quay.io"), func(r *recordReader) { r.rawHost() }},
		{"an unknown host code is corrupt",
			recordWriter(nil).u8(rawVerbatim | 30<<3), func(r *recordReader) { r.rawHost() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recordReader{b: c.val}
			c.read(r)
			if !r.bad {
				t.Fatalf("decoded %x without complaint", []byte(c.val))
			}
		})
	}
}
