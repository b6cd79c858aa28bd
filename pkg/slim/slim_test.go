package slim

import (
	"errors"
	"testing"

	jsoniter "github.com/json-iterator/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The extraction of each kind against its full typed decode is compared in pruner
// (dumpfast_test.go, every kind with its edge cases and a whole synthetic cluster) and in
// webhook (decode_test.go, objects as an API server sends them); these are the package's own
// rules.

var testJSON = jsoniter.Config{CaseSensitive: true}.Froze()

func TestDecodeKeepsTheObjectsOwnTypeMeta(t *testing.T) {
	pod := schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	for raw, want := range map[string]schema.GroupVersionKind{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`:             pod,
		`{"metadata":{"name":"p"}}`:                                            {},
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"p"}}`: {Group: "apps", Version: "v1", Kind: "Deployment"},
	} {
		obj, err := Decode(testJSON, pod, []byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if _, ok := obj.(*corev1.Pod); !ok {
			t.Fatalf("%s decoded as %T, want a Pod", raw, obj)
		}
		if got := obj.GetObjectKind().GroupVersionKind(); got != want {
			t.Errorf("%s: TypeMeta %v, want %v (the caller checks it against the request)", raw, got, want)
		}
	}
}

func TestDecodeRefusesKindsWithoutSlimType(t *testing.T) {
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Secret"},
		{Version: "v1beta1", Kind: "Pod"},
		{Group: "image.openshift.io", Version: "v1", Kind: "ImageStreamTag"},
	} {
		if Known(gvk) {
			t.Errorf("%v is Known", gvk)
		}
		if _, err := Decode(testJSON, gvk, []byte(`{}`)); !errors.Is(err, ErrUnknownKind) {
			t.Errorf("%v: error %v, want ErrUnknownKind", gvk, err)
		}
	}
	if n := len(Kinds()); n != 14 {
		t.Errorf("%d kinds, want the 14 the extraction reads", n)
	}
}
