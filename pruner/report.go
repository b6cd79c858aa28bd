package pruner

import (
	"fmt"
	"io"
	"strings"
)

// Report is the -o json / -o yaml form of a plan: what would be (or was) deleted, as flat
// lists that compare as sets with oc's plans.
type Report struct {
	DryRun           bool             `json:"dryRun"`
	ImageStreamItems []ReportItem     `json:"imageStreamItems"`
	Images           []string         `json:"images"`
	LayerLinks       []RepositoryBlob `json:"layerLinks"`
	ManifestLinks    []RepositoryBlob `json:"manifestLinks"`
	Blobs            []string         `json:"blobs"`
	Summary          Summary          `json:"summary"`
}

// ReportItem is one deleted image stream item.
type ReportItem struct {
	Namespace   string `json:"namespace"`
	ImageStream string `json:"imageStream"`
	Tag         string `json:"tag"`
	Image       string `json:"image"`
}

// RepositoryBlob is a layer or manifest link: a digest in a repository.
type RepositoryBlob struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

// NewReport flattens plan; a nil plan (nothing planned, e.g. after invalid references) gives
// an empty report. Lists are empty, never null.
func NewReport(plan *Plan, dryRun bool) Report {
	r := Report{
		DryRun: dryRun, ImageStreamItems: []ReportItem{}, Images: []string{},
		LayerLinks: []RepositoryBlob{}, ManifestLinks: []RepositoryBlob{}, Blobs: []string{},
	}
	if plan == nil {
		return r
	}
	for _, sp := range plan.Streams {
		for _, d := range sp.Deleted {
			r.ImageStreamItems = append(r.ImageStreamItems, ReportItem{d.Namespace, d.Stream, d.Tag, d.Image})
		}
		for _, l := range sp.LayerLinks {
			r.LayerLinks = append(r.LayerLinks, RepositoryBlob{sp.Repo(), l})
		}
		for _, m := range sp.ManifestLinks {
			r.ManifestLinks = append(r.ManifestLinks, RepositoryBlob{sp.Repo(), m})
		}
	}
	for _, ip := range plan.Images {
		r.Images = append(r.Images, ip.Digest)
		r.Blobs = append(r.Blobs, ip.Blobs...)
	}
	r.Summary = plan.Summary()
	return r
}

// Notes oc prints before the plan, with its wording.
const (
	// DryRunNote goes to stderr when --confirm is not given.
	DryRunNote = "Dry run enabled - no modifications will be made. Add --confirm to remove images"
	// APIOnlyNote goes to stdout with --prune-registry=false.
	APIOnlyNote = "Only API objects will be removed.  No modifications to the image registry will be made."
)

// WriteText prints plan as oc prints a prune, in deletion order: per stream its layer links,
// "Deleting N items from image stream NS/NAME" and its manifest links; per image its blobs and
// "Deleting image D"; then the summary line. The notes are the caller's.
func WriteText(w io.Writer, plan *Plan) error {
	var b strings.Builder
	for _, sp := range plan.Streams {
		for _, l := range sp.LayerLinks {
			fmt.Fprintf(&b, "Deleting layer link %s in repository %s\n", l, sp.Repo())
		}
		fmt.Fprintf(&b, "Deleting %d items from image stream %s\n", len(sp.Deleted), sp.Repo())
		for _, m := range sp.ManifestLinks {
			fmt.Fprintf(&b, "Deleting manifest link %s in repository %s\n", m, sp.Repo())
		}
	}
	for _, ip := range plan.Images {
		for _, blob := range ip.Blobs {
			fmt.Fprintf(&b, "Deleting blob %s\n", blob)
		}
		fmt.Fprintf(&b, "Deleting image %s\n", ip.Digest)
	}
	fmt.Fprintf(&b, "Summary: %s\n", plan.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}

// String words the summary as oc does: the non-zero counts, or "deleted 0 objects".
func (s Summary) String() string {
	var parts []string
	add := func(n int, what string) {
		if n != 0 {
			parts = append(parts, fmt.Sprintf("deleted %d %s", n, what))
		}
	}
	add(s.DeletedImages, "image object(s)")
	add(s.DeletedImageStreamTagItems, "image stream tag item(s)")
	if s.UpdatedImageStreams != 0 {
		parts = append(parts, fmt.Sprintf("updated %d image stream(s)", s.UpdatedImageStreams))
	}
	add(s.DeletedLayerLinks, "layer link(s)")
	add(s.DeletedManifestLinks, "manifest link(s)")
	add(s.DeletedBlobs, "blob(s)")
	if len(parts) == 0 {
		return "deleted 0 objects"
	}
	return strings.Join(parts, ", ")
}
