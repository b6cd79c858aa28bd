package extract

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Fixture builders shared by the tests.

const (
	testNS   = "ns-a"
	host     = "image-registry.openshift-image-registry.svc:5000"
	digestA  = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB  = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	badImage = "Registry.Example.com/NS/App:Tag"
)

var created = time.Date(2026, 11, 27, 20, 5, 18, 0, time.UTC)

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace:         testNS,
		Name:              name,
		UID:               "uid-" + "1",
		ResourceVersion:   "42",
		CreationTimestamp: metav1.NewTime(created),
	}
}

func ctr(name, image string) corev1.Container { return corev1.Container{Name: name, Image: image} }

// spec is a pod spec with one init container, two containers and one ephemeral container.
func spec() corev1.PodSpec {
	return corev1.PodSpec{
		InitContainers: []corev1.Container{ctr("init", host+"/ns-a/init:v1")},
		Containers:     []corev1.Container{ctr("app", host+"/ns-a/app@"+digestA), ctr("side", "docker.io/library/nginx:1.25")},
		EphemeralContainers: []corev1.EphemeralContainer{{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: host + "/ns-b/debug"},
		}},
	}
}

func template() corev1.PodTemplateSpec { return corev1.PodTemplateSpec{Spec: spec()} }

func objRef(kind, ns, name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name}
}
