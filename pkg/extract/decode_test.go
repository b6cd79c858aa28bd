package extract

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/pruneguard/pruneguard/pkg/model"
)

const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: ns-a
  creationTimestamp: "2026-11-27T20:05:18Z"
spec:
  containers:
  - name: app
    image: ` + host + `/ns-a/app:v1
status:
  phase: Running
`

func TestDecode(t *testing.T) {
	d := NewDecoder()
	for _, tc := range []struct {
		name    string
		data    string
		kind    string
		unknown bool
		fails   bool
	}{
		{"a YAML pod decodes to a typed pod", podYAML, "Pod", false, false},
		{"a JSON build config decodes to a typed build config",
			`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"bc"}}`, "BuildConfig", false, false},
		{"a JSON image decodes to a typed image",
			`{"apiVersion":"image.openshift.io/v1","kind":"Image","metadata":{"name":"sha256:x"},"dockerImageMetadata":{"Size":3}}`, "Image", false, false},
		{"an unregistered kind is an unknown-kind error",
			`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}`, "", true, true},
		{"an object without kind fails", `{"apiVersion":"v1","metadata":{"name":"w"}}`, "", false, true},
		{"malformed JSON fails", `{"apiVersion":"v1",`, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := d.Decode([]byte(tc.data))
			if tc.fails != (err != nil) || errors.Is(err, ErrUnknownKind) != tc.unknown {
				t.Fatalf("Decode error %v, want failure %v, unknown kind %v", err, tc.fails, tc.unknown)
			}
			if err != nil {
				return
			}
			if got := obj.GetObjectKind().GroupVersionKind().Kind; got != tc.kind {
				t.Errorf("kind %q, want %q", got, tc.kind)
			}
		})
	}
}

func TestDecodedPodExtracts(t *testing.T) {
	obj, err := NewDecoder().Decode([]byte(podYAML))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obj.(*corev1.Pod); !ok {
		t.Fatalf("decoded %T, want *corev1.Pod", obj)
	}
	res := mustObject(t, obj)
	if res.Referrer.Phase != "Running" || len(res.Referrer.Refs) != 1 || res.Referrer.Refs[0].Repo != "ns-a/app" {
		t.Errorf("referrer %+v", res.Referrer)
	}
}

func TestDecodeAll(t *testing.T) {
	stream := podYAML + `---
apiVersion: v1
kind: List
items:
- apiVersion: image.openshift.io/v1
  kind: ImageStream
  metadata: {name: is, namespace: ns-a}
- apiVersion: example.com/v1
  kind: Widget
  metadata: {name: w}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cm}
---
---
apiVersion: build.openshift.io/v1
kind: Build
metadata: {name: b, namespace: ns-a}
`
	var kinds []string
	skipped, err := NewDecoder().DecodeAll(strings.NewReader(stream), func(obj runtime.Object) error {
		kinds = append(kinds, obj.GetObjectKind().GroupVersionKind().Kind)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Pod", "ImageStream", "ConfigMap", "Build"}; !reflect.DeepEqual(kinds, want) || skipped != 1 {
		t.Errorf("kinds %v skipped %d, want %v and 1 skipped", kinds, skipped, want)
	}
}

func TestDecodeAllStopsOnBadItem(t *testing.T) {
	stream := `{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}},{"apiVersion":"v1","kind":"Pod","spec":"oops"}]}`
	n := 0
	_, err := NewDecoder().DecodeAll(strings.NewReader(stream), func(runtime.Object) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "document 0 item 1") || n != 1 {
		t.Errorf("error %v after %d objects, want a failure naming document 0 item 1 after 1 object", err, n)
	}
}

func TestUnstructuredIsConverted(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "build.openshift.io/v1", "kind": "Build",
		"metadata": map[string]any{"name": "b", "namespace": "ns-a"},
		"spec": map[string]any{"strategy": map[string]any{"sourceStrategy": map[string]any{
			"from": map[string]any{"kind": "ImageStreamTag", "name": "s2i:v1"}}}},
	}}
	res := mustObject(t, u)
	want := []model.Ref{{FieldPath: "spec.strategy.sourceStrategy.from", Kind: model.RefImageStreamTag, Raw: "ns-a/s2i:v1", Repo: "ns-a/s2i", Tag: "v1"}}
	if !reflect.DeepEqual(res.Referrer.Refs, want) {
		t.Errorf("refs %+v, want %+v", res.Referrer.Refs, want)
	}
	other := &unstructured.Unstructured{}
	other.SetGroupVersionKind(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Build"})
	if res, err := Object(other); err != nil || res.Known() {
		t.Errorf("a Build of another group: %+v, %v; want ignored", res, err)
	}
}

func TestNewSchemeKnowsTheKinds(t *testing.T) {
	s := NewScheme()
	for _, obj := range []runtime.Object{&corev1.Pod{}, &buildv1.BuildConfig{}, &imagev1.ImageStream{}, &corev1.LimitRange{}} {
		if _, _, err := s.ObjectKinds(obj); err != nil {
			t.Errorf("%T: %v", obj, err)
		}
	}
}
