package extract

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// loadCase decodes every object of testdata/NAME/cluster.json and extracts it.
func loadCase(t *testing.T, name string) []Result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name, "cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Result
	skipped, err := NewDecoder().DecodeAll(f, func(obj runtime.Object) error {
		res, err := Object(obj)
		if err != nil {
			return err
		}
		if !res.Known() {
			t.Errorf("%T was decoded but not extracted", obj)
		}
		out = append(out, res)
		return nil
	})
	if err != nil || skipped != 0 {
		t.Fatalf("DecodeAll: skipped %d, %v", skipped, err)
	}
	return out
}

// TestConformanceCaseKinds decodes the oversize case and checks the count of every kind
// against a count taken from the raw JSON, and that every image string of every referrer's
// containers and init containers became exactly one ref with that raw value.
func TestConformanceCaseKinds(t *testing.T) {
	results := loadCase(t, "oversize")
	raw := rawItems(t, "oversize")
	if len(results) != len(raw) {
		t.Fatalf("%d results for %d items", len(results), len(raw))
	}
	wantKinds, gotKinds := map[string]int{}, map[string]int{}
	for i, item := range raw {
		wantKinds[item.Kind]++
		gotKinds[results[i].Kind]++
		if r := results[i].Referrer; r != nil {
			if got, want := refRaws(r, "image"), item.images(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: container refs %q, want %q", r.Key, got, want)
			}
		}
	}
	if !reflect.DeepEqual(gotKinds, wantKinds) {
		t.Errorf("kinds %v, want %v", gotKinds, wantKinds)
	}
	if wantKinds[model.KindLimitRange] != 2 || wantKinds[model.KindPod] != 80 {
		t.Fatalf("the copied case changed: %v", wantKinds)
	}
}

// TestConformanceObjectsCheckedByHand checks objects of the oversize case read by hand.
func TestConformanceObjectsCheckedByHand(t *testing.T) {
	const reg = "image-registry.openshift-image-registry.svc:5000/"
	byKey := map[model.ObjectKey]Result{}
	for _, r := range loadCase(t, "oversize") {
		switch {
		case r.Referrer != nil:
			byKey[r.Referrer.Key] = r
		case r.Image != nil:
			byKey[model.ObjectKey{Kind: model.KindImage, Name: r.Image.Digest}] = r
		case r.LimitRange != nil:
			byKey[model.ObjectKey{Kind: model.KindLimitRange, Namespace: r.LimitRange.Namespace, Name: r.LimitRange.Name}] = r
		}
	}
	pod := byKey[model.ObjectKey{Kind: model.KindPod, Namespace: "ns-0", Name: "pod-0"}].Referrer
	wantPod := []model.Ref{{FieldPath: "spec.containers[app].image", Container: "app", Kind: model.RefDockerImage,
		Raw: reg + "ns-0/app-1:latest", Repo: "ns-0/app-1", Tag: "latest"}}
	if pod == nil || pod.Phase != "Pending" || !pod.Created.Equal(time.Date(2026, 11, 27, 20, 5, 18, 0, time.UTC)) || !reflect.DeepEqual(pod.Refs, wantPod) {
		t.Errorf("pod-0: %+v", pod)
	}
	bc := byKey[model.ObjectKey{Kind: model.KindBuildConfig, Namespace: "ns-0", Name: "BuildConfig-0"}].Referrer
	wantBC := []model.Ref{{FieldPath: "spec.strategy.sourceStrategy.from", Kind: model.RefImageStreamTag, Raw: "ns-0/app-0:latest", Repo: "ns-0/app-0", Tag: "latest"}}
	if bc == nil || !reflect.DeepEqual(bc.Refs, wantBC) {
		t.Errorf("BuildConfig-0: %+v", bc)
	}
	cj := byKey[model.ObjectKey{Kind: model.KindCronJob, Namespace: "ns-1", Name: "CronJob-0"}].Referrer
	if cj == nil || len(cj.Refs) != 2 || cj.Refs[1].FieldPath != "spec.jobTemplate.spec.template.spec.containers[sidecar].image" ||
		cj.Refs[1].Repo != "ns-1/app-4" || cj.Refs[1].Digest != "sha256:fd4d882d6ea8b5753c86983e380c8774412f90974a9efb5eec2cde2bee9c9213" {
		t.Errorf("CronJob-0: %+v", cj)
	}
	lr := byKey[model.ObjectKey{Kind: model.KindLimitRange, Namespace: "ns-1", Name: "images"}].LimitRange
	if lr == nil || lr.MaxImageSize != 348<<20 {
		t.Errorf("LimitRange ns-1/images: %+v, want 348Mi", lr)
	}
	img := byKey[model.ObjectKey{Kind: model.KindImage, Name: "sha256:f2486ca57504e455b495470ab230ea3cdfa4e67c3ed8c5e1869a9e888baf10c5"}].Image
	if img == nil || !img.Managed || img.Size != 387973120 || len(img.Layers) != 2 || img.Layers[0].Size != 1000 ||
		img.Config != "sha256:717d2ab95073e200f5629a9456bf497c12400cace4676645e6e982d0017f079c" {
		t.Errorf("image f2486ca5: %+v", img)
	}
	list := byKey[model.ObjectKey{Kind: model.KindImage, Name: "sha256:6ba2e2a6ac4513ae9b6de01699553868e43a9c1f2f7c66d2f1b900081bd7c679"}].Image
	if list == nil || len(list.Children) != 2 || list.Config != "" || list.Children[0] != "sha256:422088778549737058921c05f1fd167f9f9cdfc0324350d9c7aca3c3d2ad387e" {
		t.Errorf("manifest list 6ba2e2a6: %+v", list)
	}
	is := byKey[model.ObjectKey{Kind: model.KindImageStream, Namespace: "ns-0", Name: "app-0"}].Stream
	if is == nil || len(is.Tags) != 2 || is.Tags[0].Name != "latest" || len(is.Tags[0].Items) != 2 || len(is.Tags[1].Items) != 5 ||
		is.Tags[0].Items[0].Image != "sha256:f2486ca57504e455b495470ab230ea3cdfa4e67c3ed8c5e1869a9e888baf10c5" {
		t.Errorf("stream ns-0/app-0: %+v", is)
	}
}

// TestConformanceInvalidMessage checks that the invalid reference of the invalid-abort case
// gives exactly the message oc aborts with, and that the other invalid reference (a failed old
// pod, which oc does not read) is recorded too.
func TestConformanceInvalidMessage(t *testing.T) {
	var invalid []string
	for _, r := range loadCase(t, "invalid-abort") {
		for _, e := range r.Invalid {
			invalid = append(invalid, e.Error())
		}
	}
	data, err := os.ReadFile(filepath.Join("testdata", "invalid-abort", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected struct{ Error string }
	if err := json.Unmarshal(data, &expected); err != nil || expected.Error == "" {
		t.Fatalf("expected.json: %v", err)
	}
	want := []string{
		expected.Error,
		`pod/pod-12 namespace=ns-2: container app: invalid image reference "trailing:space ": invalid reference format`,
	}
	if !reflect.DeepEqual(invalid, want) {
		t.Errorf("invalid\n %q\nwant\n %q", invalid, want)
	}
}

// rawItem is an item of a case read as plain JSON, the oracle for the decoded objects.
type rawItem struct {
	Kind string
	Spec map[string]any
}

func rawItems(t *testing.T, name string) []rawItem {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name, "cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []rawItem }
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// images lists the non-blank images of the item's pod spec containers and init containers,
// init containers first, found by walking the JSON.
func (it rawItem) images() []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		if v, ok := v.(map[string]any); ok {
			for _, k := range []string{"initContainers", "containers"} {
				if list, ok := v[k].([]any); ok {
					for _, c := range list {
						if img, _ := c.(map[string]any)["image"].(string); strings.TrimSpace(img) != "" {
							out = append(out, img)
						}
					}
				}
			}
			for k, child := range v {
				if k != "containers" && k != "initContainers" {
					walk(child)
				}
			}
		}
	}
	walk(it.Spec)
	return out
}

// refRaws lists the raw values of the refs whose field path ends in suffix.
func refRaws(o *model.Object, suffix string) []string {
	var out []string
	for _, r := range o.Refs {
		if strings.HasSuffix(r.FieldPath, "."+suffix) {
			out = append(out, r.Raw)
		}
	}
	return out
}

// TestUnstructuredMatchesTyped extracts every object of the oversize case twice, from the
// typed object and from its unstructured form, and requires identical results: the --from-file
// loader feeds unstructured objects.
func TestUnstructuredMatchesTyped(t *testing.T) {
	typed := loadCase(t, "oversize")
	data, err := os.ReadFile(filepath.Join("testdata", "oversize", "cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	for i, item := range list.Items {
		got, err := Object(&unstructured.Unstructured{Object: item})
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, typed[i]) {
			t.Errorf("item %d (%s): unstructured\n %+v\ntyped\n %+v", i, typed[i].Kind, got, typed[i])
		}
	}
}
