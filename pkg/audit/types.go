package audit

import (
	"context"
	"errors"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Source answers the audit queries. Local answers from an index and a trail; Client asks a
// running `serve` through the API. A query with Limit > 0 returns at most Limit entries and a
// Continue token when more follow; pass it back as Continue for the next page.
type Source interface {
	// Referrers lists the references to one image.
	Referrers(ctx context.Context, q ImageQuery) (*ImageReferrers, error)
	// ObjectImages lists the images one object references.
	ObjectImages(ctx context.Context, q ObjectQuery) (*ObjectImages, error)
	// Images lists images by whether anything references them.
	Images(ctx context.Context, q ImagesQuery) (*ImageList, error)
	// History lists the trail records of one image, oldest first.
	History(ctx context.Context, q HistoryQuery) (*History, error)
}

// Sentinel errors of the queries; the API maps them to HTTP status codes and Client maps the
// codes back, so callers match them with errors.Is whichever Source they use.
var (
	// ErrInvalidArgument: the image or object argument cannot be parsed (400).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: the object is not in the index, or the server has no audit trail (404).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: no bearer token, or one the API server does not accept (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the caller may not read the scope of the query (403).
	ErrForbidden = errors.New("forbidden")
)

// Page is the paging part of every query.
type Page struct {
	// Limit bounds the entries returned; 0 means all (the API caps it, see HandlerOptions).
	Limit int `json:"limit,omitempty"`
	// Continue is the token of the previous page's answer; "" starts at the beginning.
	Continue string `json:"continue,omitempty"`
}

// ImageQuery asks who references Image: a digest ("sha256:..."), a pull spec with or without
// a digest, or NAMESPACE/STREAM[:TAG]. A pull spec or NAMESPACE/STREAM naming a tag stands
// for that tag (its referrers) and for the tag's current image (item 0), whose referrers by
// digest and by every tag currently pointing at it are listed too.
type ImageQuery struct {
	Image string `json:"image"`
	// Namespace limits the answer to referrers in one namespace; "" is the whole cluster.
	Namespace string `json:"namespace,omitempty"`
	Page
}

// Via values of Referrer: how the reference reaches the image.
const (
	// ViaDigest: the reference names the image's digest.
	ViaDigest = "digest"
	// ViaTag: the reference names an image stream tag whose current item is the image (or
	// the tag the query named).
	ViaTag = "tag"
)

// States of a reference.
const (
	// StateConfirmed: a watch (or a full list) has seen the object with this reference.
	StateConfirmed = "confirmed"
	// StatePending: recorded at admission, not yet seen by a watch.
	StatePending = "pending"
)

// Referrer is one reference to the queried image.
type Referrer struct {
	Object model.ObjectKey `json:"object"`
	// Container is the container holding the reference, FieldPath where it is written.
	Container string `json:"container,omitempty"`
	FieldPath string `json:"fieldPath"`
	// Reference is the reference as written in the object.
	Reference string `json:"reference"`
	// Via says whether it names the digest or a tag; Tag is "NAMESPACE/STREAM:TAG" then.
	Via string `json:"via"`
	Tag string `json:"tag,omitempty"`
	// State is StateConfirmed or StatePending.
	State string `json:"state"`
	// Since is when the index first recorded the reference; Created is the object's creation.
	Since   time.Time `json:"since,omitzero"`
	Created time.Time `json:"created,omitzero"`
	// Phase is the pod phase, for pods.
	Phase string `json:"phase,omitempty"`
	// PruneguardOnly marks references pruneguard counts and oc does not.
	PruneguardOnly bool `json:"pruneguardOnly,omitempty"`
}

// ImageReferrers answers an ImageQuery.
type ImageReferrers struct {
	// Query is the argument as given; Image the digest it resolved to ("" when it names a tag
	// that holds no image); Tag the "NAMESPACE/STREAM:TAG" it named, if any.
	Query string `json:"query"`
	Image string `json:"image,omitempty"`
	Tag   string `json:"tag,omitempty"`
	// StreamItems are the image stream items holding the image (within the namespace of a
	// namespace-scoped query).
	StreamItems []model.StreamItem `json:"streamItems"`
	Referrers   []Referrer         `json:"referrers"`
	Continue    string             `json:"continue,omitempty"`
}

// ObjectQuery asks what Object references: "KIND/NAMESPACE/NAME" (or "KIND/NAME" for a
// cluster-scoped kind).
type ObjectQuery struct {
	Object string `json:"object"`
	Page
}

// ObjectImage is one reference of the queried object, resolved to a digest where the index
// knows it.
type ObjectImage struct {
	Container string `json:"container,omitempty"`
	FieldPath string `json:"fieldPath"`
	Reference string `json:"reference"`
	// Digest is the digest the reference names, or the current image of the tag it names.
	Digest string `json:"digest,omitempty"`
	// ResolvedBy is "digest" when the reference names it, "NAMESPACE/STREAM:TAG" when the
	// stream's current item gave it, "" when unresolved (Note says why).
	ResolvedBy string `json:"resolvedBy,omitempty"`
	// Known is true when the index has an Image object with Digest.
	Known bool `json:"known"`
	// State is StateConfirmed for a reference of the object as a watch saw it, StatePending
	// for one of the version the webhook admitted and no watch has shown yet; Since is when
	// that pending record was made (zero for confirmed rows).
	State          string    `json:"state"`
	Since          time.Time `json:"since,omitzero"`
	Note           string    `json:"note,omitempty"`
	Invalid        string    `json:"invalid,omitempty"`
	PruneguardOnly bool      `json:"pruneguardOnly,omitempty"`
}

// ObjectImages answers an ObjectQuery.
type ObjectImages struct {
	Object   model.ObjectKey `json:"object"`
	Images   []ObjectImage   `json:"images"`
	Continue string          `json:"continue,omitempty"`
}

// Image filters of ImagesQuery.
const (
	FilterAll          = "all"
	FilterReferenced   = "referenced"
	FilterUnreferenced = "unreferenced"
)

// ImagesQuery lists images. Filter is FilterAll (""), FilterReferenced or
// FilterUnreferenced; Namespace keeps the images held by an image stream of that namespace
// (an image's namespaces are those of the streams holding it).
type ImagesQuery struct {
	Filter    string `json:"filter,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Page
}

// ImageUsage is one image of an ImageList.
type ImageUsage struct {
	Digest  string    `json:"digest"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created,omitzero"`
	Size    int64     `json:"size"`
	// Streams are the "NAMESPACE/STREAM" holding the image (in the query's namespace only,
	// for a namespace-scoped query); Namespaces their namespaces.
	Streams    []string `json:"streams"`
	Namespaces []string `json:"namespaces"`
	// Referrers counts the references to the image across the cluster, by digest or through
	// a tag whose current item it is; Referenced is Referrers > 0.
	Referrers  int  `json:"referrers"`
	Referenced bool `json:"referenced"`
}

// ImageList answers an ImagesQuery.
type ImageList struct {
	Images   []ImageUsage `json:"images"`
	Continue string       `json:"continue,omitempty"`
}

// HistoryQuery asks for the trail of one image (any form ImageQuery accepts).
type HistoryQuery struct {
	Image     string `json:"image"`
	Namespace string `json:"namespace,omitempty"`
	Page
}

// History answers a HistoryQuery.
type History struct {
	Query    string   `json:"query"`
	Image    string   `json:"image,omitempty"`
	Records  []Record `json:"records"`
	Continue string   `json:"continue,omitempty"`
}
