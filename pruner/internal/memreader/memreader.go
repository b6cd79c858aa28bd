// Package memreader is an in-memory model.Reader for the pruner's tests and benchmarks: the
// same answers as the index for the same objects, without Badger. It is not safe for
// concurrent writes and holds everything in memory, so nothing but tests may use it.
package memreader

import (
	"context"
	"sort"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Reader holds streams, images, referrer objects and limit ranges in maps.
type Reader struct {
	streams map[string]model.Stream
	images  map[string]model.Image
	objects map[model.ObjectKey]model.Object
	limits  map[string][]model.LimitRange
}

var _ model.Reader = (*Reader)(nil)

// New returns an empty reader.
func New() *Reader {
	return &Reader{
		streams: map[string]model.Stream{},
		images:  map[string]model.Image{},
		objects: map[model.ObjectKey]model.Object{},
		limits:  map[string][]model.LimitRange{},
	}
}

// AddStream adds or replaces a stream.
func (r *Reader) AddStream(s model.Stream) { r.streams[s.Repo()] = s }

// DeleteStream removes a stream.
func (r *Reader) DeleteStream(namespace, name string) { delete(r.streams, namespace+"/"+name) }

// AddImage adds or replaces an image.
func (r *Reader) AddImage(img model.Image) { r.images[img.Digest] = img }

// DeleteImage removes an image.
func (r *Reader) DeleteImage(digest string) { delete(r.images, digest) }

// AddObject adds or replaces a referrer object with its references.
func (r *Reader) AddObject(o model.Object) { r.objects[o.Key] = o }

// AddLimitRange adds a limit range to its namespace.
func (r *Reader) AddLimitRange(l model.LimitRange) {
	r.limits[l.Namespace] = append(r.limits[l.Namespace], l)
}

// Streams calls fn for the streams of namespace (all when empty), ordered by namespace/name.
func (r *Reader) Streams(ctx context.Context, namespace string, fn func(model.Stream) error) error {
	for _, k := range sortedKeys(r.streams) {
		s := r.streams[k]
		if namespace != "" && s.Namespace != namespace {
			continue
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// Stream returns one stream.
func (r *Reader) Stream(ctx context.Context, namespace, name string) (model.Stream, bool, error) {
	s, ok := r.streams[namespace+"/"+name]
	return s, ok, nil
}

// Images calls fn for every image, ordered by digest.
func (r *Reader) Images(ctx context.Context, fn func(model.Image) error) error {
	for _, k := range sortedKeys(r.images) {
		if err := fn(r.images[k]); err != nil {
			return err
		}
	}
	return nil
}

// Image returns one image.
func (r *Reader) Image(ctx context.Context, digest string) (model.Image, bool, error) {
	img, ok := r.images[digest]
	return img, ok, nil
}

// ReferrersOfTag returns the references naming repo:tag without a digest.
func (r *Reader) ReferrersOfTag(ctx context.Context, repo, tag string) ([]model.Referrer, error) {
	return r.referrers(func(ref model.Ref) bool {
		return ref.Repo == repo && ref.Digest == "" && ref.Tag == tag && ref.Invalid == ""
	}), nil
}

// ReferrersOfDigest returns the references naming digest, under repo unless repo is empty.
func (r *Reader) ReferrersOfDigest(ctx context.Context, repo, digest string) ([]model.Referrer, error) {
	return r.referrers(func(ref model.Ref) bool {
		return ref.Digest == digest && (repo == "" || ref.Repo == repo) && ref.Invalid == ""
	}), nil
}

// Objects calls fn for every object, ordered by key.
func (r *Reader) Objects(ctx context.Context, fn func(model.Object) error) error {
	for _, k := range r.objectKeys() {
		if err := fn(r.objects[k]); err != nil {
			return err
		}
	}
	return nil
}

// Object returns one object.
func (r *Reader) Object(ctx context.Context, key model.ObjectKey) (model.Object, bool, error) {
	o, ok := r.objects[key]
	return o, ok, nil
}

// LimitRanges returns the limit ranges of a namespace.
func (r *Reader) LimitRanges(ctx context.Context, namespace string) ([]model.LimitRange, error) {
	return r.limits[namespace], nil
}

// referrers scans every object; a test double can afford it, the index cannot.
func (r *Reader) referrers(match func(model.Ref) bool) []model.Referrer {
	var out []model.Referrer
	for _, k := range r.objectKeys() {
		o := r.objects[k]
		for _, ref := range o.Refs {
			if match(ref) {
				out = append(out, model.Referrer{Object: o.Key, Created: o.Created, Phase: o.Phase, Ref: ref})
			}
		}
	}
	return out
}

func (r *Reader) objectKeys() []model.ObjectKey {
	keys := make([]model.ObjectKey, 0, len(r.objects))
	for k := range r.objects {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// StreamItemsOfImage returns the status items naming image, in repo or in any stream.
func (r *Reader) StreamItemsOfImage(ctx context.Context, repo, image string) ([]model.StreamItem, error) {
	var out []model.StreamItem
	for _, k := range sortedKeys(r.streams) {
		s := r.streams[k]
		if repo != "" && s.Repo() != repo {
			continue
		}
		for _, t := range s.Tags {
			for pos, it := range t.Items {
				if it.Image == image {
					out = append(out, model.StreamItem{Repo: s.Repo(), Tag: t.Name, Position: pos})
				}
			}
		}
	}
	return out, nil
}

// BlobCount counts the images that use blob as a layer or config blob: all images when repo
// is empty, else the distinct existing images held by repo's status items.
func (r *Reader) BlobCount(ctx context.Context, repo, blob string) (int, error) {
	n := 0
	for _, img := range r.imagesOf(repo) {
		if usesBlob(img, blob) {
			n++
		}
	}
	return n, nil
}

func (r *Reader) imagesOf(repo string) []model.Image {
	if repo == "" {
		out := make([]model.Image, 0, len(r.images))
		for _, img := range r.images {
			out = append(out, img)
		}
		return out
	}
	s, ok := r.streams[repo]
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var out []model.Image
	for _, t := range s.Tags {
		for _, it := range t.Items {
			img, ok := r.images[it.Image]
			if ok && !seen[it.Image] {
				seen[it.Image] = true
				out = append(out, img)
			}
		}
	}
	return out
}

// usesBlob counts the config blob only for the manifest types oc counts it for.
func usesBlob(img model.Image, blob string) bool {
	hasConfig := img.ManifestMediaType == "application/vnd.docker.distribution.manifest.v2+json" ||
		img.ManifestMediaType == "application/vnd.oci.image.manifest.v1+json"
	if hasConfig && img.Config == blob {
		return true
	}
	for _, l := range img.Layers {
		if l.Digest == blob {
			return true
		}
	}
	return false
}
