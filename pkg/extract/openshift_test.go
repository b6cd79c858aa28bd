package extract

import (
	"reflect"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestDeploymentConfigTriggers(t *testing.T) {
	dc := &appsv1.DeploymentConfig{ObjectMeta: meta("dc"), Spec: appsv1.DeploymentConfigSpec{
		Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{ctr("app", host+"/ns-a/app:v1")}}},
		Triggers: appsv1.DeploymentTriggerPolicies{
			{Type: appsv1.DeploymentTriggerOnConfigChange},
			{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
				From: *objRef("ImageStreamTag", "", "app:v2")}},
			{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
				From: *objRef("ImageStreamTag", "other", "tool:latest")}},
			{Type: appsv1.DeploymentTriggerOnImageChange},
			{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
				From: *objRef("ImageStreamTag", "", "notag")}},
		},
	}}
	want := []model.Ref{
		{FieldPath: "spec.template.spec.containers[app].image", Container: "app", Kind: model.RefDockerImage,
			Raw: host + "/ns-a/app:v1", Repo: "ns-a/app", Tag: "v1"},
		{FieldPath: "spec.triggers[1].imageChangeParams.from", Kind: model.RefImageStreamTag,
			Raw: "ns-a/app:v2", Repo: "ns-a/app", Tag: "v2", Extra: true},
		{FieldPath: "spec.triggers[2].imageChangeParams.from", Kind: model.RefImageStreamTag,
			Raw: "other/tool:latest", Repo: "other/tool", Tag: "latest", Extra: true},
		{FieldPath: "spec.triggers[4].imageChangeParams.from", Kind: model.RefImageStreamTag,
			Raw: "notag", Invalid: `expected exactly one : delimiter in the istag "notag"`, Extra: true},
	}
	res := mustObject(t, dc)
	if !reflect.DeepEqual(res.Referrer.Refs, want) {
		t.Errorf("refs\n %+v\nwant\n %+v", res.Referrer.Refs, want)
	}
	wantMsg := `deploymentconfig/dc namespace=ns-a: spec.triggers[4].imageChangeParams.from: invalid ImageStreamTag reference "notag": expected exactly one : delimiter in the istag "notag"`
	if len(res.Invalid) != 1 || res.Invalid[0].Error() != wantMsg {
		t.Errorf("invalid %v, want [%s]", res.Invalid, wantMsg)
	}
}

func TestBuildStrategies(t *testing.T) {
	src := func(from corev1.ObjectReference) buildv1.BuildStrategy {
		return buildv1.BuildStrategy{SourceStrategy: &buildv1.SourceBuildStrategy{From: from}}
	}
	for _, tc := range []struct {
		name     string
		strategy buildv1.BuildStrategy
		want     []model.Ref
	}{
		{"a source strategy's ImageStreamTag resolves in the build's namespace",
			src(*objRef("ImageStreamTag", "", "app-0:latest")),
			[]model.Ref{{FieldPath: "spec.strategy.sourceStrategy.from", Kind: model.RefImageStreamTag, Raw: "ns-a/app-0:latest", Repo: "ns-a/app-0", Tag: "latest"}}},
		{"a docker strategy's DockerImage is a pull spec",
			buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{From: objRef("DockerImage", "", host+"/ns-0/app-2@"+digestA)}},
			[]model.Ref{{FieldPath: "spec.strategy.dockerStrategy.from", Kind: model.RefDockerImage, Raw: host + "/ns-0/app-2@" + digestA, Repo: "ns-0/app-2", Digest: digestA}}},
		{"a docker strategy without from has no ref",
			buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}}, []model.Ref{}},
		{"a custom strategy's ImageStreamImage keeps its namespace",
			buildv1.BuildStrategy{CustomStrategy: &buildv1.CustomBuildStrategy{From: *objRef("ImageStreamImage", "ns-x", "app-1@"+digestB)}},
			[]model.Ref{{FieldPath: "spec.strategy.customStrategy.from", Kind: model.RefImageStreamImage, Raw: "ns-x/app-1@" + digestB, Repo: "ns-x/app-1", Digest: digestB}}},
		{"a strategy after the one oc reads is Extra",
			buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}, CustomStrategy: &buildv1.CustomBuildStrategy{From: *objRef("ImageStreamTag", "", "c:v1")}},
			[]model.Ref{{FieldPath: "spec.strategy.customStrategy.from", Kind: model.RefImageStreamTag, Raw: "ns-a/c:v1", Repo: "ns-a/c", Tag: "v1", Extra: true}}},
		{"a from of an unknown kind is skipped",
			src(*objRef("ImageStream", "", "app")), []model.Ref{}},
		{"a jenkins pipeline has no ref",
			buildv1.BuildStrategy{JenkinsPipelineStrategy: &buildv1.JenkinsPipelineBuildStrategy{}}, []model.Ref{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, obj := range []runtime.Object{
				&buildv1.Build{ObjectMeta: meta("b"), Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{Strategy: tc.strategy}}},
				&buildv1.BuildConfig{ObjectMeta: meta("bc"), Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{Strategy: tc.strategy}}},
			} {
				if got := mustObject(t, obj).Referrer.Refs; !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%T refs\n %+v\nwant\n %+v", obj, got, tc.want)
				}
			}
		})
	}
}

func TestBuildConfigSourceImagesAndTriggers(t *testing.T) {
	bc := &buildv1.BuildConfig{ObjectMeta: meta("bc"), Spec: buildv1.BuildConfigSpec{
		CommonSpec: buildv1.CommonSpec{
			Source: buildv1.BuildSource{Images: []buildv1.ImageSource{
				{From: *objRef("ImageStreamTag", "", "builder:v1")},
				{From: *objRef("DockerImage", "", "quay.io/org/tool@"+digestA)},
			}},
			Strategy: buildv1.BuildStrategy{SourceStrategy: &buildv1.SourceBuildStrategy{From: *objRef("ImageStreamTag", "", "s2i:latest")}},
		},
		Triggers: []buildv1.BuildTriggerPolicy{
			{Type: buildv1.GitHubWebHookBuildTriggerType},
			{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{}},
			{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{From: objRef("ImageStreamTag", "base", "ubi:9")}},
		},
	}}
	want := []model.Ref{
		{FieldPath: "spec.strategy.sourceStrategy.from", Kind: model.RefImageStreamTag, Raw: "ns-a/s2i:latest", Repo: "ns-a/s2i", Tag: "latest"},
		{FieldPath: "spec.source.images[0].from", Kind: model.RefImageStreamTag, Raw: "ns-a/builder:v1", Repo: "ns-a/builder", Tag: "v1", Extra: true},
		{FieldPath: "spec.source.images[1].from", Kind: model.RefDockerImage, Raw: "quay.io/org/tool@" + digestA, Repo: "org/tool", Digest: digestA, Extra: true},
		{FieldPath: "spec.triggers[2].imageChange.from", Kind: model.RefImageStreamTag, Raw: "base/ubi:9", Repo: "base/ubi", Tag: "9", Extra: true},
	}
	if got := mustObject(t, bc).Referrer.Refs; !reflect.DeepEqual(got, want) {
		t.Errorf("refs\n %+v\nwant\n %+v", got, want)
	}
}

func TestBuildInvalidFromMessage(t *testing.T) {
	b := &buildv1.Build{ObjectMeta: meta("b"), Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
		Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{From: objRef("DockerImage", "", badImage)}}}}}
	res := mustObject(t, b)
	want := `build/b namespace=ns-a: invalid image reference "Registry.Example.com/NS/App:Tag": repository name must be lowercase`
	if len(res.Invalid) != 1 || res.Invalid[0].Error() != want {
		t.Fatalf("invalid %v, want [%s]", res.Invalid, want)
	}
	if r := res.Referrer.Refs[0]; r.Invalid == "" || r.Repo != "" || r.Raw != badImage {
		t.Errorf("ref %+v, want an invalid ref keeping the raw value", r)
	}
}

func TestImageStreamSpecTags(t *testing.T) {
	is := &imagev1.ImageStream{ObjectMeta: meta("is"), Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
		{Name: "v1", From: objRef("DockerImage", "", host+"/ns-a/is@"+digestA)},
		{Name: "alias", From: objRef("ImageStreamTag", "", "is:v1")},
		{Name: "pinned", From: objRef("ImageStreamImage", "ns-b", "other@"+digestB)},
		{Name: "empty"},
		{Name: "same-stream", From: objRef("ImageStreamTag", "", "v1")},
	}}}
	res := mustObject(t, is)
	if res.Kind != model.KindImageStream || res.Stream == nil || res.Referrer == nil {
		t.Fatalf("result %+v, want a stream and a referrer", res)
	}
	want := []model.Ref{
		{FieldPath: "spec.tags[v1].from", Kind: model.RefDockerImage, Raw: host + "/ns-a/is@" + digestA, Repo: "ns-a/is", Digest: digestA, Extra: true},
		{FieldPath: "spec.tags[alias].from", Kind: model.RefImageStreamTag, Raw: "ns-a/is:v1", Repo: "ns-a/is", Tag: "v1", Extra: true},
		{FieldPath: "spec.tags[pinned].from", Kind: model.RefImageStreamImage, Raw: "ns-b/other@" + digestB, Repo: "ns-b/other", Digest: digestB, Extra: true},
		{FieldPath: "spec.tags[same-stream].from", Kind: model.RefImageStreamTag, Raw: "ns-a/is:v1", Repo: "ns-a/is", Tag: "v1", Extra: true},
	}
	if !reflect.DeepEqual(res.Referrer.Refs, want) {
		t.Errorf("refs\n %+v\nwant\n %+v", res.Referrer.Refs, want)
	}
	if k := res.Referrer.Key; k != (model.ObjectKey{Kind: model.KindImageStream, Namespace: testNS, Name: "is"}) {
		t.Errorf("referrer key %v", k)
	}
}

func mustObject(t *testing.T, obj runtime.Object) Result {
	t.Helper()
	res, err := Object(obj)
	if err != nil {
		t.Fatal(err)
	}
	if res.Referrer == nil {
		t.Fatalf("no referrer for %T", obj)
	}
	return res
}
