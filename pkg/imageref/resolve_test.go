package imageref

import (
	"errors"
	"testing"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestPullSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want model.Ref
	}{
		{"a tag protects NS/NAME:TAG", "h.io/ns/app:v1",
			model.Ref{Kind: model.RefDockerImage, Raw: "h.io/ns/app:v1", Repo: "ns/app", Tag: "v1"}},
		{"no tag and no digest means latest", "h.io/ns/app",
			model.Ref{Kind: model.RefDockerImage, Raw: "h.io/ns/app", Repo: "ns/app", Tag: "latest"}},
		{"a digest wins over a tag", "h.io/ns/app:v1@" + dgst,
			model.Ref{Kind: model.RefDockerImage, Raw: "h.io/ns/app:v1@" + dgst, Repo: "ns/app", Digest: dgst}},
		{"a digest without a host keeps the digest but no repo", "ns/app@" + dgst,
			model.Ref{Kind: model.RefDockerImage, Raw: "ns/app@" + dgst, Digest: dgst}},
		{"a multi-segment name keeps its tag but no repo", "h.io/a/b/c:v2",
			model.Ref{Kind: model.RefDockerImage, Raw: "h.io/a/b/c:v2", Tag: "v2"}},
		{"an invalid spec keeps Raw and says why", "h.io/NS/app",
			model.Ref{Kind: model.RefDockerImage, Raw: "h.io/NS/app", Invalid: "repository name must be lowercase"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PullSpec(tc.in)
			if (err != nil) != (tc.want.Invalid != "") {
				t.Fatalf("PullSpec(%q) error %v, want invalid %q", tc.in, err, tc.want.Invalid)
			}
			if got != tc.want {
				t.Errorf("PullSpec(%q) =\n %+v\nwant\n %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestObjectReference(t *testing.T) {
	for _, tc := range []struct {
		name    string
		from    corev1.ObjectReference
		want    model.Ref
		ignored bool
		err     error
	}{
		{"an ImageStreamTag without namespace is in the referrer's namespace",
			corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app:v1"},
			model.Ref{Kind: model.RefImageStreamTag, Raw: "ref-ns/app:v1", Repo: "ref-ns/app", Tag: "v1"}, false, nil},
		{"an ImageStreamTag with a namespace keeps it",
			corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: "other", Name: "app:v1"},
			model.Ref{Kind: model.RefImageStreamTag, Raw: "other/app:v1", Repo: "other/app", Tag: "v1"}, false, nil},
		{"an ImageStreamImage names a digest in the stream",
			corev1.ObjectReference{Kind: "ImageStreamImage", Name: "app@" + dgst},
			model.Ref{Kind: model.RefImageStreamImage, Raw: "ref-ns/app@" + dgst, Repo: "ref-ns/app", Digest: dgst}, false, nil},
		{"an ImageStreamImage ID is not checked, as oc does not check it",
			corev1.ObjectReference{Kind: "ImageStreamImage", Name: "app@notadigest"},
			model.Ref{Kind: model.RefImageStreamImage, Raw: "ref-ns/app@notadigest", Repo: "ref-ns/app", Digest: "notadigest"}, false, nil},
		{"a DockerImage is a pull spec and ignores the namespace",
			corev1.ObjectReference{Kind: "DockerImage", Namespace: "x", Name: "h.io/ns/app@" + dgst},
			model.Ref{Kind: model.RefDockerImage, Raw: "h.io/ns/app@" + dgst, Repo: "ns/app", Digest: dgst}, false, nil},
		{"a blank DockerImage is skipped as oc skips it",
			corev1.ObjectReference{Kind: "DockerImage", Name: "  "}, model.Ref{}, true, nil},
		{"an unknown kind is skipped",
			corev1.ObjectReference{Kind: "ImageStream", Name: "app"}, model.Ref{}, true, nil},
		{"an empty kind is skipped",
			corev1.ObjectReference{Name: "app:v1"}, model.Ref{}, true, nil},
		{"an ImageStreamTag without a tag is invalid",
			corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app"},
			model.Ref{Kind: model.RefImageStreamTag, Raw: "app", Invalid: `expected exactly one : delimiter in the istag "app"`}, false, ErrInvalidImageStreamTag},
		{"an ImageStreamTag with two colons is invalid",
			corev1.ObjectReference{Kind: "ImageStreamTag", Name: "a:b:c"},
			model.Ref{Kind: model.RefImageStreamTag, Raw: "a:b:c", Invalid: `expected exactly one : delimiter in the istag "a:b:c"`}, false, ErrInvalidImageStreamTag},
		{"an ImageStreamTag with an empty tag is invalid",
			corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app:"},
			model.Ref{Kind: model.RefImageStreamTag, Raw: "app:", Invalid: `image stream tag name "app:" must have a name and a tag`}, false, ErrInvalidImageStreamTag},
		{"an ImageStreamTag holding a digest is invalid",
			corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app@" + dgst},
			model.Ref{Kind: model.RefImageStreamTag, Raw: "app@" + dgst, Invalid: `"app@` + dgst + `" is an image stream image, not an image stream tag`}, false, ErrInvalidImageStreamTag},
		{"an empty ImageStreamTag is invalid, as oc aborts on it",
			corev1.ObjectReference{Kind: "ImageStreamTag"},
			model.Ref{Kind: model.RefImageStreamTag, Invalid: `expected exactly one : delimiter in the istag ""`}, false, ErrInvalidImageStreamTag},
		{"an ImageStreamImage without @ is invalid",
			corev1.ObjectReference{Kind: "ImageStreamImage", Name: "app"},
			model.Ref{Kind: model.RefImageStreamImage, Raw: "app", Invalid: `expected exactly one @ in the isimage name "app"`}, false, ErrInvalidImageStreamImage},
		{"an ImageStreamImage without a name is invalid",
			corev1.ObjectReference{Kind: "ImageStreamImage", Name: "@" + dgst},
			model.Ref{Kind: model.RefImageStreamImage, Raw: "@" + dgst, Invalid: `image stream image name "@` + dgst + `" must have a name and ID`}, false, ErrInvalidImageStreamImage},
		{"an invalid DockerImage is invalid with the parser's reason",
			corev1.ObjectReference{Kind: "DockerImage", Name: "h.io/NS/app"},
			model.Ref{Kind: model.RefDockerImage, Raw: "h.io/NS/app", Invalid: "repository name must be lowercase"}, false, reference.ErrNameContainsUppercase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := ObjectReference(tc.from, "ref-ns")
			if ok == tc.ignored {
				t.Fatalf("ok = %v, want %v", ok, !tc.ignored)
			}
			if tc.err == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want errors.Is %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}
