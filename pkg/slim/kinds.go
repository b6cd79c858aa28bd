package slim

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	jsoniter "github.com/json-iterator/go"
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// decoder decodes one object through a slim type and returns it as its API type.
type decoder func(json jsoniter.API, raw []byte) (runtime.Object, error)

// ErrUnknownKind is Decode's error for a kind without a slim type.
var ErrUnknownKind = errors.New("no slim type for this kind")

// Known reports whether gvk is decoded through a slim type.
func Known(gvk schema.GroupVersionKind) bool {
	return decoders[gvk] != nil
}

// Kinds returns the kinds decoded through slim types, in no particular order.
func Kinds() []schema.GroupVersionKind {
	return slices.Collect(maps.Keys(decoders))
}

// Decode decodes raw, one JSON object of kind gvk, with json (which sets how field names
// match), into gvk's API type holding the fields the extraction reads. The object's TypeMeta
// is what raw states (empty when raw has no apiVersion or kind), so that the caller can check
// it against gvk. A kind without a slim type fails with ErrUnknownKind, raw unread.
func Decode(json jsoniter.API, gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	dec := decoders[gvk]
	if dec == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownKind, gvk)
	}
	return dec(json, raw)
}

// decoders are the kinds decoded through slim types, in the versions extract.Object reads.
var decoders = map[schema.GroupVersionKind]decoder{
	{Version: "v1", Kind: "Pod"}:                   fast(podOf),
	{Version: "v1", Kind: "ReplicationController"}: fast(replicationControllerOf),
	{Version: "v1", Kind: "LimitRange"}:            fast(limitRangeOf),
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"}: fast(func(s *slimWorkload) runtime.Object {
		return &kappsv1.ReplicaSet{ObjectMeta: s.Metadata.objectMeta(), Spec: kappsv1.ReplicaSetSpec{Template: s.Spec.Template.template()}}
	}),
	{Group: "apps", Version: "v1", Kind: "Deployment"}: fast(func(s *slimWorkload) runtime.Object {
		return &kappsv1.Deployment{ObjectMeta: s.Metadata.objectMeta(), Spec: kappsv1.DeploymentSpec{Template: s.Spec.Template.template()}}
	}),
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}: fast(func(s *slimWorkload) runtime.Object {
		return &kappsv1.StatefulSet{ObjectMeta: s.Metadata.objectMeta(), Spec: kappsv1.StatefulSetSpec{Template: s.Spec.Template.template()}}
	}),
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}: fast(func(s *slimWorkload) runtime.Object {
		return &kappsv1.DaemonSet{ObjectMeta: s.Metadata.objectMeta(), Spec: kappsv1.DaemonSetSpec{Template: s.Spec.Template.template()}}
	}),
	{Group: "batch", Version: "v1", Kind: "Job"}: fast(func(s *slimWorkload) runtime.Object {
		return &batchv1.Job{ObjectMeta: s.Metadata.objectMeta(), Spec: batchv1.JobSpec{Template: s.Spec.Template.template()}}
	}),
	{Group: "batch", Version: "v1", Kind: "CronJob"}:                   fast(cronJobOf),
	{Group: appsv1.GroupName, Version: "v1", Kind: "DeploymentConfig"}: fast(deploymentConfigOf),
	{Group: buildv1.GroupName, Version: "v1", Kind: "Build"}:           fast(buildOf),
	{Group: buildv1.GroupName, Version: "v1", Kind: "BuildConfig"}:     fast(buildConfigOf),
	{Group: imagev1.GroupName, Version: "v1", Kind: "ImageStream"}:     fast(imageStreamOf),
	{Group: imagev1.GroupName, Version: "v1", Kind: "Image"}:           fast(imageOf),
}

// typed is a pointer to a slim type: each embeds its TypeMeta.
type typed[S any] interface {
	*S
	GetObjectKind() schema.ObjectKind
}

// fast returns the decoder of the slim type S, converted by convert; the API object takes
// the slim one's apiVersion and kind.
func fast[S any, P typed[S]](convert func(P) runtime.Object) decoder {
	return func(json jsoniter.API, raw []byte) (runtime.Object, error) {
		var s S
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		obj := convert(&s)
		obj.GetObjectKind().SetGroupVersionKind(P(&s).GetObjectKind().GroupVersionKind())
		return obj, nil
	}
}

func podOf(s *slimPod) runtime.Object {
	return &corev1.Pod{ObjectMeta: s.Metadata.objectMeta(), Spec: s.Spec.podSpec(),
		Status: corev1.PodStatus{Phase: s.Status.Phase}}
}

func replicationControllerOf(s *slimReplicationController) runtime.Object {
	return &corev1.ReplicationController{ObjectMeta: s.Metadata.objectMeta(),
		Spec: corev1.ReplicationControllerSpec{Template: optionalTemplate(s.Spec.Template)}}
}

func limitRangeOf(s *slimLimitRange) runtime.Object {
	lr := &corev1.LimitRange{ObjectMeta: s.Metadata.objectMeta()}
	if s.Spec.Limits != nil {
		lr.Spec.Limits = make([]corev1.LimitRangeItem, len(s.Spec.Limits))
		for i, l := range s.Spec.Limits {
			lr.Spec.Limits[i] = corev1.LimitRangeItem{Type: l.Type, Max: l.Max}
		}
	}
	return lr
}

func cronJobOf(s *slimCronJob) runtime.Object {
	cj := &batchv1.CronJob{ObjectMeta: s.Metadata.objectMeta()}
	cj.Spec.JobTemplate.Spec.Template = s.Spec.JobTemplate.Spec.Template.template()
	return cj
}

func deploymentConfigOf(s *slimDeploymentConfig) runtime.Object {
	return &appsv1.DeploymentConfig{ObjectMeta: s.Metadata.objectMeta(),
		Spec: appsv1.DeploymentConfigSpec{Template: optionalTemplate(s.Spec.Template), Triggers: s.Spec.Triggers}}
}

func buildOf(s *slimBuild) runtime.Object {
	return &buildv1.Build{ObjectMeta: s.Metadata.objectMeta(), Spec: buildv1.BuildSpec{CommonSpec: s.Spec.commonSpec()}}
}

func buildConfigOf(s *slimBuildConfig) runtime.Object {
	return &buildv1.BuildConfig{ObjectMeta: s.Metadata.objectMeta(),
		Spec: buildv1.BuildConfigSpec{CommonSpec: s.Spec.commonSpec(), Triggers: s.Spec.Triggers}}
}

func imageStreamOf(s *slimImageStream) runtime.Object {
	is := &imagev1.ImageStream{ObjectMeta: s.Metadata.objectMeta()}
	if s.Spec.Tags != nil {
		is.Spec.Tags = make([]imagev1.TagReference, len(s.Spec.Tags))
		for i, t := range s.Spec.Tags {
			is.Spec.Tags[i] = imagev1.TagReference{Name: t.Name, From: t.From}
		}
	}
	if s.Status.Tags != nil {
		is.Status.Tags = make([]imagev1.NamedTagEventList, len(s.Status.Tags))
		for i, t := range s.Status.Tags {
			is.Status.Tags[i] = imagev1.NamedTagEventList{Tag: t.Tag, Items: t.Items}
		}
	}
	return is
}

func imageOf(s *slimImage) runtime.Object {
	img := &imagev1.Image{
		ObjectMeta:                   s.Metadata.objectMeta(),
		DockerImageReference:         s.DockerImageReference,
		DockerImageMetadata:          s.DockerImageMetadata,
		DockerImageManifestMediaType: s.DockerImageManifestMediaType,
		DockerImageLayers:            s.DockerImageLayers,
		DockerImageManifests:         s.DockerImageManifests,
	}
	img.Annotations = s.Metadata.Annotations
	return img
}
