package model

import "context"

// Reader answers the questions the pruner and the audit API ask of the index. Every method reads
// one consistent snapshot only within one call; callers that need several answers to agree (the
// fence's re-check) must compare resource versions themselves.
//
// Lookups return nil slices, never an error, for unknown keys. Iteration stops at the first error
// fn returns and returns it.
type Reader interface {
	// Streams calls fn for every image stream, in one namespace or in all when namespace is "".
	Streams(ctx context.Context, namespace string, fn func(Stream) error) error
	// Stream returns one image stream; ok is false when the index has none by that name.
	Stream(ctx context.Context, namespace, name string) (s Stream, ok bool, err error)
	// Images calls fn for every image.
	Images(ctx context.Context, fn func(Image) error) error
	// Image returns one image by digest; ok is false when the index has none.
	Image(ctx context.Context, digest string) (img Image, ok bool, err error)
	// ReferrersOfTag returns the references that protect item 0 of repo:tag ("ns/name", "tag").
	ReferrersOfTag(ctx context.Context, repo, tag string) ([]Referrer, error)
	// ReferrersOfDigest returns every reference naming digest: under any repository or none
	// when repo is "", else only those whose Repo equals repo.
	ReferrersOfDigest(ctx context.Context, repo, digest string) ([]Referrer, error)
	// Objects calls fn for every referrer object, with its references.
	Objects(ctx context.Context, fn func(Object) error) error
	// Object returns one referrer by key with its references.
	Object(ctx context.Context, key ObjectKey) (o Object, ok bool, err error)
	// LimitRanges returns the openshift.io/Image limits of a namespace.
	LimitRanges(ctx context.Context, namespace string) ([]LimitRange, error)
	// StreamItemsOfImage returns the status items naming image (the reverse of the tag
	// histories): in any stream when repo is "", else only in stream repo ("ns/name").
	// Stage 2 keeps an image while any remaining item holds it.
	StreamItemsOfImage(ctx context.Context, repo, image string) ([]StreamItem, error)
	// BlobCount returns how many images use blob as a layer or config: globally when repo is
	// "", else among the distinct images held by stream repo's status items. A blob is deleted
	// when its global count reaches zero, its layer link in repo when the count there does.
	BlobCount(ctx context.Context, repo, blob string) (int, error)
}
