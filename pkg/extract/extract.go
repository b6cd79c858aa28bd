package extract

import (
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pruneguard/pruneguard/pkg/imageref"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// Result is what one object contributes to the model. Kind says what the object was; which of
// the other fields are set follows from it:
//
//   - a referrer kind (Pod ... BuildConfig): Referrer;
//   - ImageStream: Stream, and Referrer for its spec tags (an ImageStream refers to images
//     through spec.tags[].from; the Referrer is present even with no refs, so that an update
//     removing the last spec tag replaces the old refs);
//   - Image: Image;
//   - LimitRange: LimitRange;
//   - anything else: nothing, Kind "".
//
// Invalid holds one error per Ref of Referrer with Invalid set, in the same order.
type Result struct {
	Kind       string
	Referrer   *model.Object
	Image      *model.Image
	Stream     *model.Stream
	LimitRange *model.LimitRange
	Invalid    []*imageref.InvalidReferenceError
}

// Known reports whether the object was of a kind pruneguard reads.
func (r Result) Known() bool { return r.Kind != "" }

// Object extracts what obj contributes to the model. obj is a pointer to a typed object of a
// kind pruneguard reads, or an *unstructured.Unstructured of such a kind (converted first,
// which is slower). Any other object gives an empty Result and a nil error.
//
// Invalid image references never make it fail (see Result.Invalid). It fails only for an
// Image whose dockerImageMetadata does not decode, and for an unstructured object that does
// not convert to its typed form; the error names the object.
func Object(obj runtime.Object) (Result, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return pod(o), nil
	case *corev1.ReplicationController:
		return replicationController(o), nil
	case *kappsv1.ReplicaSet:
		return fromTemplate(model.KindReplicaSet, &o.ObjectMeta, templateSpecPath, &o.Spec.Template.Spec), nil
	case *kappsv1.Deployment:
		return fromTemplate(model.KindDeployment, &o.ObjectMeta, templateSpecPath, &o.Spec.Template.Spec), nil
	case *kappsv1.StatefulSet:
		return fromTemplate(model.KindStatefulSet, &o.ObjectMeta, templateSpecPath, &o.Spec.Template.Spec), nil
	case *kappsv1.DaemonSet:
		return fromTemplate(model.KindDaemonSet, &o.ObjectMeta, templateSpecPath, &o.Spec.Template.Spec), nil
	case *batchv1.Job:
		return fromTemplate(model.KindJob, &o.ObjectMeta, templateSpecPath, &o.Spec.Template.Spec), nil
	case *batchv1.CronJob:
		return fromTemplate(model.KindCronJob, &o.ObjectMeta, cronJobSpecPath, &o.Spec.JobTemplate.Spec.Template.Spec), nil
	case *appsv1.DeploymentConfig:
		return deploymentConfig(o), nil
	case *buildv1.Build:
		return build(model.KindBuild, &o.ObjectMeta, &o.Spec.CommonSpec, nil), nil
	case *buildv1.BuildConfig:
		return build(model.KindBuildConfig, &o.ObjectMeta, &o.Spec.CommonSpec, o.Spec.Triggers), nil
	case *imagev1.ImageStream:
		return imageStream(o), nil
	case *imagev1.Image:
		img, err := Image(o)
		if err != nil {
			return Result{}, err
		}
		return Result{Kind: model.KindImage, Image: &img}, nil
	case *corev1.LimitRange:
		lr := LimitRange(o)
		return Result{Kind: model.KindLimitRange, LimitRange: &lr}, nil
	case *unstructured.Unstructured:
		return fromUnstructured(o)
	}
	return Result{}, nil
}

func pod(p *corev1.Pod) Result {
	c := newCollector(model.KindPod, &p.ObjectMeta, containerCount(&p.Spec))
	c.obj.Phase = string(p.Status.Phase)
	c.podSpec(podSpecPath, &p.Spec)
	return c.result()
}

func replicationController(rc *corev1.ReplicationController) Result {
	if rc.Spec.Template == nil {
		return newCollector(model.KindReplicationController, &rc.ObjectMeta, 0).result()
	}
	return fromTemplate(model.KindReplicationController, &rc.ObjectMeta, templateSpecPath, &rc.Spec.Template.Spec)
}

// fromUnstructured converts u to its typed form when it is a kind pruneguard reads.
func fromUnstructured(u *unstructured.Unstructured) (Result, error) {
	typed := newTyped(u.GroupVersionKind().Group, u.GroupVersionKind().Version, u.GetKind())
	if typed == nil {
		return Result{}, nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		return Result{}, fmt.Errorf("failed to convert %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return Object(typed)
}

// newTyped returns an empty typed object of a v1 kind pruneguard reads, or nil.
func newTyped(group, version, kind string) runtime.Object {
	if version != "v1" {
		return nil
	}
	switch group + "/" + kind {
	case "/" + model.KindPod:
		return &corev1.Pod{}
	case "/" + model.KindReplicationController:
		return &corev1.ReplicationController{}
	case "/" + model.KindLimitRange:
		return &corev1.LimitRange{}
	case "apps/" + model.KindReplicaSet:
		return &kappsv1.ReplicaSet{}
	case "apps/" + model.KindDeployment:
		return &kappsv1.Deployment{}
	case "apps/" + model.KindStatefulSet:
		return &kappsv1.StatefulSet{}
	case "apps/" + model.KindDaemonSet:
		return &kappsv1.DaemonSet{}
	case "batch/" + model.KindJob:
		return &batchv1.Job{}
	case "batch/" + model.KindCronJob:
		return &batchv1.CronJob{}
	case appsv1.GroupName + "/" + model.KindDeploymentConfig:
		return &appsv1.DeploymentConfig{}
	case buildv1.GroupName + "/" + model.KindBuild:
		return &buildv1.Build{}
	case buildv1.GroupName + "/" + model.KindBuildConfig:
		return &buildv1.BuildConfig{}
	case imagev1.GroupName + "/" + model.KindImage:
		return &imagev1.Image{}
	case imagev1.GroupName + "/" + model.KindImageStream:
		return &imagev1.ImageStream{}
	}
	return nil
}
