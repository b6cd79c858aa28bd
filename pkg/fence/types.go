package fence

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of Fence, as the chart's CRD
// (charts/pruneguard/crds/pruneguard.io_fences.yaml) serves it.
var GroupVersion = schema.GroupVersion{Group: "pruneguard.io", Version: "v1alpha1"}

// AddToScheme registers Fence and FenceList with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Fence{}, &FenceList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Phase is where the fence protocol is (DESIGN.md, "The fence"). The values are the CRD's enum.
type Phase string

// The phases, in protocol order. A fence without a phase is Pending.
const (
	// PhasePending: created; waiting for every serving webhook replica to observe it.
	PhasePending Phase = "Pending"
	// PhaseEnforced: observed by every replica and verified by a refused dry-run create.
	PhaseEnforced Phase = "Enforced"
	// PhaseDeleting: references re-checked; the deletion is under way.
	PhaseDeleting Phase = "Deleting"
	// PhaseTombstoned: deleted; late references are refused with "pruned at PrunedAt".
	PhaseTombstoned Phase = "Tombstoned"
	// PhaseLifting: being removed, after the protocol finished or was aborted.
	PhaseLifting Phase = "Lifting"
)

// Labels and annotations of the fences the pruner creates.
const (
	// LabelOwner marks a fence as created by pruneguard's pruner; a restarted pruner lists
	// fences by it to resume or lift them. Its value is "pruner".
	LabelOwner = "pruneguard.io/owner"
	// OwnerPruner is the value of LabelOwner on the pruner's fences.
	OwnerPruner = "pruner"
	// AnnotationStreams lists the image streams ("ns/name", comma separated) whose items the
	// fenced prune removes, so that a restarted pruner can plan them again. Metadata, not spec:
	// it says how to resume, not what is fenced.
	AnnotationStreams = "pruneguard.io/streams"
	// LabelProbe marks the dry-run probe pod of the verify step; the chart's webhook match
	// condition sends such pods from pruneguard's own namespace to the webhook.
	LabelProbe = "pruneguard.io/fence-probe"
)

// Fence marks images, image stream tags and blobs as being deleted. See the package comment.
//
// +kubebuilder:object:generate=true
// +kubebuilder:object:root=true
type Fence struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec   `json:"spec"`
	Status            Status `json:"status,omitempty"`
}

// FenceList is a list of fences.
//
// +kubebuilder:object:generate=true
// +kubebuilder:object:root=true
//
//nolint:revive // the scheme takes the Kind from the Go type name, and the CRD's listKind is FenceList
type FenceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Fence `json:"items"`
}

// Spec is what is being deleted. It is immutable (the CRD refuses changes), so a replica that
// has observed a fence has observed all of it.
//
// +kubebuilder:object:generate=true
type Spec struct {
	// Images are the digests of the Image objects being deleted.
	Images []string `json:"images,omitempty"`
	// Tags are the image stream tags whose current item is being removed.
	Tags []Tag `json:"tags,omitempty"`
	// Blobs are the layer and config blobs the deletion frees.
	Blobs []string `json:"blobs,omitempty"`
	// Reason says why, in words an admin can act on; the denial message quotes it.
	Reason string `json:"reason,omitempty"`
}

// Tag is an image stream tag whose current item (history item 0) is removed.
//
// +kubebuilder:object:generate=true
type Tag struct {
	Namespace   string `json:"namespace"`
	ImageStream string `json:"imageStream"`
	Tag         string `json:"tag"`
	// Image is the digest of the tag's current image.
	Image string `json:"image"`
}

// Repo returns "NAMESPACE/NAME", the form model.Ref.Repo has.
func (t Tag) Repo() string { return t.Namespace + "/" + t.ImageStream }

// Status is where the protocol is and who has observed the fence.
//
// +kubebuilder:object:generate=true
type Status struct {
	Phase Phase `json:"phase,omitempty"`
	// ObservedBy has one entry per webhook replica that enforces the fence; each replica
	// writes its own entry with server-side apply under its own field manager.
	ObservedBy []Observation `json:"observedBy,omitempty"`
	// PrunedAt is when the deletion finished (set with PhaseTombstoned).
	PrunedAt *metav1.Time `json:"prunedAt,omitempty"`
	Message  string       `json:"message,omitempty"`
}

// Observation is one replica's record that it enforces the fence.
//
// +kubebuilder:object:generate=true
type Observation struct {
	Replica    string      `json:"replica"`
	ObservedAt metav1.Time `json:"observedAt"`
}

// ObservedByReplica reports whether replica has recorded its observation of f.
func (f *Fence) ObservedByReplica(replica string) bool {
	for _, o := range f.Status.ObservedBy {
		if o.Replica == replica {
			return true
		}
	}
	return false
}

// CurrentPhase is the fence's phase, Pending when unset.
func (f *Fence) CurrentPhase() Phase {
	if f.Status.Phase == "" {
		return PhasePending
	}
	return f.Status.Phase
}
