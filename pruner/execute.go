package pruner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/registry"
)

// Executor carries out a Plan through its Deleters, in the order the Plan documents and with
// oc's parallelism: the streams are pruned by Workers goroutines, then the images are.
//
// A failure never stops the prune; it is reported for its object, and the prune goes on with
// the others. What a failure leaves behind stays consistent, so that a later run finishes it:
//   - a stream whose layer links could not all be deleted is not updated (its items still name
//     the images whose links are left), and its manifest links are not deleted;
//   - an image that a stream which could not be updated still names is not deleted, and
//     neither are its blobs (nor, when Reader is set, any blob of its that the plan meant to
//     delete along with another image);
//   - an image whose blobs could not all be deleted keeps its Image object, so the blobs are
//     found again next time (oc deletes it when at least one blob went; pruneguard keeps
//     more, because an Image without some of its blobs can be pulled by nobody).
//
// A manifest link is not deleted while the stream, as updated, still names the manifest: a
// concurrent push may have tagged it again.
type Executor struct {
	Deleters Deleters
	// Workers is the number of parallel workers (--num-workers); below 1 means 1. Use 1 for
	// a dry run, so that the lines print in plan order.
	Workers int
	// Reader, when set, gives the blobs of the images kept because their stream could not be
	// updated; without it, no blob is deleted once a stream update has failed.
	Reader model.Reader
}

// ExecuteError aggregates the failures of a prune: one error per object that failed.
type ExecuteError struct {
	Errors []error
}

func (e *ExecuteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d deletion(s) failed; run the prune again to finish them:", len(e.Errors))
	for _, err := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the individual failures.
func (e *ExecuteError) Unwrap() []error { return e.Errors }

// Outcome is what a prune deleted.
type Outcome struct {
	// Plan holds the streams changed and the Images deleted, each with the links and blobs
	// that went with it.
	Plan *Plan
	// KeptImageBlobs are blobs deleted for an image whose Image object was then kept because
	// another of its blobs could not be deleted.
	KeptImageBlobs []string
}

// Summary counts what was deleted: the "Summary:" line of the prune.
func (o *Outcome) Summary() Summary {
	s := o.Plan.Summary()
	s.DeletedBlobs += len(o.KeptImageBlobs)
	return s
}

// Report is the -o json / -o yaml form of the outcome.
func (o *Outcome) Report() Report {
	r := NewReport(o.Plan, false)
	r.Blobs = append(r.Blobs, o.KeptImageBlobs...)
	r.Summary = o.Summary()
	return r
}

// Execute deletes what plan says and returns what was deleted, and an *ExecuteError when
// anything failed. Blobs a distribution registry leaves to its garbage collector are not in
// the outcome.
func (e *Executor) Execute(ctx context.Context, plan *Plan) (*Outcome, error) {
	done := &Plan{Streams: make([]StreamPlan, len(plan.Streams)), Images: make([]ImagePlan, len(plan.Images))}
	out := &Outcome{Plan: done}
	deleted := make([]bool, len(plan.Images))
	var errs []error
	blocked := make(map[string]string) // image digest -> stream that still names it
	var mu sync.Mutex
	e.parallel(len(plan.Streams), func(i int) {
		sp := plan.Streams[i]
		d, serrs, ok := e.pruneStream(ctx, sp)
		mu.Lock()
		defer mu.Unlock()
		done.Streams[i] = d
		errs = append(errs, serrs...)
		if !ok {
			for _, it := range sp.Deleted {
				blocked[it.Image] = sp.Repo()
			}
		}
	})
	protected, err := e.protectedBlobs(ctx, blocked)
	if err != nil {
		errs = append(errs, err)
	}
	e.parallel(len(plan.Images), func(i int) {
		d, ierrs := e.pruneImage(ctx, plan.Images[i], blocked, protected)
		mu.Lock()
		defer mu.Unlock()
		done.Images[i], deleted[i] = d, len(ierrs) == 0
		if !deleted[i] {
			out.KeptImageBlobs = append(out.KeptImageBlobs, d.Blobs...)
		}
		errs = append(errs, ierrs...)
	})
	done.compact(deleted)
	if len(errs) > 0 {
		return out, &ExecuteError{Errors: errs}
	}
	return out, nil
}

// parallel calls fn(0..n-1) from e.Workers goroutines and waits for them.
func (e *Executor) parallel(n int, fn func(i int)) {
	workers := min(max(e.Workers, 1), n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// pruneStream deletes the stream's layer links, updates its status, then deletes its
// manifest links. ok is false when the status was not updated.
func (e *Executor) pruneStream(ctx context.Context, sp StreamPlan) (done StreamPlan, errs []error, ok bool) {
	repo := sp.Repo()
	done = StreamPlan{Namespace: sp.Namespace, Name: sp.Name, ResourceVersion: sp.ResourceVersion, Tags: sp.Tags}
	for _, l := range sp.LayerLinks {
		if err := e.Deleters.LayerLinks.DeleteLayerLink(ctx, repo, l); err != nil {
			errs = append(errs, fmt.Errorf("image stream %s: failed to delete layer link %s: %w", repo, l, err))
			continue
		}
		done.LayerLinks = append(done.LayerLinks, l)
	}
	if len(errs) > 0 {
		errs = append(errs, fmt.Errorf("image stream %s: not updated because %d of its layer link(s) could not be deleted; its %d item(s) and their images are kept",
			repo, len(errs), len(sp.Deleted)))
		return done, errs, false
	}
	upd, err := e.Deleters.Streams.UpdateImageStream(ctx, sp)
	if err != nil {
		return done, append(errs, err), false
	}
	done.Deleted = upd.Removed
	for _, m := range sp.ManifestLinks {
		if upd.Held[m] {
			continue // tagged again since the plan: the link is in use
		}
		if err := e.Deleters.ManifestLinks.DeleteManifestLink(ctx, repo, m); err != nil {
			errs = append(errs, fmt.Errorf("image stream %s: failed to delete manifest link %s: %w", repo, m, err))
			continue
		}
		done.ManifestLinks = append(done.ManifestLinks, m)
	}
	return done, errs, true
}

// pruneImage deletes the image's blobs, then the Image object unless a blob failed.
func (e *Executor) pruneImage(ctx context.Context, ip ImagePlan, blocked map[string]string, protected map[string]bool) (ImagePlan, []error) {
	done := ImagePlan{Digest: ip.Digest, Reason: ip.Reason}
	if stream, ok := blocked[ip.Digest]; ok {
		return done, []error{fmt.Errorf("image %s: kept because image stream %s, which still names it, could not be updated", ip.Digest, stream)}
	}
	var errs []error
	for _, b := range ip.Blobs {
		if protected == nil || protected[b] {
			continue // an image kept above still uses it
		}
		err := e.Deleters.Blobs.DeleteBlob(ctx, b)
		switch {
		case errors.Is(err, registry.ErrNoAdminAPI):
		case err != nil:
			errs = append(errs, fmt.Errorf("image %s: failed to delete blob %s: %w", ip.Digest, b, err))
		default:
			done.Blobs = append(done.Blobs, b)
		}
	}
	if len(errs) > 0 {
		return done, append(errs, fmt.Errorf("image %s: Image object kept because %d of its blob(s) could not be deleted", ip.Digest, len(errs)))
	}
	if err := e.Deleters.Images.DeleteImage(ctx, ip.Digest); err != nil {
		return done, []error{fmt.Errorf("image %s: %w", ip.Digest, err)}
	}
	return done, nil
}

// protectedBlobs returns the blobs of the images kept because their stream could not be
// updated: an empty set when there are none, nil (protect every blob) when they cannot be
// read.
func (e *Executor) protectedBlobs(ctx context.Context, blocked map[string]string) (map[string]bool, error) {
	protected := make(map[string]bool)
	if len(blocked) == 0 {
		return protected, nil
	}
	if e.Reader == nil {
		return nil, fmt.Errorf("no blob is deleted: %d image(s) are kept because their image stream could not be updated, and their blobs cannot be read", len(blocked))
	}
	for digest := range blocked {
		img, ok, err := e.Reader.Image(ctx, digest)
		if err != nil {
			return nil, fmt.Errorf("failed to read image %s, so no blob is deleted: %w", digest, err)
		}
		protected[digest] = true
		if ok {
			for _, b := range imageBlobs(img) {
				protected[b] = true
			}
		}
	}
	return protected, nil
}

// compact drops the streams that were not changed and the images that were not deleted, so
// that the Plan says what was done.
func (p *Plan) compact(deleted []bool) {
	streams := p.Streams[:0]
	for _, s := range p.Streams {
		if len(s.Deleted) > 0 || len(s.LayerLinks) > 0 || len(s.ManifestLinks) > 0 {
			streams = append(streams, s)
		}
	}
	p.Streams = streams
	images := p.Images[:0]
	for i, ip := range p.Images {
		if deleted[i] {
			images = append(images, ip)
		}
	}
	p.Images = images
}
