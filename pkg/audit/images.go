package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// errPageFull stops an iteration once a page has one entry more than it returns.
var errPageFull = errors.New("page full")

// Images implements Source. Images come in the index's digest order. Without a namespace it
// walks every Image of the index; with one it walks the images held by that namespace's image
// streams, so a namespace query costs what the namespace holds, not what the cluster holds.
// An image a stream holds but whose Image object the index lacks is not listed.
func (l *Local) Images(ctx context.Context, q ImagesQuery) (*ImageList, error) {
	filter, err := normalizeFilter(q.Filter)
	if err != nil {
		return nil, err
	}
	after := ""
	if q.Continue != "" {
		if after, err = decodeToken(q.Continue); err != nil {
			return nil, err
		}
	}
	out := &ImageList{Images: []ImageUsage{}}
	visit := func(img model.Image) error {
		key := imageOrderKey(img.Digest)
		if after != "" && key <= after {
			return nil
		}
		u, err := l.usage(ctx, img, q.Namespace)
		if err != nil {
			return err
		}
		if (filter == FilterReferenced && !u.Referenced) || (filter == FilterUnreferenced && u.Referenced) {
			return nil
		}
		if q.Limit > 0 && len(out.Images) == q.Limit {
			out.Continue = encodeToken(imageOrderKey(out.Images[len(out.Images)-1].Digest))
			return errPageFull
		}
		out.Images = append(out.Images, u)
		return nil
	}
	if q.Namespace == "" {
		err = l.r.Images(ctx, visit)
	} else {
		err = l.namespaceImages(ctx, q.Namespace, visit)
	}
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, fmt.Errorf("failed to list images: %w", err)
	}
	return out, nil
}

func normalizeFilter(f string) (string, error) {
	switch f {
	case "", FilterAll:
		return FilterAll, nil
	case FilterReferenced, FilterUnreferenced:
		return f, nil
	}
	return "", fmt.Errorf("image filter %q: want %s, %s or %s: %w", f, FilterAll, FilterReferenced, FilterUnreferenced, ErrInvalidArgument)
}

// namespaceImages calls fn for each image held by a stream of namespace, in index order.
func (l *Local) namespaceImages(ctx context.Context, namespace string, fn func(model.Image) error) error {
	seen := map[string]bool{}
	err := l.r.Streams(ctx, namespace, func(s model.Stream) error {
		for _, t := range s.Tags {
			for _, it := range t.Items {
				if it.Image != "" {
					seen[it.Image] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	digests := make([]string, 0, len(seen))
	for d := range seen {
		digests = append(digests, d)
	}
	slices.SortFunc(digests, func(a, b string) int { return strings.Compare(imageOrderKey(a), imageOrderKey(b)) })
	for _, d := range digests {
		img, found, err := l.r.Image(ctx, d)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if err := fn(img); err != nil {
			return err
		}
	}
	return nil
}

// usage describes img: its streams (those of namespace only, when set) and how many
// references reach it across the cluster.
func (l *Local) usage(ctx context.Context, img model.Image, namespace string) (ImageUsage, error) {
	u := ImageUsage{Digest: img.Digest, Name: img.Name, Created: img.Created, Size: img.Size,
		Streams: []string{}, Namespaces: []string{}}
	items, err := l.r.StreamItemsOfImage(ctx, "", img.Digest)
	if err != nil {
		return u, err
	}
	for _, it := range items {
		ns := repoNamespace(it.Repo)
		if namespace != "" && ns != namespace {
			continue
		}
		if !slices.Contains(u.Streams, it.Repo) {
			u.Streams = append(u.Streams, it.Repo)
		}
		if !slices.Contains(u.Namespaces, ns) {
			u.Namespaces = append(u.Namespaces, ns)
		}
	}
	set := referrerSet{}
	if err := set.addImage(ctx, l.r, img.Digest, items); err != nil {
		return u, err
	}
	u.Referrers = len(set)
	u.Referenced = u.Referrers > 0
	return u, nil
}

// imageOrderKey orders digests as the index iterates its images (keys.go of pkg/index): the
// canonical "sha256:<64 hex>" digests by their hex (which orders as their raw bytes), after
// every other digest, which the index orders by length, then bytes. Continue tokens of Images
// hold this key, so a page boundary survives the deletion of the image it names.
func imageOrderKey(d string) string {
	if hex, ok := strings.CutPrefix(d, "sha256:"); ok && len(hex) == 64 && isLowerHex(hex) {
		return "1" + hex
	}
	return fmt.Sprintf("0%04x%s", len(d), d)
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
