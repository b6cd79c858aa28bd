package pruner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pruneguard/pruneguard/pkg/registry"
)

// describer is oc's "describing" deleter, for all five side effects: it prints each action
// with oc's words, then calls the real deleter when there is one (--confirm) and prints its
// failure to errOut. Without a real deleter it is the dry run: it prints and succeeds.
type describer struct {
	out, errOut io.Writer
	real        *Deleters
}

var (
	_ ImageStreamDeleter  = (*describer)(nil)
	_ ImageDeleter        = (*describer)(nil)
	_ LayerLinkDeleter    = (*describer)(nil)
	_ ManifestLinkDeleter = (*describer)(nil)
	_ BlobDeleter         = (*describer)(nil)
)

// NewDescribingDeleters returns deleters that print every action to out, as oc prints a
// prune, and, when real is not nil, carry it out through real and print failures to errOut.
// With real nil they are the dry run. out and errOut may be written by several workers at
// once: each line is written whole.
func NewDescribingDeleters(out, errOut io.Writer, real *Deleters) Deleters {
	d := &describer{out: &lineWriter{w: out}, errOut: &lineWriter{w: errOut}, real: real}
	return Deleters{Streams: d, Images: d, LayerLinks: d, ManifestLinks: d, Blobs: d}
}

func (d *describer) UpdateImageStream(ctx context.Context, sp StreamPlan) (StreamUpdate, error) {
	fmt.Fprintf(d.out, "Deleting %d items from image stream %s\n", len(sp.Deleted), sp.Repo())
	if d.real == nil {
		return StreamUpdate{Removed: sp.Deleted, Held: heldByTags(sp), Attempts: 1}, nil
	}
	upd, err := d.real.Streams.UpdateImageStream(ctx, sp)
	if err != nil {
		fmt.Fprintf(d.errOut, "error updating image stream %s to remove image references: %v\n", sp.Repo(), err)
	}
	return upd, err
}

func (d *describer) DeleteImage(ctx context.Context, digest string) error {
	fmt.Fprintf(d.out, "Deleting image %s\n", digest)
	if d.real == nil {
		return nil
	}
	err := d.real.Images.DeleteImage(ctx, digest)
	if err != nil {
		fmt.Fprintf(d.errOut, "error deleting image %s from server: %v\n", digest, err)
	}
	return err
}

func (d *describer) DeleteLayerLink(ctx context.Context, repo, digest string) error {
	fmt.Fprintf(d.out, "Deleting layer link %s in repository %s\n", digest, repo)
	if d.real == nil {
		return nil
	}
	err := d.real.LayerLinks.DeleteLayerLink(ctx, repo, digest)
	if err != nil {
		fmt.Fprintf(d.errOut, "error deleting repository %s layer link %s from the registry: %v\n", repo, digest, err)
	}
	return err
}

func (d *describer) DeleteManifestLink(ctx context.Context, repo, digest string) error {
	fmt.Fprintf(d.out, "Deleting manifest link %s in repository %s\n", digest, repo)
	if d.real == nil {
		return nil
	}
	err := d.real.ManifestLinks.DeleteManifestLink(ctx, repo, digest)
	if err != nil {
		fmt.Fprintf(d.errOut, "error deleting manifest link %s from repository %s: %v\n", digest, repo, err)
	}
	return err
}

func (d *describer) DeleteBlob(ctx context.Context, digest string) error {
	fmt.Fprintf(d.out, "Deleting blob %s\n", digest)
	if d.real == nil {
		return nil
	}
	err := d.real.Blobs.DeleteBlob(ctx, digest)
	if err != nil && !errors.Is(err, registry.ErrNoAdminAPI) {
		fmt.Fprintf(d.errOut, "error deleting blob %s from the registry: %v\n", digest, err)
	}
	return err
}

// heldByTags returns the images the planned status after the prune still names.
func heldByTags(sp StreamPlan) map[string]bool {
	held := make(map[string]bool)
	for _, t := range sp.Tags {
		for _, it := range t.Items {
			held[it.Image] = true
		}
	}
	return held
}

// lineWriter serialises writes, so that lines printed by parallel workers do not interleave.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
