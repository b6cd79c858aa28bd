package extract

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Manifest media types whose config blob oc counts as one of the image's blobs. For these,
// the config digest is dockerImageMetadata.Id (oc's getImageBlobs); schema 1 manifests and
// manifest lists have no config blob.
const (
	mediaTypeDockerSchema2 = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeOCIManifest   = "application/vnd.oci.image.manifest.v1+json"
)

// imageMetadata is the part of dockerImageMetadata the policy reads. Both metadata versions
// (1.0 and pre012) spell the fields this way.
type imageMetadata struct {
	ID   string `json:"Id"`
	Size int64  `json:"Size"`
}

// Image converts an image.openshift.io Image. Managed is the annotation
// openshift.io/image.managed being exactly "true", as oc tests it. Size and the config digest
// come from dockerImageMetadata, decoded from its raw JSON unless the object already holds a
// decoded docker10.DockerImage; an image without metadata has size 0 and no config. It fails
// only when the metadata is not valid JSON.
func Image(img *imagev1.Image) (model.Image, error) {
	meta, err := metadataOf(img)
	if err != nil {
		return model.Image{}, fmt.Errorf("failed to read image metadata for %s: %w", img.Name, err)
	}
	out := model.Image{
		Digest:               ImageDigest(img),
		Name:                 img.Name,
		Created:              img.CreationTimestamp.Time,
		Managed:              img.Annotations[imagev1.ManagedByOpenShiftAnnotation] == "true",
		DockerImageReference: img.DockerImageReference,
		ManifestMediaType:    img.DockerImageManifestMediaType,
		Size:                 meta.Size,
	}
	if len(img.DockerImageLayers) > 0 {
		out.Layers = make([]model.Blob, len(img.DockerImageLayers))
		for i, l := range img.DockerImageLayers {
			out.Layers[i] = model.Blob{Digest: l.Name, Size: l.LayerSize, MediaType: l.MediaType}
		}
	}
	if img.DockerImageManifestMediaType == mediaTypeDockerSchema2 || img.DockerImageManifestMediaType == mediaTypeOCIManifest {
		out.Config = meta.ID
	}
	if len(img.DockerImageManifests) > 0 {
		out.Children = make([]string, len(img.DockerImageManifests))
		for i, m := range img.DockerImageManifests {
			out.Children[i] = m.Digest
		}
	}
	return out, nil
}

// ImageDigest returns the digest of an Image. OpenShift names every Image by its digest; where
// the name is not a digest (an API server serving images from a CRD, whose names cannot hold
// ':'), the digest is the one dockerImageReference ends with, and failing that the name is
// returned as it is so the image is still indexed under something unique.
func ImageDigest(img *imagev1.Image) string {
	if isDigest(img.Name) {
		return img.Name
	}
	if i := strings.LastIndexByte(img.DockerImageReference, '@'); i >= 0 && isDigest(img.DockerImageReference[i+1:]) {
		return img.DockerImageReference[i+1:]
	}
	return img.Name
}

// isDigest reports whether s is ALGORITHM:HEX with a lower-case hex part of at least 32 characters.
func isDigest(s string) bool {
	algo, hex, ok := strings.Cut(s, ":")
	if !ok || algo == "" || len(hex) < 32 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func metadataOf(img *imagev1.Image) (imageMetadata, error) {
	if d, ok := img.DockerImageMetadata.Object.(*docker10.DockerImage); ok && d != nil {
		return imageMetadata{ID: d.ID, Size: d.Size}, nil
	}
	var m imageMetadata
	raw := img.DockerImageMetadata.Raw
	if len(raw) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return imageMetadata{}, err
	}
	return m, nil
}

// Stream converts an ImageStream's status tags, keeping each tag's history in order (newest
// first, as OpenShift keeps it).
func Stream(is *imagev1.ImageStream) model.Stream {
	s := model.Stream{
		Namespace:       is.Namespace,
		Name:            is.Name,
		Created:         is.CreationTimestamp.Time,
		ResourceVersion: is.ResourceVersion,
	}
	if len(is.Status.Tags) == 0 {
		return s
	}
	s.Tags = make([]model.Tag, len(is.Status.Tags))
	for i := range is.Status.Tags {
		t := &is.Status.Tags[i]
		items := make([]model.TagItem, len(t.Items))
		for j, ev := range t.Items {
			items[j] = model.TagItem{
				Image:                ev.Image,
				Created:              ev.Created.Time,
				DockerImageReference: ev.DockerImageReference,
				Generation:           ev.Generation,
			}
		}
		s.Tags[i] = model.Tag{Name: t.Tag, Items: items}
	}
	return s
}

// LimitRange converts a LimitRange to the smallest max.storage of its openshift.io/Image limits
// (an image exceeds the range when it exceeds any of them, as oc checks), rounded up to whole
// bytes. MaxImageSize is 0 when no such limit sets max.storage; the LimitRange is still
// returned, so that an update removing the limit replaces the old value.
func LimitRange(lr *corev1.LimitRange) model.LimitRange {
	out := model.LimitRange{Namespace: lr.Namespace, Name: lr.Name}
	for i := range lr.Spec.Limits {
		l := &lr.Spec.Limits[i]
		if l.Type != imagev1.LimitTypeImage {
			continue
		}
		q, ok := l.Max[corev1.ResourceStorage]
		if !ok {
			continue
		}
		if v := q.Value(); out.MaxImageSize == 0 || v < out.MaxImageSize {
			out.MaxImageSize = v
		}
	}
	return out
}
