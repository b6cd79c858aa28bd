package pruner

import (
	"context"

	"github.com/pruneguard/pruneguard/pkg/registry"
)

// The five side effects of a prune, one small interface each, as oc has them, with a context.
// The Executor calls them in the order the Plan documents; the describing decorators
// (NewDescribingDeleters) print each action and call the real one only when given.

// ImageStreamDeleter removes the planned items of one image stream from its status.
type ImageStreamDeleter interface {
	// UpdateImageStream removes exactly the items sp.Deleted names from the stream's status
	// (retrying on a conflict with a fresh copy, never removing an item that appeared since
	// the plan) and drops the tags left empty. A stream that no longer exists is no error.
	UpdateImageStream(ctx context.Context, sp StreamPlan) (StreamUpdate, error)
}

// StreamUpdate is what an ImageStreamDeleter did to one stream.
type StreamUpdate struct {
	// Removed are the planned items it removed; fewer than planned when some were gone.
	Removed []ItemDecision
	// Held are the images the stream's status still names after the update. A manifest link
	// is not deleted while its manifest is held: a concurrent push may have tagged it again.
	Held map[string]bool
	// Attempts is how many times the status update was tried (more than 1 after conflicts).
	Attempts int
}

// ImageDeleter deletes an Image object.
type ImageDeleter interface {
	// DeleteImage deletes the Image whose manifest digest is digest, with grace period 0. An
	// Image that no longer exists is no error.
	DeleteImage(ctx context.Context, digest string) error
}

// LayerLinkDeleter deletes the link of a layer or config blob in a repository.
type LayerLinkDeleter interface {
	// DeleteLayerLink deletes blob digest's link in repo ("NAMESPACE/NAME"); 404 is success.
	DeleteLayerLink(ctx context.Context, repo, digest string) error
}

// ManifestLinkDeleter deletes a manifest from a repository.
type ManifestLinkDeleter interface {
	// DeleteManifestLink deletes manifest digest from repo ("NAMESPACE/NAME"); 404 is success.
	DeleteManifestLink(ctx context.Context, repo, digest string) error
}

// BlobDeleter deletes a blob from the registry's storage.
type BlobDeleter interface {
	// DeleteBlob deletes blob digest; 404 is success. registry.ErrNoAdminAPI means the
	// registry cannot (a distribution registry): the blob is left to its garbage collector,
	// which is neither a deletion nor a failure.
	DeleteBlob(ctx context.Context, digest string) error
}

// Deleters are the side effects an Executor uses. The registry ones may be nil when the plan
// has no registry work (--prune-registry=false).
type Deleters struct {
	Streams       ImageStreamDeleter
	Images        ImageDeleter
	LayerLinks    LayerLinkDeleter
	ManifestLinks ManifestLinkDeleter
	Blobs         BlobDeleter
}

// The registry client deletes registry content directly.
var (
	_ LayerLinkDeleter    = (*registry.Client)(nil)
	_ ManifestLinkDeleter = (*registry.Client)(nil)
	_ BlobDeleter         = (*registry.Client)(nil)
)

// WithRegistry returns d with its registry deleters set to c.
func (d Deleters) WithRegistry(c *registry.Client) Deleters {
	d.LayerLinks, d.ManifestLinks, d.Blobs = c, c, c
	return d
}
