package synth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/scheme"
)

// TestDumpDecodesBackIntoTheSameObjects reads a dump as --from-file does and as a plain JSON
// List, and finds every object of the cluster, Images under their OpenShift names.
func TestDumpDecodesBackIntoTheSameObjects(t *testing.T) {
	c := generate(t, Options{Size: Small, Seed: 3})
	var buf bytes.Buffer
	if err := WriteDump(&buf, c); err != nil {
		t.Fatal(err)
	}
	var list struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil {
		t.Fatalf("the dump is not one JSON document: %v", err)
	}
	want := c.Counts()
	delete(want, "Namespace")
	total := 0
	for _, n := range want {
		total += n
	}
	if list.APIVersion != "v1" || list.Kind != "List" || len(list.Items) != total {
		t.Fatalf("dump is %s %s with %d items, want v1 List with %d", list.APIVersion, list.Kind, len(list.Items), total)
	}

	got := map[string]int{}
	skipped, err := extract.NewDecoder().DecodeAll(bytes.NewReader(buf.Bytes()), func(obj runtime.Object) error {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		got[kind]++
		if img, ok := obj.(*imagev1.Image); ok && !strings.HasPrefix(img.Name, "sha256:") {
			t.Errorf("Image named %q, want the digest sha256:HEX as OpenShift names it", img.Name)
		}
		return nil
	})
	if err != nil || skipped != 0 {
		t.Fatalf("decoding the dump: %d skipped, %v", skipped, err)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d decoded, want %d", k, got[k], n)
		}
	}
}

// TestDumpItemsAreStrictlyTyped decodes each item with the scheme's strict decoder: a field
// the API types do not have would mean the dump is not what oc prints.
func TestDumpItemsAreStrictlyTyped(t *testing.T) {
	c := generate(t, Options{Images: 200, Seed: 1})
	var buf bytes.Buffer
	if err := WriteDump(&buf, c); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme.New(), serializer.EnableStrict).UniversalDeserializer()
	for i, item := range list.Items {
		if _, _, err := dec.Decode(item, nil, nil); err != nil {
			t.Fatalf("item %d: %v\n%s", i, err, item)
		}
	}
}
