package model

import "time"

// Kind names of the objects pruneguard reads. They are the Kubernetes kinds, so that an ObjectKey
// prints as users know it from kubectl ("Pod/ns/name").
const (
	KindPod                   = "Pod"
	KindReplicationController = "ReplicationController"
	KindReplicaSet            = "ReplicaSet"
	KindDeployment            = "Deployment"
	KindStatefulSet           = "StatefulSet"
	KindDaemonSet             = "DaemonSet"
	KindJob                   = "Job"
	KindCronJob               = "CronJob"
	KindDeploymentConfig      = "DeploymentConfig"
	KindBuild                 = "Build"
	KindBuildConfig           = "BuildConfig"
	KindImageStream           = "ImageStream"
	KindImage                 = "Image"
	KindLimitRange            = "LimitRange"
)

// ObjectKey identifies a referrer. Namespace is empty only for cluster-scoped kinds.
type ObjectKey struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String prints the key as KIND/NAMESPACE/NAME, the form the CLI accepts with --object.
func (k ObjectKey) String() string {
	if k.Namespace == "" {
		return k.Kind + "/" + k.Name
	}
	return k.Kind + "/" + k.Namespace + "/" + k.Name
}

// RefKind says how a reference names its image: by pull spec, or through an image stream.
type RefKind string

// The reference kinds of OpenShift's ObjectReference, plus DockerImage for plain pull specs.
const (
	RefDockerImage      RefKind = "DockerImage"
	RefImageStreamTag   RefKind = "ImageStreamTag"
	RefImageStreamImage RefKind = "ImageStreamImage"
)

// Ref is one image reference found in an object, with the keys the pruner matches on.
//
// Repo, Tag and Digest are the oc match keys: a reference protects the stream item
// Repo@Digest when Digest is set, otherwise item 0 of Repo:Tag. Repo is empty when the reference
// cannot protect any stream (no registry host, no namespace, or a multi-segment name), exactly
// as oc ignores such references; Digest can still be set then, and pruneguard keeps an Image
// whose digest any reference names. Invalid is the parse error of a reference that is not a
// valid image reference; such a reference protects nothing and aborts a prune unless invalid
// references are ignored.
type Ref struct {
	// FieldPath locates the reference in its object, e.g. "spec.containers[app].image" or
	// "spec.strategy.sourceStrategy.from".
	FieldPath string `json:"fieldPath"`
	// Container is the container name for references held by a container, else empty.
	Container string `json:"container,omitempty"`
	// Kind is how the reference is written.
	Kind RefKind `json:"refKind"`
	// Raw is the reference as written: the pull spec, or "NAMESPACE/NAME:TAG" for ImageStreamTag
	// and "NAMESPACE/NAME@DIGEST" for ImageStreamImage.
	Raw string `json:"raw"`
	// Repo is "NAMESPACE/NAME" of the image stream the reference can protect, or empty.
	Repo string `json:"repo,omitempty"`
	// Tag is set when the reference names no digest; "latest" when it names neither.
	Tag string `json:"tag,omitempty"`
	// Digest is the image digest the reference names, if any ("sha256:...").
	Digest string `json:"digest,omitempty"`
	// Invalid is the reason the reference could not be parsed; the other keys are empty then.
	Invalid string `json:"invalid,omitempty"`
	// Extra is true for references that pruneguard counts and oc does not (ephemeral
	// containers, image change triggers, build source images, image stream spec tags).
	Extra bool `json:"extra,omitempty"`
}

// Object is a referrer with the references it carries and the metadata the policy reads.
type Object struct {
	Key             ObjectKey `json:"key"`
	UID             string    `json:"uid,omitempty"`
	ResourceVersion string    `json:"resourceVersion,omitempty"`
	Created         time.Time `json:"created"`
	// Phase is the pod phase; empty for other kinds. oc counts a pod's references only while
	// it is Running or Pending, or when it was created after the keep-younger-than cutoff.
	Phase string `json:"phase,omitempty"`
	Refs  []Ref  `json:"refs,omitempty"`
}

// Referrer is one reference seen from the image side: the object, its metadata, and the ref.
type Referrer struct {
	Object  ObjectKey `json:"object"`
	Created time.Time `json:"created"`
	Phase   string    `json:"phase,omitempty"`
	Ref     Ref       `json:"ref"`
	// Pending is true for references recorded at admission and not yet seen by a watch.
	Pending bool `json:"pending,omitempty"`
	// Since is when the index first recorded this reference.
	Since time.Time `json:"since,omitempty"`
}

// Blob is a layer or config blob of an image.
type Blob struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType,omitempty"`
}

// Image is what the policy needs of an image.openshift.io Image.
type Image struct {
	Digest string `json:"digest"`
	// Name is the Image object's name. OpenShift names every Image by its digest; an API
	// server that serves images from a CRD (the test environment) cannot hold ':' in a name
	// and names it "sha256.HEX" instead, so deletes must use Name (ObjectName), never Digest.
	// The index keeps it only where it differs from the digest and returns "" otherwise.
	Name                 string    `json:"name,omitempty"`
	Created              time.Time `json:"created"`
	Managed              bool      `json:"managed"`
	DockerImageReference string    `json:"dockerImageReference,omitempty"`
	ManifestMediaType    string    `json:"manifestMediaType,omitempty"`
	// Size is dockerImageMetadata.Size, the sum oc compares with a LimitRange's max.storage.
	Size int64 `json:"size"`
	// Layers are dockerImageLayers in order.
	Layers []Blob `json:"layers,omitempty"`
	// Config is the config blob digest (dockerImageMetadata.Id for schema 2), or empty.
	Config string `json:"config,omitempty"`
	// Children are the digests of the manifests of a manifest list (dockerImageManifests).
	Children []string `json:"children,omitempty"`
}

// ObjectName returns the name of the Image object: Name, or the digest when Name is empty.
func (i Image) ObjectName() string {
	if i.Name != "" {
		return i.Name
	}
	return i.Digest
}

// TagItem is one revision in a tag's history, newest first as OpenShift keeps them.
type TagItem struct {
	Image                string    `json:"image"`
	Created              time.Time `json:"created"`
	DockerImageReference string    `json:"dockerImageReference,omitempty"`
	Generation           int64     `json:"generation,omitempty"`
}

// StreamItem locates one status item of an image stream: item Position (0 = newest) of the
// history of Tag in stream Repo ("NAMESPACE/NAME").
type StreamItem struct {
	Repo     string `json:"repo"`
	Tag      string `json:"tag"`
	Position int    `json:"position"`
}

// Tag is one status tag of an image stream.
type Tag struct {
	Name  string    `json:"tag"`
	Items []TagItem `json:"items"`
}

// Stream is what the policy needs of an ImageStream: its status tag histories.
type Stream struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	// ResourceVersion is kept so that an update of the stream can be made conditional.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Tags            []Tag  `json:"tags,omitempty"`
}

// Repo returns "NAMESPACE/NAME", the repository name of the stream in the registry.
func (s Stream) Repo() string { return s.Namespace + "/" + s.Name }

// LimitRange holds the smallest max.storage of the openshift.io/Image limits in a namespace.
type LimitRange struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// MaxImageSize is max.storage of the openshift.io/Image limit in bytes; 0 when unset.
	MaxImageSize int64 `json:"maxImageSize"`
}
