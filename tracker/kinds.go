package tracker

import (
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Kind is one kind of object the tracker watches.
type Kind struct {
	// Name is the model kind (model.KindPod, ...).
	Name string
	// GVK is the API group, version and kind it is watched and listed as.
	GVK schema.GroupVersionKind
	// New returns an empty object of the kind; NewList an empty list.
	New     func() client.Object
	NewList func() client.ObjectList
	// Resource is the kind's plural resource name in the API path ("pods").
	Resource string
	// Namespaced is false for cluster-scoped kinds (Image).
	Namespaced bool
}

// Kinds returns every kind the tracker watches: the referrer kinds, then ImageStreams, Images
// and LimitRanges. A new slice each call.
func Kinds() []Kind {
	builtin := func(gv schema.GroupVersion) func(string, func() client.Object, func() client.ObjectList) Kind {
		return func(name string, newObj func() client.Object, newList func() client.ObjectList) Kind {
			return Kind{Name: name, GVK: gv.WithKind(name), New: newObj, NewList: newList, Namespaced: true}
		}
	}
	core, apps, batch := builtin(corev1.SchemeGroupVersion), builtin(kappsv1.SchemeGroupVersion), builtin(batchv1.SchemeGroupVersion)
	kinds := []Kind{
		core(model.KindPod, func() client.Object { return &corev1.Pod{} }, func() client.ObjectList { return &corev1.PodList{} }),
		core(model.KindReplicationController, func() client.Object { return &corev1.ReplicationController{} },
			func() client.ObjectList { return &corev1.ReplicationControllerList{} }),
		apps(model.KindReplicaSet, func() client.Object { return &kappsv1.ReplicaSet{} }, func() client.ObjectList { return &kappsv1.ReplicaSetList{} }),
		apps(model.KindDeployment, func() client.Object { return &kappsv1.Deployment{} }, func() client.ObjectList { return &kappsv1.DeploymentList{} }),
		apps(model.KindStatefulSet, func() client.Object { return &kappsv1.StatefulSet{} }, func() client.ObjectList { return &kappsv1.StatefulSetList{} }),
		apps(model.KindDaemonSet, func() client.Object { return &kappsv1.DaemonSet{} }, func() client.ObjectList { return &kappsv1.DaemonSetList{} }),
		batch(model.KindJob, func() client.Object { return &batchv1.Job{} }, func() client.ObjectList { return &batchv1.JobList{} }),
		batch(model.KindCronJob, func() client.Object { return &batchv1.CronJob{} }, func() client.ObjectList { return &batchv1.CronJobList{} }),
		{Name: model.KindDeploymentConfig, GVK: appsv1.GroupVersion.WithKind(model.KindDeploymentConfig), Namespaced: true,
			New: func() client.Object { return &appsv1.DeploymentConfig{} }, NewList: func() client.ObjectList { return &appsv1.DeploymentConfigList{} }},
		{Name: model.KindBuild, GVK: buildv1.GroupVersion.WithKind(model.KindBuild), Namespaced: true,
			New: func() client.Object { return &buildv1.Build{} }, NewList: func() client.ObjectList { return &buildv1.BuildList{} }},
		{Name: model.KindBuildConfig, GVK: buildv1.GroupVersion.WithKind(model.KindBuildConfig), Namespaced: true,
			New: func() client.Object { return &buildv1.BuildConfig{} }, NewList: func() client.ObjectList { return &buildv1.BuildConfigList{} }},
		{Name: model.KindImageStream, GVK: imagev1.GroupVersion.WithKind(model.KindImageStream), Namespaced: true,
			New: func() client.Object { return &imagev1.ImageStream{} }, NewList: func() client.ObjectList { return &imagev1.ImageStreamList{} }},
		{Name: model.KindImage, GVK: imagev1.GroupVersion.WithKind(model.KindImage),
			New: func() client.Object { return &imagev1.Image{} }, NewList: func() client.ObjectList { return &imagev1.ImageList{} }},
		core(model.KindLimitRange, func() client.Object { return &corev1.LimitRange{} }, func() client.ObjectList { return &corev1.LimitRangeList{} }),
	}
	for i := range kinds {
		kinds[i].Resource = strings.ToLower(kinds[i].Name) + "s"
	}
	return kinds
}
