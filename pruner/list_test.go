package pruner

import (
	"testing"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestCanonicalImage(t *testing.T) {
	const hex = "4b1bbf819838193fafe2a73af5f6e8c34ae8ed2cf898199ca55031ec3d16d87d"
	tests := []struct {
		name        string
		img         model.Image
		wantDigest  string
		wantName    string
		wantRenamed bool
	}{
		{"an Image named by its digest (OpenShift) is left alone",
			model.Image{Digest: "sha256:" + hex}, "sha256:" + hex, "", false},
		{"a CRD-served Image named sha256.HEX takes its digest from dockerImageReference",
			model.Image{Digest: "sha256." + hex, DockerImageReference: "127.0.0.1:5000/ns/app@sha256:" + hex}, "sha256:" + hex, "sha256." + hex, true},
		{"without a digest reference the name gives the digest",
			model.Image{Digest: "sha256." + hex, DockerImageReference: "127.0.0.1:5000/ns/app:latest"}, "sha256:" + hex, "sha256." + hex, true},
		{"an image the extractor already gave its digest and name is reported as renamed",
			model.Image{Digest: "sha256:" + hex, Name: "sha256." + hex}, "sha256:" + hex, "sha256." + hex, true},
		{"a name that is no digest in any form is left alone",
			model.Image{Digest: "my-image"}, "my-image", "my-image", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := tt.img
			name, renamed := CanonicalImage(&img)
			if img.Digest != tt.wantDigest || renamed != tt.wantRenamed || (renamed && name != tt.wantName) {
				t.Errorf("CanonicalImage = digest %q, name %q, renamed %v; want %q, %q, %v",
					img.Digest, name, renamed, tt.wantDigest, tt.wantName, tt.wantRenamed)
			}
		})
	}
}
