package extract

import (
	"reflect"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// specRefs are the references of spec() under a field path prefix.
func specRefs(prefix string) []model.Ref {
	return []model.Ref{
		{FieldPath: prefix + "initContainers[init].image", Container: "init", Kind: model.RefDockerImage,
			Raw: host + "/ns-a/init:v1", Repo: "ns-a/init", Tag: "v1"},
		{FieldPath: prefix + "containers[app].image", Container: "app", Kind: model.RefDockerImage,
			Raw: host + "/ns-a/app@" + digestA, Repo: "ns-a/app", Digest: digestA},
		{FieldPath: prefix + "containers[side].image", Container: "side", Kind: model.RefDockerImage,
			Raw: "docker.io/library/nginx:1.25", Repo: "library/nginx", Tag: "1.25"},
		{FieldPath: prefix + "ephemeralContainers[dbg].image", Container: "dbg", Kind: model.RefDockerImage,
			Raw: host + "/ns-b/debug", Repo: "ns-b/debug", Tag: "latest", Extra: true},
	}
}

func TestWorkloadKinds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		obj    runtime.Object
		kind   string
		prefix string
		phase  string
	}{
		{"a pod's containers are under spec and its phase is kept",
			&corev1.Pod{ObjectMeta: meta("p"), Spec: spec(), Status: corev1.PodStatus{Phase: corev1.PodRunning}},
			model.KindPod, "spec.", "Running"},
		{"a replication controller's containers are under its template",
			&corev1.ReplicationController{ObjectMeta: meta("rc"), Spec: corev1.ReplicationControllerSpec{Template: ptr(template())}},
			model.KindReplicationController, "spec.template.spec.", ""},
		{"a replica set's containers are under its template",
			&kappsv1.ReplicaSet{ObjectMeta: meta("rs"), Spec: kappsv1.ReplicaSetSpec{Template: template()}},
			model.KindReplicaSet, "spec.template.spec.", ""},
		{"a deployment's containers are under its template",
			&kappsv1.Deployment{ObjectMeta: meta("d"), Spec: kappsv1.DeploymentSpec{Template: template()}},
			model.KindDeployment, "spec.template.spec.", ""},
		{"a stateful set's containers are under its template",
			&kappsv1.StatefulSet{ObjectMeta: meta("ss"), Spec: kappsv1.StatefulSetSpec{Template: template()}},
			model.KindStatefulSet, "spec.template.spec.", ""},
		{"a daemon set's containers are under its template",
			&kappsv1.DaemonSet{ObjectMeta: meta("ds"), Spec: kappsv1.DaemonSetSpec{Template: template()}},
			model.KindDaemonSet, "spec.template.spec.", ""},
		{"a job's containers are under its template",
			&batchv1.Job{ObjectMeta: meta("j"), Spec: batchv1.JobSpec{Template: template()}},
			model.KindJob, "spec.template.spec.", ""},
		{"a cron job's containers are under its job template",
			&batchv1.CronJob{ObjectMeta: meta("cj"), Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template()}}}},
			model.KindCronJob, "spec.jobTemplate.spec.template.spec.", ""},
		{"a deployment config's containers are under its template",
			&appsv1.DeploymentConfig{ObjectMeta: meta("dc"), Spec: appsv1.DeploymentConfigSpec{Template: ptr(template())}},
			model.KindDeploymentConfig, "spec.template.spec.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Object(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != tc.kind || res.Referrer == nil || res.Image != nil || res.Stream != nil || res.LimitRange != nil {
				t.Fatalf("result %+v, want only a referrer of kind %s", res, tc.kind)
			}
			o := res.Referrer
			wantKey := model.ObjectKey{Kind: tc.kind, Namespace: testNS, Name: o.Key.Name}
			if o.Key != wantKey || o.Key.Name == "" || o.UID != "uid-1" || o.ResourceVersion != "42" || !o.Created.Equal(created) || o.Phase != tc.phase {
				t.Errorf("object metadata %+v, want key %v, uid-1, rv 42, created %v, phase %q", o, wantKey, created, tc.phase)
			}
			if want := specRefs(tc.prefix); !reflect.DeepEqual(o.Refs, want) {
				t.Errorf("refs\n %+v\nwant\n %+v", o.Refs, want)
			}
			if len(res.Invalid) != 0 {
				t.Errorf("unexpected invalid references %v", res.Invalid)
			}
		})
	}
}

func TestPodSpecEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    corev1.PodSpec
		want    []model.Ref
		invalid []string
	}{
		{"blank and whitespace images are skipped as oc skips them",
			corev1.PodSpec{Containers: []corev1.Container{ctr("a", ""), ctr("b", "  \t")}}, []model.Ref{}, nil},
		{"an invalid image is kept as an invalid ref with oc's message",
			corev1.PodSpec{Containers: []corev1.Container{ctr("app", badImage)}},
			[]model.Ref{{FieldPath: "spec.containers[app].image", Container: "app", Kind: model.RefDockerImage, Raw: badImage,
				Invalid: "repository name must be lowercase"}},
			[]string{`pod/p namespace=ns-a: container app: invalid image reference "Registry.Example.com/NS/App:Tag": repository name must be lowercase`}},
		{"an invalid init container image names the init container",
			corev1.PodSpec{InitContainers: []corev1.Container{ctr("i", "x@sha256:abc")}, Containers: []corev1.Container{ctr("ok", "nginx")}},
			[]model.Ref{
				{FieldPath: "spec.initContainers[i].image", Container: "i", Kind: model.RefDockerImage, Raw: "x@sha256:abc", Invalid: "invalid reference format"},
				{FieldPath: "spec.containers[ok].image", Container: "ok", Kind: model.RefDockerImage, Raw: "nginx", Tag: "latest"},
			},
			[]string{`pod/p namespace=ns-a: init container i: invalid image reference "x@sha256:abc": invalid reference format`}},
		{"a reference without a host keeps its digest but protects no stream",
			corev1.PodSpec{Containers: []corev1.Container{ctr("a", "ns-a/app@"+digestB)}},
			[]model.Ref{{FieldPath: "spec.containers[a].image", Container: "a", Kind: model.RefDockerImage, Raw: "ns-a/app@" + digestB, Digest: digestB}}, nil},
		{"a pod without containers has no refs", corev1.PodSpec{}, []model.Ref{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Object(&corev1.Pod{ObjectMeta: meta("p"), Spec: tc.spec})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Referrer.Refs, tc.want) {
				t.Errorf("refs\n %+v\nwant\n %+v", res.Referrer.Refs, tc.want)
			}
			var got []string
			for _, e := range res.Invalid {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tc.invalid) {
				t.Errorf("invalid\n %q\nwant\n %q", got, tc.invalid)
			}
		})
	}
}

func TestNilTemplatesGiveEmptyReferrers(t *testing.T) {
	for _, obj := range []runtime.Object{
		&corev1.ReplicationController{ObjectMeta: meta("rc")},
		&appsv1.DeploymentConfig{ObjectMeta: meta("dc")},
	} {
		res, err := Object(obj)
		if err != nil || res.Referrer == nil || len(res.Referrer.Refs) != 0 {
			t.Errorf("%T without template: %+v, %v; want a referrer with no refs", obj, res, err)
		}
	}
}

func TestUnknownKindsAreIgnored(t *testing.T) {
	for _, obj := range []runtime.Object{&corev1.ConfigMap{}, &corev1.PodList{}, &corev1.Service{}, nil} {
		res, err := Object(obj)
		if err != nil || res.Known() || !reflect.DeepEqual(res, Result{}) {
			t.Errorf("Object(%T) = %+v, %v; want an empty result", obj, res, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
