package imageref

import (
	"errors"
	"testing"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// TestInvalidReferenceErrorMessage checks the message for each way a referrer holds a
// reference against the wording of oc's ErrBadReference: resource/name namespace=ns, the
// container for pod specs, nothing for a build strategy, the field path for what oc never reads.
func TestInvalidReferenceErrorMessage(t *testing.T) {
	key := func(kind string) model.ObjectKey { return model.ObjectKey{Kind: kind, Namespace: "ns-0", Name: "obj"} }
	for _, tc := range []struct {
		name string
		key  model.ObjectKey
		ref  model.Ref
		want string
	}{
		{"a pod container is named as in the conformance case",
			model.ObjectKey{Kind: model.KindPod, Namespace: "ns-0", Name: "pod-8"},
			model.Ref{FieldPath: "spec.containers[app].image", Container: "app", Kind: model.RefDockerImage, Raw: "Registry.Example.com/NS/App:Tag"},
			`pod/pod-8 namespace=ns-0: container app: invalid image reference "Registry.Example.com/NS/App:Tag": repository name must be lowercase`},
		{"an init container of a deployment template is an init container",
			key(model.KindDeployment),
			model.Ref{FieldPath: "spec.template.spec.initContainers[init].image", Container: "init", Kind: model.RefDockerImage, Raw: "A"},
			`deployment/obj namespace=ns-0: init container init: invalid image reference "A": repository name must be lowercase`},
		{"a cron job's container is a container",
			key(model.KindCronJob),
			model.Ref{FieldPath: "spec.jobTemplate.spec.template.spec.containers[c].image", Container: "c", Kind: model.RefDockerImage, Raw: "A"},
			`cronjob/obj namespace=ns-0: container c: invalid image reference "A": repository name must be lowercase`},
		{"a replication controller uses oc's resource name",
			key(model.KindReplicationController),
			model.Ref{FieldPath: "spec.template.spec.containers[c].image", Container: "c", Kind: model.RefDockerImage, Raw: "A"},
			`replicationcontroller/obj namespace=ns-0: container c: invalid image reference "A": repository name must be lowercase`},
		{"a deployment config uses oc's resource name",
			key(model.KindDeploymentConfig),
			model.Ref{FieldPath: "spec.template.spec.containers[c].image", Container: "c", Kind: model.RefDockerImage, Raw: "A"},
			`deploymentconfig/obj namespace=ns-0: container c: invalid image reference "A": repository name must be lowercase`},
		{"a build's DockerImage from has no subreferrer",
			key(model.KindBuild),
			model.Ref{FieldPath: "spec.strategy.dockerStrategy.from", Kind: model.RefDockerImage, Raw: "A"},
			`build/obj namespace=ns-0: invalid image reference "A": repository name must be lowercase`},
		{"a build config's ImageStreamTag names the target kind",
			key(model.KindBuildConfig),
			model.Ref{FieldPath: "spec.strategy.sourceStrategy.from", Kind: model.RefImageStreamTag, Raw: "app"},
			`buildconfig/obj namespace=ns-0: invalid ImageStreamTag reference "app": repository name must be lowercase`},
		{"a custom strategy's ImageStreamImage names the target kind",
			key(model.KindBuild),
			model.Ref{FieldPath: "spec.strategy.customStrategy.from", Kind: model.RefImageStreamImage, Raw: "app"},
			`build/obj namespace=ns-0: invalid ImageStreamImage reference "app": repository name must be lowercase`},
		{"an ephemeral container is named like a container",
			model.ObjectKey{Kind: model.KindPod, Namespace: "ns-0", Name: "p"},
			model.Ref{FieldPath: "spec.ephemeralContainers[dbg].image", Container: "dbg", Kind: model.RefDockerImage, Raw: "A"},
			`pod/p namespace=ns-0: ephemeral container dbg: invalid image reference "A": repository name must be lowercase`},
		{"a trigger oc does not read names its field path",
			key(model.KindDeploymentConfig),
			model.Ref{FieldPath: "spec.triggers[0].imageChangeParams.from", Kind: model.RefImageStreamTag, Raw: "A"},
			`deploymentconfig/obj namespace=ns-0: spec.triggers[0].imageChangeParams.from: invalid ImageStreamTag reference "A": repository name must be lowercase`},
		{"a cluster-scoped object prints no namespace",
			model.ObjectKey{Kind: model.KindImage, Name: "img"},
			model.Ref{FieldPath: "dockerImageReference", Kind: model.RefDockerImage, Raw: "A"},
			`image/img: dockerImageReference: invalid image reference "A": repository name must be lowercase`},
		{"the value is quoted as Go's %q quotes it",
			model.ObjectKey{Kind: model.KindPod, Namespace: "n", Name: "p"},
			model.Ref{FieldPath: "spec.containers[c].image", Container: "c", Kind: model.RefDockerImage, Raw: "a\tb\"c"},
			`pod/p namespace=n: container c: invalid image reference "a\tb\"c": repository name must be lowercase`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := &InvalidReferenceError{Object: tc.key, FieldPath: tc.ref.FieldPath, Container: tc.ref.Container,
				Kind: tc.ref.Kind, Value: tc.ref.Raw, Err: reference.ErrNameContainsUppercase}
			if got := err.Error(); got != tc.want {
				t.Errorf("got\n %s\nwant\n %s", got, tc.want)
			}
			if !errors.Is(err, reference.ErrNameContainsUppercase) {
				t.Errorf("errors.Is does not reach the parse error")
			}
			tc.ref.Invalid = reference.ErrNameContainsUppercase.Error()
			if got := NewInvalidReferenceError(tc.key, tc.ref).Error(); got != tc.want {
				t.Errorf("rebuilt from the ref:\n %s\nwant\n %s", got, tc.want)
			}
		})
	}
}

func TestInvalidReferenceErrorFromResolution(t *testing.T) {
	ref, _, err := ObjectReference(corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app"}, "ns")
	if err == nil {
		t.Fatal("want an error for an ImageStreamTag without a tag")
	}
	ref.FieldPath = "spec.strategy.sourceStrategy.from"
	got := NewInvalidReferenceError(model.ObjectKey{Kind: model.KindBuildConfig, Namespace: "ns", Name: "bc"}, ref).Error()
	want := `buildconfig/bc namespace=ns: invalid ImageStreamTag reference "app": expected exactly one : delimiter in the istag "app"`
	if got != want {
		t.Errorf("got\n %s\nwant\n %s", got, want)
	}
}
