package synth

import (
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// referrerObject builds the typed object of referrer i.
func (c *Cluster) referrerObject(i int) client.Object {
	r := &c.referrers[i]
	meta := c.meta(r.kind.String(), i, c.namespaces[r.ns].name, r.name, r.created)
	meta.Labels = map[string]string{"app": r.app}
	tm := func(apiVersion string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: apiVersion, Kind: r.kind.String()}
	}
	switch r.kind {
	case kindPod:
		return &corev1.Pod{TypeMeta: tm("v1"), ObjectMeta: meta, Spec: podSpec(r),
			Status: corev1.PodStatus{Phase: corev1.PodPhase(r.phase)}}
	case kindReplicaSet:
		return &kappsv1.ReplicaSet{TypeMeta: tm("apps/v1"), ObjectMeta: meta, Spec: kappsv1.ReplicaSetSpec{
			Replicas: &r.replicas, Selector: selector(r), Template: template(r)}}
	case kindDeployment:
		return &kappsv1.Deployment{TypeMeta: tm("apps/v1"), ObjectMeta: meta, Spec: kappsv1.DeploymentSpec{
			Replicas: &r.replicas, Selector: selector(r), Template: template(r)}}
	case kindStatefulSet:
		return &kappsv1.StatefulSet{TypeMeta: tm("apps/v1"), ObjectMeta: meta, Spec: kappsv1.StatefulSetSpec{
			Replicas: &r.replicas, ServiceName: r.name, Selector: selector(r), Template: template(r)}}
	case kindDaemonSet:
		return &kappsv1.DaemonSet{TypeMeta: tm("apps/v1"), ObjectMeta: meta, Spec: kappsv1.DaemonSetSpec{
			Selector: selector(r), Template: template(r)}}
	case kindReplicationController:
		t := template(r)
		return &corev1.ReplicationController{TypeMeta: tm("v1"), ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{
			Replicas: &r.replicas, Selector: map[string]string{"app": r.app}, Template: &t}}
	case kindJob:
		return &batchv1.Job{TypeMeta: tm("batch/v1"), ObjectMeta: meta, Spec: batchv1.JobSpec{Template: template(r)}}
	case kindCronJob:
		return &batchv1.CronJob{TypeMeta: tm("batch/v1"), ObjectMeta: meta, Spec: batchv1.CronJobSpec{
			Schedule: "*/30 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template(r)}}}}
	case kindDeploymentConfig:
		return deploymentConfig(tm("apps.openshift.io/v1"), meta, r)
	case kindBuildConfig:
		return buildConfig(tm("build.openshift.io/v1"), meta, r)
	case kindBuild:
		return &buildv1.Build{TypeMeta: tm("build.openshift.io/v1"), ObjectMeta: meta,
			Spec:   buildv1.BuildSpec{CommonSpec: commonSpec(r)},
			Status: buildv1.BuildStatus{Phase: buildv1.BuildPhase(r.phase)}}
	}
	panic("synth: referrer of unknown kind " + r.kind.String())
}

// podSpec is the pod spec of a referrer's containers. Pods that run to completion (jobs,
// builds, finished pods) do not restart.
func podSpec(r *referrer) corev1.PodSpec {
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways}
	switch {
	case r.kind == kindJob || r.kind == kindCronJob || r.phase == "Succeeded" || r.phase == "Failed":
		spec.RestartPolicy = corev1.RestartPolicyNever
	}
	for _, ct := range r.containers {
		k := corev1.Container{Name: ct.name, Image: ct.image}
		if ct.init {
			spec.InitContainers = append(spec.InitContainers, k)
		} else {
			spec.Containers = append(spec.Containers, k)
		}
	}
	return spec
}

func template(r *referrer) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": r.app}},
		Spec:       podSpec(r),
	}
}

func selector(r *referrer) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": r.app}}
}

func deploymentConfig(tm metav1.TypeMeta, meta metav1.ObjectMeta, r *referrer) *appsv1.DeploymentConfig {
	t := template(r)
	return &appsv1.DeploymentConfig{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DeploymentConfigSpec{
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling},
		Replicas: r.replicas, Selector: map[string]string{"app": r.app}, Template: &t,
		Triggers: appsv1.DeploymentTriggerPolicies{
			{Type: appsv1.DeploymentTriggerOnConfigChange},
			{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
				Automatic: true, ContainerNames: []string{"app"},
				From: corev1.ObjectReference{Kind: r.trigger.kind, Name: r.trigger.name},
			}},
		},
	}}
}

func buildConfig(tm metav1.TypeMeta, meta metav1.ObjectMeta, r *referrer) *buildv1.BuildConfig {
	return &buildv1.BuildConfig{TypeMeta: tm, ObjectMeta: meta, Spec: buildv1.BuildConfigSpec{
		RunPolicy:  buildv1.BuildRunPolicySerial,
		CommonSpec: commonSpec(r),
		Triggers: []buildv1.BuildTriggerPolicy{
			{Type: buildv1.ConfigChangeBuildTriggerType},
			{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{}},
		},
	}}
}

// commonSpec is the source, strategy and output of a build or build config.
func commonSpec(r *referrer) buildv1.CommonSpec {
	from := corev1.ObjectReference{Kind: r.from.kind, Namespace: r.from.namespace, Name: r.from.name}
	spec := buildv1.CommonSpec{
		Source: buildv1.BuildSource{Type: buildv1.BuildSourceGit, Git: &buildv1.GitBuildSource{
			URI: "https://git.example.com/" + r.app + ".git"}},
		Strategy: buildv1.BuildStrategy{Type: buildv1.BuildStrategyType(r.strategy)},
	}
	switch r.strategy {
	case "Source":
		spec.Strategy.SourceStrategy = &buildv1.SourceBuildStrategy{From: from}
	case "Docker":
		spec.Strategy.DockerStrategy = &buildv1.DockerBuildStrategy{From: &from}
	default:
		spec.Strategy.CustomStrategy = &buildv1.CustomBuildStrategy{From: from}
	}
	if r.trigger != nil {
		spec.Output.To = &corev1.ObjectReference{Kind: r.trigger.kind, Name: r.trigger.name}
	}
	return spec
}
