package pruner

import "github.com/pruneguard/pruneguard/pkg/model"

// Plan is what a prune deletes, in the order an executor must delete it: every StreamPlan
// (each one: its layer links, then the stream status update, then its manifest links), then
// every ImagePlan (each one: its blobs, then the Image object). A Plan deletes nothing by
// itself; it is the input of the executors, of the printers and of the audit trail.
type Plan struct {
	// Streams are the streams that lose at least one item, in the order planned.
	Streams []StreamPlan `json:"streams"`
	// Images are the Image objects to delete, in the order planned. Empty with --namespace.
	Images []ImagePlan `json:"images"`
}

// ItemDecision is one stream item with the decision about it.
type ItemDecision struct {
	Namespace string `json:"namespace"`
	Stream    string `json:"imageStream"`
	Tag       string `json:"tag"`
	// Revision is the item's 0-based position in its tag's history when planned.
	Revision int    `json:"revision"`
	Image    string `json:"image"`
	Reason   Reason `json:"reason"`
}

// StreamPlan is the stage 1 plan of one image stream.
type StreamPlan struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ResourceVersion is the version planned from; an executor updates the status only if
	// it is unchanged, and otherwise re-plans the fresh stream with Planner.PlanStream.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Deleted are the items removed from the status, in status order.
	Deleted []ItemDecision `json:"deleted"`
	// Tags is the status after the prune: the kept items of each tag, tags left empty removed.
	Tags []model.Tag `json:"tags"`
	// LayerLinks are the layer and config blob digests whose last reference in this
	// repository goes; their links are deleted before the status update, as oc does.
	LayerLinks []string `json:"layerLinks,omitempty"`
	// ManifestLinks are the manifest digests whose last item in this repository goes; their
	// links are deleted after the status update.
	ManifestLinks []string `json:"manifestLinks,omitempty"`
}

// Repo returns "NAMESPACE/NAME", the registry repository of the stream.
func (s StreamPlan) Repo() string { return s.Namespace + "/" + s.Name }

// ImagePlan is the stage 2 plan of one Image.
type ImagePlan struct {
	Digest string `json:"digest"`
	// Blobs are the blobs whose last image goes, in deletion order: layers and config blob
	// first, the manifest blob (the image digest) last. Empty without registry pruning.
	Blobs  []string `json:"blobs,omitempty"`
	Reason Reason   `json:"reason"`
}

// Summary counts what a plan deletes, as oc's "Summary:" line does.
type Summary struct {
	DeletedImages              int `json:"deletedImages"`
	DeletedImageStreamTagItems int `json:"deletedImageStreamTagItems"`
	UpdatedImageStreams        int `json:"updatedImageStreams"`
	DeletedLayerLinks          int `json:"deletedLayerLinks"`
	DeletedManifestLinks       int `json:"deletedManifestLinks"`
	DeletedBlobs               int `json:"deletedBlobs"`
}

// Summary counts the deletions of the plan.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, sp := range p.Streams {
		if len(sp.Deleted) > 0 {
			s.UpdatedImageStreams++
		}
		s.DeletedImageStreamTagItems += len(sp.Deleted)
		s.DeletedLayerLinks += len(sp.LayerLinks)
		s.DeletedManifestLinks += len(sp.ManifestLinks)
	}
	s.DeletedImages = len(p.Images)
	for _, ip := range p.Images {
		s.DeletedBlobs += len(ip.Blobs)
	}
	return s
}
