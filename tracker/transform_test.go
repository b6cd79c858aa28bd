package tracker

import (
	"reflect"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/extract"
)

const (
	host = "image-registry.openshift-image-registry.svc:5000"
	dA   = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// rich is object metadata with everything the transform drops.
func rich(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: "ns", Name: name, UID: "uid-" + "x", ResourceVersion: "7", Generation: 3,
		CreationTimestamp: metav1.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Labels:            map[string]string{"app": name}, Annotations: map[string]string{"big": "annotation"},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		OwnerReferences: []metav1.OwnerReference{{Name: "owner"}},
	}
}

func richSpec() corev1.PodSpec {
	c := func(name, image string) corev1.Container {
		return corev1.Container{Name: name, Image: image, Command: []string{"run"}, Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}
	}
	return corev1.PodSpec{
		InitContainers: []corev1.Container{c("init", host+"/ns/init:v1")},
		Containers:     []corev1.Container{c("app", host+"/ns/app@"+dA), c("bad", "Bad/Image:X"), c("blank", "")},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "dbg", Image: host + "/ns/debug:latest", Command: []string{"sh"}}}},
		Volumes:  []corev1.Volume{{Name: "v"}},
		NodeName: "node-1",
	}
}

func richTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: richSpec()}
}

func ist(name string) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "ImageStreamTag", Name: name}
}

func TestStripKeepsWhatExtractionReads(t *testing.T) {
	tpl := richTemplate()
	objects := map[string]client.Object{
		"a pod keeps its containers' images and its phase": &corev1.Pod{ObjectMeta: rich("p"), Spec: richSpec(),
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: "Ready"}}}},
		"a replication controller keeps its template":     &corev1.ReplicationController{ObjectMeta: rich("rc"), Spec: corev1.ReplicationControllerSpec{Template: &tpl}},
		"a replication controller without template stays": &corev1.ReplicationController{ObjectMeta: rich("rc0")},
		"a replica set keeps its template":                &kappsv1.ReplicaSet{ObjectMeta: rich("rs"), Spec: kappsv1.ReplicaSetSpec{Template: richTemplate()}},
		"a deployment keeps its template":                 &kappsv1.Deployment{ObjectMeta: rich("d"), Spec: kappsv1.DeploymentSpec{Template: richTemplate()}},
		"a stateful set keeps its template":               &kappsv1.StatefulSet{ObjectMeta: rich("s"), Spec: kappsv1.StatefulSetSpec{Template: richTemplate()}},
		"a daemon set keeps its template":                 &kappsv1.DaemonSet{ObjectMeta: rich("ds"), Spec: kappsv1.DaemonSetSpec{Template: richTemplate()}},
		"a job keeps its template":                        &batchv1.Job{ObjectMeta: rich("j"), Spec: batchv1.JobSpec{Template: richTemplate()}},
		"a cron job keeps its job template": &batchv1.CronJob{ObjectMeta: rich("cj"), Spec: batchv1.CronJobSpec{Schedule: "* * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: richTemplate()}}}},
		"a deployment config keeps its template and trigger positions": &appsv1.DeploymentConfig{ObjectMeta: rich("dc"), Spec: appsv1.DeploymentConfigSpec{
			Template: &tpl, Triggers: appsv1.DeploymentTriggerPolicies{
				{Type: appsv1.DeploymentTriggerOnConfigChange},
				{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
					Automatic: true, ContainerNames: []string{"app"}, From: ist("app:v2"), LastTriggeredImage: "x"}},
			}}},
		"a build keeps its strategy and source images": &buildv1.Build{ObjectMeta: rich("b"), Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
			Source: buildv1.BuildSource{Images: []buildv1.ImageSource{{From: ist("tools:1"), Paths: []buildv1.ImageSourcePath{{SourcePath: "/a"}}}}},
			Strategy: buildv1.BuildStrategy{SourceStrategy: &buildv1.SourceBuildStrategy{From: ist("s2i:latest"), Env: []corev1.EnvVar{{Name: "X"}}},
				DockerStrategy: &buildv1.DockerBuildStrategy{}}}}},
		"a build config keeps its strategy and trigger positions": &buildv1.BuildConfig{ObjectMeta: rich("bc"), Spec: buildv1.BuildConfigSpec{
			CommonSpec: buildv1.CommonSpec{Strategy: buildv1.BuildStrategy{CustomStrategy: &buildv1.CustomBuildStrategy{From: corev1.ObjectReference{Kind: "DockerImage", Name: host + "/ns/c@" + dA}}}},
			Triggers: []buildv1.BuildTriggerPolicy{{Type: buildv1.GitHubWebHookBuildTriggerType},
				{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "base:9"}, LastTriggeredImageID: "y"}}}}},
		"an image stream keeps spec tags and its status history": &imagev1.ImageStream{ObjectMeta: rich("is"),
			Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "stable", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "is:latest"}, Annotations: map[string]string{"a": "b"}}}},
			Status: imagev1.ImageStreamStatus{DockerImageRepository: "r", Tags: []imagev1.NamedTagEventList{{Tag: "latest",
				Items:      []imagev1.TagEvent{{Image: dA, DockerImageReference: host + "/ns/is@" + dA, Generation: 2, Created: metav1.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
				Conditions: []imagev1.TagEventCondition{{Type: "ImportSuccess"}}}}}},
		"an image keeps layers, manifests, the managed annotation, id and size": &imagev1.Image{
			ObjectMeta:                   metav1.ObjectMeta{Name: dA, UID: "u", ResourceVersion: "3", Annotations: map[string]string{imagev1.ManagedByOpenShiftAnnotation: "true", "other": "x"}},
			DockerImageReference:         host + "/ns/is@" + dA,
			DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
			DockerImageMetadata:          runtime.RawExtension{Raw: []byte(`{"kind":"DockerImage","Id":"sha256:cc","Size":42,"Config":{"Env":["A=b"]},"Architecture":"amd64"}`)},
			DockerImageLayers:            []imagev1.ImageLayer{{Name: "sha256:l1", LayerSize: 10, MediaType: "m"}},
			DockerImageManifests:         []imagev1.ImageManifest{{Digest: "sha256:child", MediaType: "m", Architecture: "arm64"}},
			DockerImageManifest:          "{...a large manifest...}",
		},
		"a limit range keeps its image storage limit": &corev1.LimitRange{ObjectMeta: rich("lr"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
			{Type: imagev1.LimitTypeImage, Max: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi"), corev1.ResourceCPU: resource.MustParse("1")}}}}},
	}
	for name, obj := range objects {
		t.Run(name, func(t *testing.T) {
			want, err := extract.Object(obj)
			if err != nil {
				t.Fatal(err)
			}
			stripped, err := Strip(obj.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			got, err := extract.Object(stripped.(runtime.Object))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("extraction after Strip\n %+v\nwant\n %+v", got, want)
			}
			m := stripped.(client.Object)
			if len(m.GetManagedFields()) != 0 || len(m.GetLabels()) != 0 || len(m.GetOwnerReferences()) != 0 {
				t.Errorf("kept metadata the index does not need: %+v", m)
			}
			if a := m.GetAnnotations(); len(a) > 1 || (len(a) == 1 && a[imagev1.ManagedByOpenShiftAnnotation] == "") {
				t.Errorf("kept annotations %v", a)
			}
		})
	}
}

func TestStripShrinksAPod(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: rich("p"), Spec: richSpec()}
	out, _ := Strip(p)
	s := out.(*corev1.Pod)
	if s.Spec.Containers[0].Command != nil || s.Spec.Volumes != nil || s.Spec.NodeName != "" || s.Spec.Containers[0].Env != nil {
		t.Errorf("stripped pod still has %+v", s.Spec)
	}
}

func TestQueueKeepsTheLatestEventPerObject(t *testing.T) {
	q := newQueue()
	a1 := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", ResourceVersion: "1"}}
	a2 := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", ResourceVersion: "2"}}
	b := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}}
	rcA := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	q.add(event{kind: "Pod", obj: a1})
	q.add(event{kind: "Pod", obj: b})
	q.add(event{kind: "ReplicationController", obj: rcA})
	q.add(event{kind: "Pod", obj: a2})
	q.add(event{kind: "Pod", obj: b, deleted: true})
	if q.len() != 3 {
		t.Fatalf("queue holds %d objects, want 3 (events of one object coalesce, kinds do not)", q.len())
	}
	first := q.take(2)
	rest := q.take(10)
	if len(first) != 2 || first[0].obj != a2 || !first[1].deleted || len(rest) != 1 || rest[0].kind != "ReplicationController" {
		t.Errorf("took %+v then %+v; want pod a at version 2, pod b deleted, then the controller", first, rest)
	}
	if q.len() != 0 || len(q.take(5)) != 0 {
		t.Error("queue not empty after taking everything")
	}
}
