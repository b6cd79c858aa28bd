// Package slim decodes API objects through slim types: for each kind the extraction
// (pkg/extract) reads, a type that declares only the fields it reads, with the same JSON names
// and the same Go types as the API type, so that values decode the same, errors included.
// json-iterator skips every other field without decoding it, and the slim object is then
// copied into its API type, whose extraction is unchanged.
//
// The typed decode of every field was the largest cost of loading a dump for the one-shot
// prune (16 of 27 s at 200,000 images) and of the webhook's handler time: most fields of a
// Pod or an Image (managed fields, status, resources, volumes) are never read. Fields the
// extraction does not read are therefore not type-checked: an object whose unread fields do
// not match their API types still decodes.
package slim

import (
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// slimMeta is the part of ObjectMeta the extraction reads.
type slimMeta struct {
	Name              string      `json:"name"`
	Namespace         string      `json:"namespace"`
	UID               types.UID   `json:"uid"`
	ResourceVersion   string      `json:"resourceVersion"`
	CreationTimestamp metav1.Time `json:"creationTimestamp"`
}

func (m *slimMeta) objectMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID,
		ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp}
}

// slimContainer is the part of a Container (or of an EphemeralContainer, whose common
// fields are inline) the extraction reads.
type slimContainer struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

type slimPodSpec struct {
	InitContainers      []slimContainer `json:"initContainers"`
	Containers          []slimContainer `json:"containers"`
	EphemeralContainers []slimContainer `json:"ephemeralContainers"`
}

func (s *slimPodSpec) podSpec() corev1.PodSpec {
	var out corev1.PodSpec
	out.InitContainers = containers(s.InitContainers)
	out.Containers = containers(s.Containers)
	if s.EphemeralContainers != nil {
		out.EphemeralContainers = make([]corev1.EphemeralContainer, len(s.EphemeralContainers))
		for i, c := range s.EphemeralContainers {
			out.EphemeralContainers[i].Name, out.EphemeralContainers[i].Image = c.Name, c.Image
		}
	}
	return out
}

func containers(in []slimContainer) []corev1.Container {
	if in == nil {
		return nil
	}
	out := make([]corev1.Container, len(in))
	for i, c := range in {
		out[i].Name, out[i].Image = c.Name, c.Image
	}
	return out
}

type slimTemplate struct {
	Spec slimPodSpec `json:"spec"`
}

func (t *slimTemplate) template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: t.Spec.podSpec()}
}

// optionalTemplate converts a template that may be absent (ReplicationController,
// DeploymentConfig).
func optionalTemplate(t *slimTemplate) *corev1.PodTemplateSpec {
	if t == nil {
		return nil
	}
	out := t.template()
	return &out
}

type slimPod struct {
	metav1.TypeMeta
	Metadata slimMeta    `json:"metadata"`
	Spec     slimPodSpec `json:"spec"`
	Status   struct {
		Phase corev1.PodPhase `json:"phase"`
	} `json:"status"`
}

type slimReplicationController struct {
	metav1.TypeMeta
	Metadata slimMeta `json:"metadata"`
	Spec     struct {
		Template *slimTemplate `json:"template"`
	} `json:"spec"`
}

// slimWorkload is a ReplicaSet, Deployment, StatefulSet, DaemonSet or Job: a pod template
// at spec.template.
type slimWorkload struct {
	metav1.TypeMeta
	Metadata slimMeta `json:"metadata"`
	Spec     struct {
		Template slimTemplate `json:"template"`
	} `json:"spec"`
}

type slimCronJob struct {
	metav1.TypeMeta
	Metadata slimMeta `json:"metadata"`
	Spec     struct {
		JobTemplate struct {
			Spec struct {
				Template slimTemplate `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
}

type slimDeploymentConfig struct {
	metav1.TypeMeta
	Metadata slimMeta `json:"metadata"`
	Spec     struct {
		Template *slimTemplate                    `json:"template"`
		Triggers appsv1.DeploymentTriggerPolicies `json:"triggers"`
	} `json:"spec"`
}

// slimCommonSpec is the part of a Build's or BuildConfig's spec the extraction reads.
type slimCommonSpec struct {
	Source struct {
		Images []buildv1.ImageSource `json:"images"`
	} `json:"source"`
	Strategy buildv1.BuildStrategy `json:"strategy"`
}

func (s *slimCommonSpec) commonSpec() buildv1.CommonSpec {
	return buildv1.CommonSpec{Source: buildv1.BuildSource{Images: s.Source.Images}, Strategy: s.Strategy}
}

type slimBuild struct {
	metav1.TypeMeta
	Metadata slimMeta       `json:"metadata"`
	Spec     slimCommonSpec `json:"spec"`
}

type slimBuildConfig struct {
	metav1.TypeMeta
	Metadata slimMeta `json:"metadata"`
	Spec     struct {
		slimCommonSpec
		Triggers []buildv1.BuildTriggerPolicy `json:"triggers"`
	} `json:"spec"`
}

type slimImageStream struct {
	metav1.TypeMeta
	Metadata slimMeta `json:"metadata"`
	Spec     struct {
		Tags []struct {
			Name string                  `json:"name"`
			From *corev1.ObjectReference `json:"from"`
		} `json:"tags"`
	} `json:"spec"`
	Status struct {
		Tags []struct {
			Tag   string             `json:"tag"`
			Items []imagev1.TagEvent `json:"items"`
		} `json:"tags"`
	} `json:"status"`
}

type slimImage struct {
	metav1.TypeMeta
	Metadata struct {
		slimMeta
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	DockerImageReference         string                  `json:"dockerImageReference"`
	DockerImageMetadata          runtime.RawExtension    `json:"dockerImageMetadata"`
	DockerImageManifestMediaType string                  `json:"dockerImageManifestMediaType"`
	DockerImageLayers            []imagev1.ImageLayer    `json:"dockerImageLayers"`
	DockerImageManifests         []imagev1.ImageManifest `json:"dockerImageManifests"`
}

type slimLimitRange struct {
	metav1.TypeMeta
	Metadata slimMeta `json:"metadata"`
	Spec     struct {
		Limits []struct {
			Type corev1.LimitType    `json:"type"`
			Max  corev1.ResourceList `json:"max"`
		} `json:"limits"`
	} `json:"spec"`
}
