package webhook

import (
	"errors"
	"fmt"

	jsoniter "github.com/json-iterator/go"
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/pruneguard/pruneguard/pkg/slim"
)

// errNotSent matches the decode error of a review whose kind the webhook rules do not send
// (charts/pruneguard/files/webhook-rules.yaml): the handler allows it and records nothing.
var errNotSent = errors.New("kind is not one the webhook is registered for")

// newJSON returns the codec of reviews and objects: json-iterator, configured as the
// Kubernetes API machinery configured it while it was its JSON codec (field names are
// case-sensitive, as the API server writes them). It decodes a review about three times as
// fast as encoding/json, whose validation pass and reflection dominated the handler's time.
// The API server has already validated and normalised every object it sends, so the decoder
// only has to be right about well-formed JSON; malformed input still fails.
//
// ObjectFieldMustBeSimpleString matches struct field names without copying them (a copy per
// field was a third of all allocations). A field name written with an escape sequence
// ("im\u0061ge") is then not recognised and its value is skipped; the API server never writes
// one, because it sends the object as it re-encoded it, not as the client wrote it (and the
// watch would still index the stored object). Map keys (labels) are read as any string.
func newJSON() jsoniter.API {
	return jsoniter.Config{CaseSensitive: true, ValidateJsonRawMessage: true, ObjectFieldMustBeSimpleString: true}.Froze()
}

// newObject returns an empty typed object for a review's kind: one of the referrer kinds and
// image kinds the webhook rules send, in the version they are registered for. The request's
// kind is what the API server converted the object to, so it is also the object's own kind.
// Any other kind gives nil.
func newObject(gvk metav1.GroupVersionKind) runtime.Object {
	if gvk.Version != "v1" {
		return nil
	}
	switch gvk.Group {
	case "":
		return newCore(gvk.Kind)
	case "apps":
		return newApps(gvk.Kind)
	case "batch":
		return newBatch(gvk.Kind)
	case appsv1.GroupName:
		if gvk.Kind == "DeploymentConfig" {
			return &appsv1.DeploymentConfig{}
		}
	case buildv1.GroupName:
		return newBuild(gvk.Kind)
	case imagev1.GroupName:
		return newImage(gvk.Kind)
	}
	return nil
}

func newCore(kind string) runtime.Object {
	switch kind {
	case "Pod":
		return &corev1.Pod{}
	case "ReplicationController":
		return &corev1.ReplicationController{}
	}
	return nil
}

func newApps(kind string) runtime.Object {
	switch kind {
	case "ReplicaSet":
		return &kappsv1.ReplicaSet{}
	case "Deployment":
		return &kappsv1.Deployment{}
	case "StatefulSet":
		return &kappsv1.StatefulSet{}
	case "DaemonSet":
		return &kappsv1.DaemonSet{}
	}
	return nil
}

func newBatch(kind string) runtime.Object {
	switch kind {
	case "Job":
		return &batchv1.Job{}
	case "CronJob":
		return &batchv1.CronJob{}
	}
	return nil
}

func newBuild(kind string) runtime.Object {
	switch kind {
	case "Build":
		return &buildv1.Build{}
	case "BuildConfig":
		return &buildv1.BuildConfig{}
	}
	return nil
}

func newImage(kind string) runtime.Object {
	switch kind {
	case "Image":
		return &imagev1.Image{}
	case "ImageStream":
		return &imagev1.ImageStream{}
	}
	return nil
}

// decodeObject decodes raw into the typed object of gvk, through its slim type (pkg/slim:
// only the fields the extraction reads are decoded, everything else is skipped, which halves
// the handler's time for a typical pod) when it has one. It fails with errNotSent for a kind
// newObject does not know, without reading raw, and for an object whose own apiVersion and
// kind say it is something else than the request claims (never from an API server, but then
// it would be read as the wrong type).
func decodeObject(json jsoniter.API, gvk metav1.GroupVersionKind, raw []byte) (runtime.Object, error) {
	obj := newObject(gvk)
	if obj == nil {
		return nil, fmt.Errorf("%w: %s", errNotSent, gvkString(gvk))
	}
	var err error
	if kind := (schema.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}); slim.Known(kind) {
		obj, err = slim.Decode(json, kind, raw)
	} else {
		err = json.Unmarshal(raw, obj)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to decode %s: %w", gvkString(gvk), err)
	}
	own := obj.GetObjectKind().GroupVersionKind()
	if !own.Empty() && (own.Group != gvk.Group || own.Version != gvk.Version || own.Kind != gvk.Kind) {
		return nil, fmt.Errorf("%w: the request is for %s but the object is %s", errNotSent, gvkString(gvk), own)
	}
	return obj, nil
}

func gvkString(gvk metav1.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version + "/" + gvk.Kind
	}
	return gvk.Group + "/" + gvk.Version + "/" + gvk.Kind
}
