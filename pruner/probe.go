package pruner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/fence"
)

// ReplicaLister names the webhook replicas that serve admissions now; each must have observed
// a fence before it counts as propagated.
type ReplicaLister interface {
	ServingReplicas(ctx context.Context) ([]string, error)
}

// StaticReplicas is a fixed list of replicas (tests, or a single process).
type StaticReplicas []string

// ServingReplicas implements ReplicaLister.
func (s StaticReplicas) ServingReplicas(context.Context) ([]string, error) { return s, nil }

// EndpointSliceReplicas lists the pods behind the webhook Service: the endpoints that the API
// server may send an admission to. An endpoint counts while it is serving or ready (a
// terminating pod still answers), so a replica going away must still observe the fence.
type EndpointSliceReplicas struct {
	Client    client.Reader
	Namespace string
	Service   string
}

// ServingReplicas implements ReplicaLister.
func (e EndpointSliceReplicas) ServingReplicas(ctx context.Context) ([]string, error) {
	var slices discoveryv1.EndpointSliceList
	err := e.Client.List(ctx, &slices, client.InNamespace(e.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: e.Service})
	if err != nil {
		return nil, fmt.Errorf("failed to list the endpoints of service %s/%s: %w", e.Namespace, e.Service, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			serving := ep.Conditions.Serving == nil || *ep.Conditions.Serving
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				serving = true
			}
			if !serving || ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || seen[ep.TargetRef.Name] {
				continue
			}
			seen[ep.TargetRef.Name] = true
			out = append(out, ep.TargetRef.Name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("service %s/%s has no serving endpoint: %w", e.Namespace, e.Service, ErrNoReplica)
	}
	return out, nil
}

// ErrNoReplica means no webhook replica serves: a fence could not be enforced.
var ErrNoReplica = errors.New("no webhook replica is serving")

// ErrNotEnforced is returned when the verify step's dry-run create was admitted, or refused
// by something other than the fence: the webhook is down, bypassed or misconfigured.
var ErrNotEnforced = errors.New("the fence is not enforced")

// Prober proves that a fence is enforced end to end.
type Prober interface {
	// Probe returns nil only when an object referencing what f fences is refused because of f.
	Probe(ctx context.Context, f *fence.Fence) error
}

// probeHost is the registry host of the probe's image reference. It is never pulled (the
// create is a dry run); .invalid cannot resolve (RFC 2606).
const probeHost = "fence-probe.pruneguard.invalid"

// probeName names the probe objects. A dry run persists nothing, so the name is never taken.
const probeName = "pruneguard-fence-probe"

// PodProbe verifies a fence with a server-side dry-run create that the webhook must refuse
// because of that fence. The dry run persists nothing and the webhook records nothing for it.
//
// A fence that lists an image (or a tag) is probed with a pod, labelled
// pruneguard.io/fence-probe, whose container references the first image (or tag), in
// Namespace (pruneguard's own namespace: the chart's match condition sends probe pods from
// there to the webhook). A fence of blobs alone (stream items whose images stay, freeing
// only layer links) names nothing a pod can reference, so it is probed with a dry-run Image
// whose layer is the first fenced blob: the webhook refuses an Image create that uses a blob
// being freed. That needs create on images.image.openshift.io (cluster-scoped). A fence that
// lists nothing protects nothing and is not probed.
type PodProbe struct {
	Client    client.Client
	Namespace string
}

// Probe implements Prober.
func (p PodProbe) Probe(ctx context.Context, f *fence.Fence) error {
	var (
		obj  client.Object
		what string
	)
	switch {
	case len(f.Spec.Images) > 0:
		image := probeHost + "/pruneguard/fence-probe@" + f.Spec.Images[0]
		obj, what = p.pod(image), fmt.Sprintf("a dry-run pod referencing %s in namespace %s", image, p.Namespace)
	case len(f.Spec.Tags) > 0:
		t := f.Spec.Tags[0]
		image := probeHost + "/" + t.Namespace + "/" + t.ImageStream + ":" + t.Tag
		obj, what = p.pod(image), fmt.Sprintf("a dry-run pod referencing %s in namespace %s", image, p.Namespace)
	case len(f.Spec.Blobs) > 0:
		obj, what = blobProbe(f.Spec.Blobs[0]), "a dry-run Image with layer "+f.Spec.Blobs[0]
	default:
		return nil
	}
	err := p.Client.Create(ctx, obj, client.DryRunAll)
	switch {
	case err == nil || apierrors.IsAlreadyExists(err):
		return fmt.Errorf("%s was admitted (is the webhook registered and serving?): %w", what, ErrNotEnforced)
	case apierrors.IsForbidden(err) && deniedBy(err, f.Name):
		return nil
	default:
		return fmt.Errorf("%s was not refused by fence %s: %w: %w", what, f.Name, ErrNotEnforced, err)
	}
}

func (p PodProbe) pod(image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: probeName, Namespace: p.Namespace,
			Labels: map[string]string{fence.LabelProbe: "true"},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: image}}},
	}
}

// blobProbe is an Image whose only layer is blob. Its name is no digest and its reference
// carries none, so it names no fenced image: only the blob can make the webhook refuse it.
func blobProbe(blob string) *imagev1.Image {
	return &imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{
			Name:   probeName,
			Labels: map[string]string{fence.LabelProbe: "true"},
		},
		DockerImageReference:         probeHost + "/pruneguard/fence-probe:latest",
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		DockerImageLayers: []imagev1.ImageLayer{{
			Name: blob, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
		}},
	}
}

// deniedBy reports whether err is the webhook's denial naming fence name; the denial says
// "(fence NAME)" or "(fence NAME: reason)", so a fence whose name extends name does not count.
func deniedBy(err error, name string) bool {
	msg := err.Error()
	return strings.Contains(msg, "(fence "+name+")") || strings.Contains(msg, "(fence "+name+": ")
}
