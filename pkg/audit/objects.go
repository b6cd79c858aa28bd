package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// PendingReader lists the pending records of an index: objects admitted by the webhook and
// not yet seen by a watch. *index.Index implements it; a Reader without it (the temporary
// index of a dump has no pending records anyway) answers with the confirmed state only.
type PendingReader interface {
	PendingObjects(ctx context.Context, fn func(index.PendingObject) error) error
}

var _ PendingReader = (*index.Index)(nil)

// errFound stops the scan of pending records once the one sought is found.
var errFound = errors.New("found")

// ObjectImages implements Source: every reference of the object's confirmed state, in the
// object's order, then every reference of its pending record (the version admitted and not
// yet seen by a watch), marked StatePending with the time it was recorded, as `refs IMAGE`
// lists pending referrers. A reference both states hold is listed once per state. Each
// names the digest it names or, for a tag, the digest of the tag's current item when the
// index has the stream. An object that is only pending is found; one in neither state is
// ErrNotFound.
func (l *Local) ObjectImages(ctx context.Context, q ObjectQuery) (*ObjectImages, error) {
	key, err := ParseObjectKey(q.Object)
	if err != nil {
		return nil, err
	}
	o, found, err := l.r.Object(ctx, key)
	if err != nil {
		return nil, err
	}
	p, pending, err := l.pendingObject(ctx, key)
	if err != nil {
		return nil, err
	}
	if !found && !pending {
		return nil, fmt.Errorf("object %s is not in the index: %w", key, ErrNotFound)
	}
	rows := make([]ObjectImage, 0, len(o.Refs)+len(p.Object.Refs))
	for _, ref := range o.Refs {
		row, err := l.objectImage(ctx, ref)
		if err != nil {
			return nil, err
		}
		row.State = StateConfirmed
		rows = append(rows, row)
	}
	for _, ref := range p.Object.Refs {
		row, err := l.objectImage(ctx, ref)
		if err != nil {
			return nil, err
		}
		row.State, row.Since = StatePending, p.Since
		rows = append(rows, row)
	}
	out := &ObjectImages{Object: key}
	out.Images, out.Continue, err = pageIndexed(rows, q.Page)
	return out, err
}

// pendingObject returns the pending record of key, when the reader keeps pending records.
// It scans them: they are few (each lives until a watch confirms it, seconds, or expires).
func (l *Local) pendingObject(ctx context.Context, key model.ObjectKey) (index.PendingObject, bool, error) {
	pr, ok := l.r.(PendingReader)
	if !ok {
		return index.PendingObject{}, false, nil
	}
	var out index.PendingObject
	err := pr.PendingObjects(ctx, func(p index.PendingObject) error {
		if p.Object.Key == key {
			out = p
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return out, true, nil
	case err != nil:
		return out, false, fmt.Errorf("failed to read the pending record of %s: %w", key, err)
	}
	return out, false, nil
}

func (l *Local) objectImage(ctx context.Context, ref model.Ref) (ObjectImage, error) {
	row := ObjectImage{Container: ref.Container, FieldPath: ref.FieldPath, Reference: ref.Raw,
		Invalid: ref.Invalid, PruneguardOnly: ref.Extra}
	switch {
	case ref.Invalid != "":
		row.Note = "invalid reference"
		return row, nil
	case ref.Digest != "":
		row.Digest, row.ResolvedBy = ref.Digest, ViaDigest
	case ref.Repo == "":
		row.Note = "names no image stream (no registry host, no namespace, or a nested name)"
		return row, nil
	case l.canRead != nil && !l.canRead(ctx, repoNamespace(ref.Repo)):
		row.Note = "not resolved: you may not read image streams in namespace " + repoNamespace(ref.Repo)
		return row, nil
	default:
		d, err := currentImage(ctx, l.r, ref.Repo, ref.Tag)
		if err != nil {
			return row, err
		}
		if d == "" {
			row.Note = "image stream tag " + ref.Repo + ":" + ref.Tag + " holds no image"
			return row, nil
		}
		row.Digest, row.ResolvedBy = d, ref.Repo+":"+ref.Tag
	}
	_, known, err := l.r.Image(ctx, row.Digest)
	row.Known = known
	return row, err
}
