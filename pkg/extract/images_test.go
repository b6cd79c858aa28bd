package extract

import (
	"reflect"
	"strings"
	"testing"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func image(mediaType string, metadata runtime.RawExtension) *imagev1.Image {
	return &imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: digestA, CreationTimestamp: metav1.NewTime(created),
			Annotations: map[string]string{imagev1.ManagedByOpenShiftAnnotation: "true"}},
		DockerImageReference:         host + "/ns/x@" + digestA,
		DockerImageManifestMediaType: mediaType,
		DockerImageMetadata:          metadata,
		DockerImageLayers: []imagev1.ImageLayer{
			{Name: "sha256:l1", LayerSize: 1000, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
			{Name: "sha256:l2", LayerSize: 2000, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"},
		},
	}
}

func rawMeta(s string) runtime.RawExtension { return runtime.RawExtension{Raw: []byte(s)} }

func TestImage(t *testing.T) {
	layers := []model.Blob{
		{Digest: "sha256:l1", Size: 1000, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
		{Digest: "sha256:l2", Size: 2000, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"},
	}
	base := model.Image{Digest: digestA, Name: digestA, Created: created, Managed: true, DockerImageReference: host + "/ns/x@" + digestA, Layers: layers}
	with := func(f func(*model.Image)) model.Image { m := base; f(&m); return m }
	for _, tc := range []struct {
		name string
		img  *imagev1.Image
		want model.Image
	}{
		{"a schema 2 image's config is the metadata Id",
			image(mediaTypeDockerSchema2, rawMeta(`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"sha256:cfg","Size":387973120}`)),
			with(func(m *model.Image) {
				m.ManifestMediaType = mediaTypeDockerSchema2
				m.Config = "sha256:cfg"
				m.Size = 387973120
			})},
		{"an OCI image's config is the metadata Id",
			image(mediaTypeOCIManifest, rawMeta(`{"Id":"sha256:cfg","Size":5}`)),
			with(func(m *model.Image) { m.ManifestMediaType = mediaTypeOCIManifest; m.Config = "sha256:cfg"; m.Size = 5 })},
		{"a schema 1 image has no config blob",
			image("application/vnd.docker.distribution.manifest.v1+prettyjws", rawMeta(`{"Id":"sha256:v1id","Size":7}`)),
			with(func(m *model.Image) {
				m.ManifestMediaType = "application/vnd.docker.distribution.manifest.v1+prettyjws"
				m.Size = 7
			})},
		{"already decoded metadata is read from the object",
			image(mediaTypeDockerSchema2, runtime.RawExtension{Object: &docker10.DockerImage{ID: "sha256:obj", Size: 9}}),
			with(func(m *model.Image) {
				m.ManifestMediaType = mediaTypeDockerSchema2
				m.Config = "sha256:obj"
				m.Size = 9
			})},
		{"an image without metadata has size 0 and no config",
			image(mediaTypeDockerSchema2, runtime.RawExtension{}),
			with(func(m *model.Image) { m.ManifestMediaType = mediaTypeDockerSchema2 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Image(tc.img)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestImageManagedAndChildren(t *testing.T) {
	img := image("application/vnd.docker.distribution.manifest.list.v2+json", rawMeta(`{"Size":0}`))
	img.DockerImageLayers = nil
	img.DockerImageManifests = []imagev1.ImageManifest{{Digest: "sha256:c1"}, {Digest: "sha256:c2"}}
	for _, tc := range []struct {
		annotation string
		managed    bool
	}{{"true", true}, {"True", false}, {"false", false}, {"", false}} {
		img.Annotations = map[string]string{imagev1.ManagedByOpenShiftAnnotation: tc.annotation}
		got, err := Image(img)
		if err != nil {
			t.Fatal(err)
		}
		if got.Managed != tc.managed {
			t.Errorf("annotation %q: managed %v, want %v (oc compares with \"true\" exactly)", tc.annotation, got.Managed, tc.managed)
		}
		if !reflect.DeepEqual(got.Children, []string{"sha256:c1", "sha256:c2"}) || got.Config != "" || got.Layers != nil {
			t.Errorf("manifest list %+v, want two children, no config, no layers", got)
		}
	}
}

func TestImageWithBrokenMetadataFails(t *testing.T) {
	_, err := Object(image(mediaTypeDockerSchema2, rawMeta(`{"Size":"big"}`)))
	if err == nil || !strings.Contains(err.Error(), "failed to read image metadata for "+digestA) {
		t.Fatalf("error %v, want one naming the image", err)
	}
}

func TestStream(t *testing.T) {
	t1 := metav1.NewTime(created)
	t0 := metav1.NewTime(created.Add(-60 * 60e9))
	is := &imagev1.ImageStream{ObjectMeta: meta("app"), Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
		{Tag: "latest", Items: []imagev1.TagEvent{
			{Created: t1, Image: digestA, DockerImageReference: host + "/ns-a/app@" + digestA, Generation: 2},
			{Created: t0, Image: digestB, DockerImageReference: host + "/ns-a/app@" + digestB, Generation: 1},
		}},
		{Tag: "empty"},
	}}}
	res := mustObject(t, is)
	want := model.Stream{Namespace: testNS, Name: "app", Created: created, ResourceVersion: "42", Tags: []model.Tag{
		{Name: "latest", Items: []model.TagItem{
			{Image: digestA, Created: created, DockerImageReference: host + "/ns-a/app@" + digestA, Generation: 2},
			{Image: digestB, Created: t0.Time, DockerImageReference: host + "/ns-a/app@" + digestB, Generation: 1},
		}},
		{Name: "empty", Items: []model.TagItem{}},
	}}
	if !reflect.DeepEqual(*res.Stream, want) {
		t.Errorf("stream\n %+v\nwant\n %+v", *res.Stream, want)
	}
	if len(res.Referrer.Refs) != 0 {
		t.Errorf("a stream without spec tags has refs %v", res.Referrer.Refs)
	}
}

func TestLimitRange(t *testing.T) {
	limit := func(typ corev1.LimitType, storage string) corev1.LimitRangeItem {
		item := corev1.LimitRangeItem{Type: typ, Max: corev1.ResourceList{}}
		if storage != "" {
			item.Max[corev1.ResourceStorage] = resource.MustParse(storage)
		}
		return item
	}
	for _, tc := range []struct {
		name   string
		limits []corev1.LimitRangeItem
		want   int64
	}{
		{"an image limit's max storage is kept in bytes", []corev1.LimitRangeItem{limit(imagev1.LimitTypeImage, "348Mi")}, 348 << 20},
		{"the smallest of several image limits wins", []corev1.LimitRangeItem{limit(imagev1.LimitTypeImage, "1Gi"), limit(imagev1.LimitTypeImage, "500M")}, 500_000_000},
		{"limits of other types are ignored", []corev1.LimitRangeItem{limit(corev1.LimitTypeContainer, "1Mi"), limit(imagev1.LimitTypeImage, "2Mi")}, 2 << 20},
		{"an image limit without max storage sets nothing", []corev1.LimitRangeItem{limit(imagev1.LimitTypeImage, "")}, 0},
		{"a fractional limit rounds up to whole bytes", []corev1.LimitRangeItem{limit(imagev1.LimitTypeImage, "1500m")}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Object(&corev1.LimitRange{ObjectMeta: meta("lr"), Spec: corev1.LimitRangeSpec{Limits: tc.limits}})
			if err != nil {
				t.Fatal(err)
			}
			want := model.LimitRange{Namespace: testNS, Name: "lr", MaxImageSize: tc.want}
			if res.Kind != model.KindLimitRange || res.LimitRange == nil || *res.LimitRange != want {
				t.Errorf("result %+v, want %+v", res.LimitRange, want)
			}
		})
	}
}

func TestImageDigest(t *testing.T) {
	const d = "sha256:4bd0ef0f3b1fd9cfd3c19e5a4d5f0b1e3c6e1a3d2b1c0f9e8d7c6b5a49382716"
	tests := []struct {
		name, objName, ref, want string
	}{
		{"an OpenShift image is named by its digest", d, "", d},
		{"a CRD-served image takes the digest of its dockerImageReference", "sha256.4bd0ef0f3b1fd9cfd3c19e5a4d5f0b1e3c6e1a3d2b1c0f9e8d7c6b5a49382716", "r.example.com/ns/is@" + d, d},
		{"a name that is no digest and no reference digest stays the key", "weird", "r.example.com/ns/is:tag", "weird"},
		{"a short hex part is not a digest", "sha256:abc", "", "sha256:abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := &imagev1.Image{DockerImageReference: tt.ref}
			img.Name = tt.objName
			if got := ImageDigest(img); got != tt.want {
				t.Errorf("ImageDigest = %q, want %q", got, tt.want)
			}
			m, err := Image(img)
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != tt.objName || m.Digest != tt.want {
				t.Errorf("Image() name %q digest %q, want %q %q", m.Name, m.Digest, tt.objName, tt.want)
			}
		})
	}
}
