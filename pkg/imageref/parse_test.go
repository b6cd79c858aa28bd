package imageref

import (
	"errors"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

const (
	hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dgst  = "sha256:" + hex64
)

func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Reference
		repo string
	}{
		{"a host, a namespace and a name protect the stream", "registry.example.com/ns/app:v1",
			Reference{Registry: "registry.example.com", Namespace: "ns", Name: "app", Tag: "v1"}, "ns/app"},
		{"a host with a port is a registry", "image-registry.openshift-image-registry.svc:5000/ns-0/app-1:latest",
			Reference{Registry: "image-registry.openshift-image-registry.svc:5000", Namespace: "ns-0", Name: "app-1", Tag: "latest"}, "ns-0/app-1"},
		{"a digest is kept and the tag stays empty", "host.io/ns/app@" + dgst,
			Reference{Registry: "host.io", Namespace: "ns", Name: "app", Digest: dgst}, "ns/app"},
		{"a tag and a digest are both kept", "host.io/ns/app:v1@" + dgst,
			Reference{Registry: "host.io", Namespace: "ns", Name: "app", Tag: "v1", Digest: dgst}, "ns/app"},
		{"localhost is a registry", "localhost/ns/app",
			Reference{Registry: "localhost", Namespace: "ns", Name: "app"}, "ns/app"},
		{"a first component that only starts with localhost is a namespace", "localhostx/ns/app",
			Reference{Namespace: "localhostx", Name: "ns/app"}, ""},
		{"a name without a host protects nothing", "ns/app:v1",
			Reference{Namespace: "ns", Name: "app", Tag: "v1"}, ""},
		{"a bare name protects nothing", "nginx",
			Reference{Name: "nginx"}, ""},
		{"a host and a one-segment name protect nothing", "quay.io/org",
			Reference{Registry: "quay.io", Name: "org"}, ""},
		{"a multi-segment name protects nothing", "host.io/ns/group/app:v1",
			Reference{Registry: "host.io", Namespace: "ns", Name: "group/app", Tag: "v1"}, ""},
		{"a bare host is a registry with no name", "quay.io",
			Reference{Registry: "quay.io"}, ""},
		{"docker.io is not expanded: library/nginx is the repository", "docker.io/library/nginx:1.25",
			Reference{Registry: "docker.io", Namespace: "library", Name: "nginx", Tag: "1.25"}, "library/nginx"},
		{"host:port without a path is a name and a tag", "host:5000",
			Reference{Name: "host", Tag: "5000"}, ""},
		{"a digest-looking string is a name and a tag", dgst,
			Reference{Name: "sha256", Tag: hex64}, ""},
		{"upper case in the host is allowed", "Registry.Example.com/ns/app:Tag",
			Reference{Registry: "Registry.Example.com", Namespace: "ns", Name: "app", Tag: "Tag"}, "ns/app"},
		{"an IPv6 host with a port is a registry (as docker parses it)", "[::1]:5000/ns/app:v1",
			Reference{Registry: "[::1]:5000", Namespace: "ns", Name: "app", Tag: "v1"}, "ns/app"},
		{"an IPv6 host without a port is a registry", "[2001:db8::1]/ns/app",
			Reference{Registry: "[2001:db8::1]", Namespace: "ns", Name: "app"}, "ns/app"},
		{"separators inside components are allowed", "h.io/n-s/a__b.c-d",
			Reference{Registry: "h.io", Namespace: "n-s", Name: "a__b.c-d"}, "n-s/a__b.c-d"},
		{"a name of exactly 255 characters with its host is accepted", "h.io/" + strings.Repeat("a", 63) + "/" + strings.Repeat("b", 186),
			Reference{Registry: "h.io", Namespace: strings.Repeat("a", 63), Name: strings.Repeat("b", 186)}, strings.Repeat("a", 63) + "/" + strings.Repeat("b", 186)},
		{"a tag of 128 characters is accepted", "h.io/ns/app:" + strings.Repeat("t", 128),
			Reference{Registry: "h.io", Namespace: "ns", Name: "app", Tag: strings.Repeat("t", 128)}, "ns/app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if repo := got.Repo(); repo != tc.repo {
				t.Errorf("Repo() = %q, want %q", repo, tc.repo)
			}
			if s := got.String(); s != tc.in {
				t.Errorf("String() = %q, want the input %q", s, tc.in)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	long := strings.Repeat("a", 2000)
	for _, tc := range []struct {
		name   string
		in     string
		want   error
		reason string
	}{
		{"an empty string has no name", "", reference.ErrNameEmpty, "repository name must have at least one component"},
		{"whitespace is not a reference", "   ", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a leading space is not trimmed", " host.io/ns/app", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a trailing space is not trimmed", "trailing:space ", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a tab is not a reference", "host.io/ns/\tapp", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"upper case in the path is rejected as oc rejects it", "Registry.Example.com/NS/App:Tag", reference.ErrNameContainsUppercase, "repository name must be lowercase"},
		{"upper case in the name only is rejected", "host.io/ns/App", reference.ErrNameContainsUppercase, "repository name must be lowercase"},
		{"a short digest is a format error", "host.io/ns/app@sha256:abc", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"an empty digest is a format error", "host.io/ns/app@sha256:", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a non-hex digest is a format error", "host.io/ns/app@sha256:" + strings.Repeat("g", 64), reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a sha256 digest of 32 hex digits has the wrong length", "host.io/ns/app@sha256:" + hex64[:32], digest.ErrDigestInvalidLength, "invalid checksum digest length"},
		{"an upper-case sha256 digest has the wrong format", "host.io/ns/app@sha256:" + strings.ToUpper(hex64), digest.ErrDigestInvalidFormat, "invalid checksum digest format"},
		{"an unknown digest algorithm is unsupported", "host.io/ns/app@md5:" + hex64[:32], digest.ErrDigestUnsupported, "unsupported digest algorithm"},
		{"a non-numeric port is a format error", "host:abc/ns/app", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a URL scheme is a format error", "https://host.io/ns/app", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"an empty path component is a format error", "host.io//app", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a trailing slash is a format error", "host.io/ns/app/", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"an IPv6 host with a zone is a format error", "[fe80::1%eth0]:5000/ns/app", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"an unclosed IPv6 bracket is a format error", "[::1:5000/ns/app", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a tag of 129 characters is a format error", "h.io/ns/app:" + strings.Repeat("t", 129), reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a 2,000-character name is too long", "host.io/ns/" + long, reference.ErrNameTooLong, "repository name must not be more than 255 characters"},
		{"a 2,000-character name without a host is too long", long, reference.ErrNameTooLong, "repository name must not be more than 255 characters"},
		{"a name over 255 characters only with its host is too long, as oc counts it", "h.io/" + strings.Repeat("a", 63) + "/" + strings.Repeat("b", 187), reference.ErrNameTooLong, "repository name must not be more than 255 characters"},
		{"a name too long only with its host is reported before a bad digest", "h.io/" + strings.Repeat("a", 252) + "@sha256:" + hex64[:32], reference.ErrNameTooLong, "repository name must not be more than 255 characters"},
		{"a 2,000-character tag is a format error", "h.io/ns/app:" + long, reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a non-ASCII letter is a format error", "host.io/ns/nämé", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a non-ASCII tag is a format error", "host.io/ns/app:tæg", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a full-width letter is a format error", "host.io/ns/ａpp", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"invalid UTF-8 is a format error", "host.io/ns/\xff", reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a digest alone is a format error", "@" + dgst, reference.ErrReferenceInvalidFormat, "invalid reference format"},
		{"a tag alone is a format error", ":tag", reference.ErrReferenceInvalidFormat, "invalid reference format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %v", tc.in, got, tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse(%q) error %v, want errors.Is %v", tc.in, err, tc.want)
			}
			if err.Error() != tc.reason {
				t.Errorf("Parse(%q) error text %q, want %q", tc.in, err.Error(), tc.reason)
			}
			if got != (Reference{}) {
				t.Errorf("Parse(%q) returned %+v with its error, want the zero Reference", tc.in, got)
			}
		})
	}
}

func TestNormalized(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"a bare name gets docker.io, library and latest", "nginx", "docker.io/library/nginx:latest"},
		{"a namespaced name gets docker.io and latest", "ns/app", "docker.io/ns/app:latest"},
		{"a digest suppresses the default tag", "ns/app@" + dgst, "docker.io/ns/app@" + dgst},
		{"another registry gets no library namespace", "quay.io/app:v1", "quay.io/app:v1"},
		{"index.docker.io is Docker Hub", "index.docker.io/app", "index.docker.io/library/app:latest"},
		{"a complete reference is unchanged", "h.io/ns/app:v1", "h.io/ns/app:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Normalized().String(); got != tc.want {
				t.Errorf("Normalized(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
