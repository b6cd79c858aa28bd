package webhook

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	admissionv1 "k8s.io/api/admission/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/scheme"
)

// TestEveryRuleResourceIsDecoded ties the decoder's table to the one source of what the
// webhook is sent: every resource of the chart's rules is a kind decodeObject decodes, or a
// kind sent for the fence alone.
func TestEveryRuleResourceIsDecoded(t *testing.T) {
	spec, err := chart.Webhook()
	if err != nil {
		t.Fatal(err)
	}
	kinds := scheme.New().AllKnownTypes()
	for _, rule := range spec.Rules {
		for _, group := range rule.APIGroups {
			for _, version := range rule.APIVersions {
				for _, resource := range rule.Resources {
					plural, _, _ := strings.Cut(resource, "/")
					var found []metav1.GroupVersionKind
					for gvk := range kinds {
						if gvk.Group != group || gvk.Version != version {
							continue
						}
						if res, _ := meta.UnsafeGuessKindToResource(gvk); res.Resource == plural {
							found = append(found, metav1.GroupVersionKind{Group: group, Version: version, Kind: gvk.Kind})
						}
					}
					if len(found) != 1 {
						t.Errorf("resource %s/%s/%s: %d kinds in the scheme, want 1", group, version, plural, len(found))
						continue
					}
					if newObject(found[0]) == nil && !fenceOnlyKinds[found[0].Kind] {
						t.Errorf("resource %s is sent to the webhook but its kind %s is neither decoded nor fence-only", resource, gvkString(found[0]))
					}
				}
			}
		}
	}
}

// referrerOfKind is an object of each referrer kind the rules send, referencing image.
func referrersOfKinds(image string) []runtime.Object {
	om := func(kind string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: testNS, Name: strings.ToLower(kind), UID: types.UID("uid-" + kind)}
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}
	tmpl := corev1.PodTemplateSpec{Spec: spec}
	from := corev1.ObjectReference{Kind: "DockerImage", Name: image}
	common := buildv1.CommonSpec{Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType,
		DockerStrategy: &buildv1.DockerBuildStrategy{From: &from}}}
	return []runtime.Object{
		&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: om("Pod"), Spec: spec},
		&corev1.ReplicationController{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"}, ObjectMeta: om("ReplicationController"), Spec: corev1.ReplicationControllerSpec{Template: &tmpl}},
		&kappsv1.ReplicaSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"}, ObjectMeta: om("ReplicaSet"), Spec: kappsv1.ReplicaSetSpec{Template: tmpl}},
		&kappsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: om("Deployment"), Spec: kappsv1.DeploymentSpec{Template: tmpl}},
		&kappsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: om("StatefulSet"), Spec: kappsv1.StatefulSetSpec{Template: tmpl}},
		&kappsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: om("DaemonSet"), Spec: kappsv1.DaemonSetSpec{Template: tmpl}},
		&batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: om("Job"), Spec: batchv1.JobSpec{Template: tmpl}},
		&batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: om("CronJob"),
			Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
		&appsv1.DeploymentConfig{TypeMeta: metav1.TypeMeta{APIVersion: "apps.openshift.io/v1", Kind: "DeploymentConfig"}, ObjectMeta: om("DeploymentConfig"), Spec: appsv1.DeploymentConfigSpec{Template: &tmpl}},
		&buildv1.Build{TypeMeta: metav1.TypeMeta{APIVersion: "build.openshift.io/v1", Kind: "Build"}, ObjectMeta: om("Build"), Spec: buildv1.BuildSpec{CommonSpec: common}},
		&buildv1.BuildConfig{TypeMeta: metav1.TypeMeta{APIVersion: "build.openshift.io/v1", Kind: "BuildConfig"}, ObjectMeta: om("BuildConfig"), Spec: buildv1.BuildConfigSpec{CommonSpec: common}},
		&imagev1.ImageStream{TypeMeta: metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "ImageStream"}, ObjectMeta: om("ImageStream"),
			Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "mirror", From: &from}}}},
	}
}

// reviewOfObject is a CREATE review of obj with the request kind taken from obj.
func reviewOfObject(t *testing.T, obj runtime.Object) []byte {
	t.Helper()
	gvk := obj.GetObjectKind().GroupVersionKind()
	m := obj.(metav1.Object)
	dry := false
	return mustJSON(t, admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewV1, Kind: reviewKind},
		Request: &admissionv1.AdmissionRequest{
			UID: "req-kind", Kind: metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Namespace: m.GetNamespace(), Name: m.GetName(), Operation: admissionv1.Create, DryRun: &dry,
			Object: runtime.RawExtension{Raw: mustJSON(t, obj)},
		},
	})
}

func TestEveryReferrerKindIsRecordedByItsRequestKind(t *testing.T) {
	image := registry + "/shop/app@" + digestA
	for _, obj := range referrersOfKinds(image) {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		t.Run(fmt.Sprintf("a %s create is recorded as pending with its reference", kind), func(t *testing.T) {
			f := newFixture(t, nil)
			if out := f.post(t, reviewOfObject(t, obj)); !out.Response.Allowed || len(out.Response.Warnings) != 0 {
				t.Fatalf("response %+v, want allowed without warnings", out.Response)
			}
			got := f.pendingKeys(t)
			want := fmt.Sprintf("%s/%s/%s", kind, testNS, strings.ToLower(kind))
			for key, refs := range got {
				if key.String() != want || len(refs) != 1 || refs[0].Repo != "shop/app" || refs[0].Digest != digestA {
					t.Errorf("pending %s %+v, want only %s referencing shop/app@%s", key, refs, want, digestA)
				}
			}
			if len(got) != 1 {
				t.Errorf("pending %v, want exactly %s", got, want)
			}
		})
	}
}

// The slim decode (pkg/slim) of every kind the webhook records extracts exactly what the
// decode of the whole typed object extracts, from objects that carry the fields an API server
// sends and the extraction does not read.
func TestSlimDecodeExtractsAsTheTypedDecode(t *testing.T) {
	image := registry + "/shop/app@" + digestA
	objs := referrersOfKinds(image)
	full := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "full", UID: "uid-full", ResourceVersion: "7",
			CreationTimestamp: metav1.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Labels: map[string]string{"app": "web"},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate}},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs"}}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "quay.io/a/init:1", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}},
			Containers: []corev1.Container{{Name: "app", Image: image, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
				{Name: "bad", Image: "UPPER/Case:tag"}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}},
			Volumes:             []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ImageID: "x"}}}}
	img := &imagev1.Image{TypeMeta: metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "Image"},
		ObjectMeta:           metav1.ObjectMeta{Name: digestA, Annotations: map[string]string{imagev1.ManagedByOpenShiftAnnotation: "true"}},
		DockerImageReference: image, DockerImageManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
		DockerImageLayers: []imagev1.ImageLayer{{Name: digestA, LayerSize: 10, MediaType: "m"}}, DockerImageManifest: `{"schemaVersion":2}`}
	objs = append(objs, full, img)
	json := newJSON()
	for _, obj := range objs {
		gvk := obj.GetObjectKind().GroupVersionKind()
		t.Run(gvk.Kind+"/"+obj.(metav1.Object).GetName(), func(t *testing.T) {
			raw := mustJSON(t, obj)
			req := metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
			got, err := decodeObject(json, req, raw)
			if err != nil {
				t.Fatal(err)
			}
			typed := newObject(req)
			if err := json.Unmarshal(raw, typed); err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(typed) {
				t.Fatalf("decoded a %T, want a %T", got, typed)
			}
			gotRes, err1 := extract.Object(got)
			wantRes, err2 := extract.Object(typed)
			if err1 != nil || err2 != nil {
				t.Fatalf("extract: %v / %v", err1, err2)
			}
			if !reflect.DeepEqual(gotRes, wantRes) {
				t.Errorf("slim decode extracts\n%#v\nthe typed decode\n%#v", gotRes, wantRes)
			}
			if gotRes.Referrer == nil && gotRes.Image == nil && gotRes.Stream == nil {
				t.Errorf("nothing extracted from %s: the comparison tests nothing", raw)
			}
		})
	}
}

// The slim decode still refuses what it reads when it has the wrong type, and an object whose
// own kind is not the request's.
func TestSlimDecodeRefusesMalformedReadFields(t *testing.T) {
	json := newJSON()
	pod := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	for name, raw := range map[string]string{
		"containers that are not a list":            `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"x"}}`,
		"an image that is not a string":             `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":3}]}}`,
		"a creation time that is not a time":        `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","creationTimestamp":"yesterday"}}`,
		"a Deployment sent as a Pod is not decoded": `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"p"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if obj, err := decodeObject(json, pod, []byte(raw)); err == nil {
				t.Fatalf("decoded %#v", obj)
			}
		})
	}
}
