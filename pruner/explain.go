package pruner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pruneguard/pruneguard/pkg/imageref"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// Explanation answers "why is this image kept, or why would it be pruned": the decision about
// every stream item that holds the image, and about the Image object.
type Explanation struct {
	Image string `json:"image"`
	// Exists is false when the index has no Image object with this digest (its stream items
	// are then dropped by the image-missing rule).
	Exists bool `json:"exists"`
	// Items are the decisions about the stream items naming the image, in plan order.
	Items []Reason `json:"items"`
	// Decision is the decision about the Image object; nil when it does not exist.
	Decision *Reason `json:"decision,omitempty"`
	// Abort is set when a prune with these flags would abort on invalid references; the
	// decisions are then those of a prune with --ignore-invalid-refs.
	Abort string `json:"abort,omitempty"`
}

// Kept reports whether the image survives the prune: its Image object is kept, or (when it
// has none) some stream item naming it is.
func (e *Explanation) Kept() bool {
	if e.Decision != nil {
		return e.Decision.Keep
	}
	for _, it := range e.Items {
		if it.Keep {
			return true
		}
	}
	return false
}

// Explain plans a full prune under p and collects the decisions about digest. It runs the
// same planner as a prune, so its answer is the prune's.
func Explain(ctx context.Context, r model.Reader, p Policy, digest string) (*Explanation, error) {
	e := &Explanation{Image: digest, Items: []Reason{}}
	if !p.IgnoreInvalidRefs {
		err := CheckReferences(ctx, r, p)
		var invalid *InvalidReferencesError
		switch {
		case errors.As(err, &invalid):
			e.Abort = fmt.Sprintf("a prune with these flags aborts: %d invalid image reference(s); pass --ignore-invalid-refs", len(invalid.Refs))
		case err != nil:
			return nil, err
		}
		p.IgnoreInvalidRefs = true
	}
	_, ok, err := r.Image(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("failed to read image %s: %w", digest, err)
	}
	e.Exists = ok
	pl := NewPlanner(r, p)
	pl.SetTrace(func(rs Reason) {
		if rs.Image != digest {
			return
		}
		if rs.Stage == 1 {
			e.Items = append(e.Items, rs)
			return
		}
		e.Decision = &rs
	})
	if _, err := pl.Plan(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// WriteText prints the explanation, one decision a line.
func (e *Explanation) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "pruned"
	if e.Kept() {
		verdict = "kept"
	}
	fmt.Fprintf(&b, "Image %s: %s\n", e.Image, verdict)
	if e.Abort != "" {
		fmt.Fprintf(&b, "  note: %s\n", e.Abort)
	}
	for _, it := range e.Items {
		fmt.Fprintf(&b, "  item %s:%s revision %d: %s\n", it.Stream, it.Tag, it.Revision, it)
	}
	switch {
	case e.Decision != nil:
		fmt.Fprintf(&b, "  image: %s\n", e.Decision)
	default:
		b.WriteString("  image: no Image object with this digest exists\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ErrImageNotResolved is matched by the error of ResolveImage when a pull spec names a tag
// the index cannot resolve to a digest.
var ErrImageNotResolved = errors.New("image not resolved")

// ResolveImage turns explain's argument into a digest: a digest as is, a pull spec with a
// digest to its digest, and a pull spec or NAMESPACE/STREAM[:TAG] naming a tag to the image
// of revision 1 of that image stream tag.
func ResolveImage(ctx context.Context, r model.Reader, arg string) (string, error) {
	if strings.HasPrefix(arg, "sha256:") {
		return arg, nil
	}
	ref, err := imageref.Parse(arg)
	if err != nil {
		return "", fmt.Errorf("invalid image %q: %w", arg, err)
	}
	if ref.Digest != "" {
		return ref.Digest, nil
	}
	if ref.Namespace == "" || ref.Name == "" || strings.Contains(ref.Name, "/") {
		return "", fmt.Errorf("image %q names no image stream (want a digest, REGISTRY/NAMESPACE/STREAM[:TAG] or NAMESPACE/STREAM[:TAG]): %w", arg, ErrImageNotResolved)
	}
	tag := ref.Tag
	if tag == "" {
		tag = imageref.DefaultTag
	}
	s, ok, err := r.Stream(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return "", fmt.Errorf("failed to read image stream %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	if ok {
		for _, t := range s.Tags {
			if t.Name == tag && len(t.Items) > 0 {
				return t.Items[0].Image, nil
			}
		}
	}
	return "", fmt.Errorf("image stream tag %s/%s:%s has no image: %w", ref.Namespace, ref.Name, tag, ErrImageNotResolved)
}
