package tracker

import (
	"encoding/json"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Strip is the cache transform: it replaces an object, before the informer stores it, by one
// holding only what extraction reads, so that the cache of a large cluster stays small (a pod
// keeps its identity, phase and container names and images; an Image its layers, manifests
// and the two metadata fields the policy reads). Extraction of the stripped object equals
// extraction of the original: positions that field paths name (triggers, source images) are
// kept. Objects of other types lose only their managed fields. Type meta is kept.
func Strip(in any) (any, error) {
	out := strip(in)
	if from, ok := in.(runtime.Object); ok {
		if to, ok := out.(runtime.Object); ok {
			to.GetObjectKind().SetGroupVersionKind(from.GetObjectKind().GroupVersionKind())
		}
	}
	return out, nil
}

func strip(in any) any {
	switch o := in.(type) {
	case *corev1.Pod:
		return &corev1.Pod{ObjectMeta: slimMeta(&o.ObjectMeta), Spec: slimPodSpec(&o.Spec),
			Status: corev1.PodStatus{Phase: o.Status.Phase}}
	case *corev1.ReplicationController:
		out := &corev1.ReplicationController{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.Template = slimTemplatePtr(o.Spec.Template)
		return out
	case *kappsv1.ReplicaSet:
		out := &kappsv1.ReplicaSet{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.Template = slimTemplate(&o.Spec.Template)
		return out
	case *kappsv1.Deployment:
		out := &kappsv1.Deployment{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.Template = slimTemplate(&o.Spec.Template)
		return out
	case *kappsv1.StatefulSet:
		out := &kappsv1.StatefulSet{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.Template = slimTemplate(&o.Spec.Template)
		return out
	case *kappsv1.DaemonSet:
		out := &kappsv1.DaemonSet{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.Template = slimTemplate(&o.Spec.Template)
		return out
	case *batchv1.Job:
		out := &batchv1.Job{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.Template = slimTemplate(&o.Spec.Template)
		return out
	case *batchv1.CronJob:
		out := &batchv1.CronJob{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.JobTemplate.Spec.Template = slimTemplate(&o.Spec.JobTemplate.Spec.Template)
		return out
	case *appsv1.DeploymentConfig:
		return slimDeploymentConfig(o)
	case *buildv1.Build:
		out := &buildv1.Build{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.CommonSpec = slimBuildSpec(&o.Spec.CommonSpec)
		return out
	case *buildv1.BuildConfig:
		out := &buildv1.BuildConfig{ObjectMeta: slimMeta(&o.ObjectMeta)}
		out.Spec.CommonSpec = slimBuildSpec(&o.Spec.CommonSpec)
		out.Spec.Triggers = slimBuildTriggers(o.Spec.Triggers)
		return out
	case *imagev1.ImageStream:
		return slimImageStream(o)
	case *imagev1.Image:
		return slimImage(o)
	case *corev1.LimitRange:
		return slimLimitRange(o)
	case metav1.Object:
		o.SetManagedFields(nil)
	}
	return in
}

// slimMeta keeps identity, version and creation time; labels, annotations, owners and managed
// fields go (the Image transform puts back the one annotation it needs).
func slimMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID,
		ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp,
	}
}

func slimContainers(cs []corev1.Container) []corev1.Container {
	if cs == nil {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i := range cs {
		out[i] = corev1.Container{Name: cs[i].Name, Image: cs[i].Image}
	}
	return out
}

func slimPodSpec(s *corev1.PodSpec) corev1.PodSpec {
	out := corev1.PodSpec{InitContainers: slimContainers(s.InitContainers), Containers: slimContainers(s.Containers)}
	if s.EphemeralContainers != nil {
		out.EphemeralContainers = make([]corev1.EphemeralContainer, len(s.EphemeralContainers))
		for i := range s.EphemeralContainers {
			c := &s.EphemeralContainers[i]
			out.EphemeralContainers[i].Name, out.EphemeralContainers[i].Image = c.Name, c.Image
		}
	}
	return out
}

func slimTemplate(t *corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: slimPodSpec(&t.Spec)}
}

func slimTemplatePtr(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	if t == nil {
		return nil
	}
	out := slimTemplate(t)
	return &out
}

func slimDeploymentConfig(o *appsv1.DeploymentConfig) *appsv1.DeploymentConfig {
	out := &appsv1.DeploymentConfig{ObjectMeta: slimMeta(&o.ObjectMeta)}
	out.Spec.Template = slimTemplatePtr(o.Spec.Template)
	if o.Spec.Triggers != nil {
		out.Spec.Triggers = make(appsv1.DeploymentTriggerPolicies, len(o.Spec.Triggers))
		for i, t := range o.Spec.Triggers {
			out.Spec.Triggers[i].Type = t.Type
			if t.ImageChangeParams != nil {
				out.Spec.Triggers[i].ImageChangeParams = &appsv1.DeploymentTriggerImageChangeParams{From: t.ImageChangeParams.From}
			}
		}
	}
	return out
}

func slimBuildSpec(s *buildv1.CommonSpec) buildv1.CommonSpec {
	var out buildv1.CommonSpec
	if st := s.Strategy.SourceStrategy; st != nil {
		out.Strategy.SourceStrategy = &buildv1.SourceBuildStrategy{From: st.From}
	}
	if st := s.Strategy.DockerStrategy; st != nil {
		out.Strategy.DockerStrategy = &buildv1.DockerBuildStrategy{From: st.From}
	}
	if st := s.Strategy.CustomStrategy; st != nil {
		out.Strategy.CustomStrategy = &buildv1.CustomBuildStrategy{From: st.From}
	}
	if s.Strategy.JenkinsPipelineStrategy != nil {
		out.Strategy.JenkinsPipelineStrategy = &buildv1.JenkinsPipelineBuildStrategy{}
	}
	if s.Source.Images != nil {
		out.Source.Images = make([]buildv1.ImageSource, len(s.Source.Images))
		for i := range s.Source.Images {
			out.Source.Images[i].From = s.Source.Images[i].From
		}
	}
	return out
}

func slimBuildTriggers(ts []buildv1.BuildTriggerPolicy) []buildv1.BuildTriggerPolicy {
	if ts == nil {
		return nil
	}
	out := make([]buildv1.BuildTriggerPolicy, len(ts))
	for i, t := range ts {
		out[i].Type = t.Type
		if t.ImageChange != nil {
			out[i].ImageChange = &buildv1.ImageChangeTrigger{From: t.ImageChange.From}
		}
	}
	return out
}

func slimImageStream(o *imagev1.ImageStream) *imagev1.ImageStream {
	out := &imagev1.ImageStream{ObjectMeta: slimMeta(&o.ObjectMeta)}
	if o.Spec.Tags != nil {
		out.Spec.Tags = make([]imagev1.TagReference, len(o.Spec.Tags))
		for i, t := range o.Spec.Tags {
			out.Spec.Tags[i] = imagev1.TagReference{Name: t.Name, From: t.From}
		}
	}
	if o.Status.Tags != nil {
		out.Status.Tags = make([]imagev1.NamedTagEventList, len(o.Status.Tags))
		for i, t := range o.Status.Tags {
			out.Status.Tags[i] = imagev1.NamedTagEventList{Tag: t.Tag, Items: t.Items}
		}
	}
	return out
}

// imageMetadata is the part of dockerImageMetadata extraction reads (pkg/extract/images.go).
type imageMetadata struct {
	ID   string `json:"Id,omitempty"`
	Size int64  `json:"Size,omitempty"`
}

func slimImage(o *imagev1.Image) *imagev1.Image {
	out := &imagev1.Image{
		ObjectMeta:                   slimMeta(&o.ObjectMeta),
		DockerImageReference:         o.DockerImageReference,
		DockerImageManifestMediaType: o.DockerImageManifestMediaType,
		DockerImageLayers:            o.DockerImageLayers,
		DockerImageMetadata:          o.DockerImageMetadata,
	}
	if v, ok := o.Annotations[imagev1.ManagedByOpenShiftAnnotation]; ok {
		out.Annotations = map[string]string{imagev1.ManagedByOpenShiftAnnotation: v}
	}
	if o.DockerImageManifests != nil {
		out.DockerImageManifests = make([]imagev1.ImageManifest, len(o.DockerImageManifests))
		for i, m := range o.DockerImageManifests {
			out.DockerImageManifests[i].Digest = m.Digest
		}
	}
	// The metadata carries the whole image config (environment, history, labels); keep only
	// the id and size. Metadata that does not decode is kept as is, so that extraction reports
	// it exactly as it would for the original.
	if raw := o.DockerImageMetadata.Raw; o.DockerImageMetadata.Object == nil && len(raw) > 0 {
		var m imageMetadata
		if json.Unmarshal(raw, &m) == nil {
			if small, err := json.Marshal(m); err == nil {
				out.DockerImageMetadata = runtime.RawExtension{Raw: small}
			}
		}
	}
	return out
}

func slimLimitRange(o *corev1.LimitRange) *corev1.LimitRange {
	out := &corev1.LimitRange{ObjectMeta: slimMeta(&o.ObjectMeta)}
	for _, l := range o.Spec.Limits {
		if l.Type != imagev1.LimitTypeImage {
			continue
		}
		item := corev1.LimitRangeItem{Type: l.Type}
		if q, ok := l.Max[corev1.ResourceStorage]; ok {
			item.Max = corev1.ResourceList{corev1.ResourceStorage: q}
		}
		out.Spec.Limits = append(out.Spec.Limits, item)
	}
	return out
}
