package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

const registryHost = "image-registry.openshift-image-registry.svc:5000"

// digestOf is a deterministic sha256 digest for a seed.
func digestOf(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// kindFixture knows how to create and change one kind for the randomised test.
type kindFixture struct {
	kind string
	// build returns a new object referencing image.
	build func(ns, name, image string) client.Object
	// setImage changes the image the object references.
	setImage func(obj client.Object, image string)
	// scaleToZero sets replicas to 0 (or suspends); nil for kinds without replicas.
	scaleToZero func(obj client.Object)
}

func meta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}}
}

func podSpec(image string, restart corev1.RestartPolicy) corev1.PodSpec {
	return corev1.PodSpec{RestartPolicy: restart, Containers: []corev1.Container{{Name: "app", Image: image}}}
}

func template(name, image string, restart corev1.RestartPolicy) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: podSpec(image, restart)}
}

func selector(name string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
}

func imageStreamTag(name string) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "ImageStreamTag", Name: name + ":latest"}
}

func fixtures() []kindFixture {
	return []kindFixture{
		{kind: "Pod",
			build: func(ns, name, image string) client.Object {
				return &corev1.Pod{ObjectMeta: meta(ns, name), Spec: podSpec(image, "")}
			},
			setImage: func(o client.Object, image string) { o.(*corev1.Pod).Spec.Containers[0].Image = image }},
		{kind: "ReplicationController",
			build: func(ns, name, image string) client.Object {
				t := template(name, image, "")
				return &corev1.ReplicationController{ObjectMeta: meta(ns, name), Spec: corev1.ReplicationControllerSpec{
					Replicas: ptr.To[int32](1), Selector: map[string]string{"app": name}, Template: &t}}
			},
			setImage: func(o client.Object, image string) {
				o.(*corev1.ReplicationController).Spec.Template.Spec.Containers[0].Image = image
			},
			scaleToZero: func(o client.Object) { o.(*corev1.ReplicationController).Spec.Replicas = ptr.To[int32](0) }},
		{kind: "ReplicaSet",
			build: func(ns, name, image string) client.Object {
				return &kappsv1.ReplicaSet{ObjectMeta: meta(ns, name), Spec: kappsv1.ReplicaSetSpec{Selector: selector(name), Template: template(name, image, "")}}
			},
			setImage: func(o client.Object, image string) {
				o.(*kappsv1.ReplicaSet).Spec.Template.Spec.Containers[0].Image = image
			},
			scaleToZero: func(o client.Object) { o.(*kappsv1.ReplicaSet).Spec.Replicas = ptr.To[int32](0) }},
		{kind: "Deployment",
			build: func(ns, name, image string) client.Object {
				return &kappsv1.Deployment{ObjectMeta: meta(ns, name), Spec: kappsv1.DeploymentSpec{Selector: selector(name), Template: template(name, image, "")}}
			},
			setImage: func(o client.Object, image string) {
				o.(*kappsv1.Deployment).Spec.Template.Spec.Containers[0].Image = image
			},
			scaleToZero: func(o client.Object) { o.(*kappsv1.Deployment).Spec.Replicas = ptr.To[int32](0) }},
		{kind: "StatefulSet",
			build: func(ns, name, image string) client.Object {
				return &kappsv1.StatefulSet{ObjectMeta: meta(ns, name), Spec: kappsv1.StatefulSetSpec{ServiceName: name, Selector: selector(name), Template: template(name, image, "")}}
			},
			setImage: func(o client.Object, image string) {
				o.(*kappsv1.StatefulSet).Spec.Template.Spec.Containers[0].Image = image
			},
			scaleToZero: func(o client.Object) { o.(*kappsv1.StatefulSet).Spec.Replicas = ptr.To[int32](0) }},
		{kind: "DaemonSet",
			build: func(ns, name, image string) client.Object {
				return &kappsv1.DaemonSet{ObjectMeta: meta(ns, name), Spec: kappsv1.DaemonSetSpec{Selector: selector(name), Template: template(name, image, "")}}
			},
			setImage: func(o client.Object, image string) {
				o.(*kappsv1.DaemonSet).Spec.Template.Spec.Containers[0].Image = image
			}},
		{kind: "Job",
			build: func(ns, name, image string) client.Object {
				return &batchv1.Job{ObjectMeta: meta(ns, name), Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec(image, corev1.RestartPolicyNever)}}}
			},
			// A job's template is immutable; its image "changes" by suspending it instead.
			scaleToZero: func(o client.Object) { o.(*batchv1.Job).Spec.Suspend = ptr.To(true) }},
		{kind: "CronJob",
			build: func(ns, name, image string) client.Object {
				return &batchv1.CronJob{ObjectMeta: meta(ns, name), Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *",
					JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec(image, corev1.RestartPolicyOnFailure)}}}}}
			},
			setImage: func(o client.Object, image string) {
				o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image = image
			},
			scaleToZero: func(o client.Object) { o.(*batchv1.CronJob).Spec.Suspend = ptr.To(true) }},
		{kind: "DeploymentConfig",
			build: func(ns, name, image string) client.Object {
				t := template(name, image, "")
				return &appsv1.DeploymentConfig{ObjectMeta: meta(ns, name), Spec: appsv1.DeploymentConfigSpec{
					Replicas: 1, Selector: map[string]string{"app": name}, Template: &t,
					Triggers: appsv1.DeploymentTriggerPolicies{{Type: appsv1.DeploymentTriggerOnImageChange,
						ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{ContainerNames: []string{"app"}, From: imageStreamTag(name)}}}}}
			},
			setImage: func(o client.Object, image string) {
				o.(*appsv1.DeploymentConfig).Spec.Template.Spec.Containers[0].Image = image
			},
			scaleToZero: func(o client.Object) { o.(*appsv1.DeploymentConfig).Spec.Replicas = 0 }},
		{kind: "Build",
			build: func(ns, name, image string) client.Object {
				return &buildv1.Build{ObjectMeta: meta(ns, name), Spec: buildv1.BuildSpec{CommonSpec: buildCommon(image)}}
			},
			setImage: func(o client.Object, image string) {
				o.(*buildv1.Build).Spec.Strategy.SourceStrategy.From.Name = image
			}},
		{kind: "BuildConfig",
			build: func(ns, name, image string) client.Object {
				return &buildv1.BuildConfig{ObjectMeta: meta(ns, name), Spec: buildv1.BuildConfigSpec{CommonSpec: buildCommon(image),
					Triggers: []buildv1.BuildTriggerPolicy{{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{From: ptr.To(imageStreamTag(name))}}}}}
			},
			setImage: func(o client.Object, image string) {
				o.(*buildv1.BuildConfig).Spec.Strategy.SourceStrategy.From.Name = image
			}},
		{kind: "ImageStream",
			build: func(ns, name, image string) client.Object {
				return &imagev1.ImageStream{ObjectMeta: meta(ns, name), Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					{Name: "mirror", From: &corev1.ObjectReference{Kind: "DockerImage", Name: image}}}}}
			},
			setImage: func(o client.Object, image string) { o.(*imagev1.ImageStream).Spec.Tags[0].From.Name = image }},
		{kind: "LimitRange",
			build: func(ns, name, _ string) client.Object {
				return &corev1.LimitRange{ObjectMeta: meta(ns, name), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
					Type: imagev1.LimitTypeImage, Max: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
			},
			setImage: func(o client.Object, _ string) {
				o.(*corev1.LimitRange).Spec.Limits[0].Max[corev1.ResourceStorage] = resource.MustParse("2Gi")
			}},
	}
}

func buildCommon(image string) buildv1.CommonSpec {
	return buildv1.CommonSpec{
		Source:   buildv1.BuildSource{Type: buildv1.BuildSourceGit, Git: &buildv1.GitBuildSource{URI: "https://example.com/app.git"}},
		Strategy: buildv1.BuildStrategy{Type: buildv1.SourceBuildStrategyType, SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Kind: "DockerImage", Name: image}}},
	}
}

// newImage builds an Image object as the integrated registry records it.
func newImage(seed string) *imagev1.Image {
	d := digestOf(seed)
	return &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: testenv.ImageObjectName(d), Annotations: map[string]string{testenv.ManagedAnnotation: "true"}},
		DockerImageReference:         registryHost + "/rand/app@" + d,
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		DockerImageMetadata: runtime.RawExtension{Raw: []byte(fmt.Sprintf(
			`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"%s","Size":1234}`, digestOf(seed+"-config")))},
		DockerImageLayers: []imagev1.ImageLayer{{Name: digestOf(seed + "-layer"), LayerSize: 1000, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"}},
	}
}

// update applies change to the live object with retries on conflict.
func update(ctx context.Context, obj client.Object, change func(client.Object)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return env.Client.Update(ctx, obj)
	})
}

// tagStream puts an item at the head of tag latest of a stream's status.
func tagStream(ctx context.Context, is *imagev1.ImageStream, digest string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(is), is); err != nil {
			return err
		}
		item := imagev1.TagEvent{Created: metav1.Now(), DockerImageReference: registryHost + "/" + is.Namespace + "/" + is.Name + "@" + digest, Image: digest}
		if len(is.Status.Tags) == 0 {
			is.Status.Tags = []imagev1.NamedTagEventList{{Tag: "latest"}}
		}
		is.Status.Tags[0].Items = append([]imagev1.TagEvent{item}, is.Status.Tags[0].Items...)
		return env.Client.Status().Update(ctx, is)
	})
}
