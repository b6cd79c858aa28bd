package pruner

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// PodProbe makes a server-side dry-run create of a pod, labelled pruneguard.io/fence-probe,
// whose image references the first image (or tag) of the fence, in Namespace (pruneguard's
// own namespace: the chart's match condition sends probe pods from there to the webhook). The
// dry run persists nothing and the webhook records nothing for it.
type PodProbe struct {
	Client    client.Client
	Namespace string
}

// Probe implements Prober.
func (p PodProbe) Probe(ctx context.Context, f *fence.Fence) error {
	image := ""
	switch {
	case len(f.Spec.Images) > 0:
		image = probeHost + "/pruneguard/fence-probe@" + f.Spec.Images[0]
	case len(f.Spec.Tags) > 0:
		t := f.Spec.Tags[0]
		image = probeHost + "/" + t.Namespace + "/" + t.ImageStream + ":" + t.Tag
	default:
		return fmt.Errorf("fence %s lists no image or tag to probe: %w", f.Name, ErrNotEnforced)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "pruneguard-fence-probe", Namespace: p.Namespace,
			Labels: map[string]string{fence.LabelProbe: "true"},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: image}}},
	}
	err := p.Client.Create(ctx, pod, client.DryRunAll)
	switch {
	case err == nil || apierrors.IsAlreadyExists(err):
		return fmt.Errorf("a dry-run pod referencing %s was admitted in namespace %s (is the webhook registered and serving?): %w", image, p.Namespace, ErrNotEnforced)
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "fence "+f.Name):
		return nil
	default:
		return fmt.Errorf("the dry-run pod referencing %s was not refused by fence %s: %w: %w", image, f.Name, ErrNotEnforced, err)
	}
}
