package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func createNamespace(t *testing.T, env *Env, ns string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
}

// TestSmoke walks the whole real stack once: API objects through the API server, an image
// through the registry, and a delete by digest through the registry API.
func TestSmoke(t *testing.T) {
	ctx := context.Background()
	env := StartT(t, Options{Registry: true})
	createNamespace(t, env, "smoke")

	pushed, err := env.Push(ctx, PushOptions{Namespace: "smoke", Stream: "app", Tag: "v1", Layers: 2})
	if err != nil {
		t.Fatal(err)
	}
	second, err := env.Push(ctx, PushOptions{Namespace: "smoke", Stream: "app", Tag: "v1", Shared: pushed.Layers[:1], Layers: 1})
	if err != nil {
		t.Fatal(err)
	}

	// The Image object is cluster-scoped and annotated as the integrated registry does.
	img := &imagev1.Image{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ImageObjectName(pushed.Digest)}, img); err != nil {
		t.Fatalf("get Image %s: %v", pushed.Digest, err)
	}
	if img.Annotations[ManagedAnnotation] != "true" || len(img.DockerImageLayers) != 2 || len(img.DockerImageMetadata.Raw) == 0 {
		t.Errorf("Image %s = annotations %v, %d layers, metadata %q; want managed, 2 layers, metadata",
			img.Name, img.Annotations, len(img.DockerImageLayers), img.DockerImageMetadata.Raw)
	}

	// The stream's status holds both revisions, newest first.
	is := &imagev1.ImageStream{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "smoke", Name: "app"}, is); err != nil {
		t.Fatal(err)
	}
	if len(is.Status.Tags) != 1 || len(is.Status.Tags[0].Items) != 2 ||
		is.Status.Tags[0].Items[0].Image != second.Digest || is.Status.Tags[0].Items[1].Image != pushed.Digest {
		t.Fatalf("image stream status = %+v; want tag v1 with [%s %s]", is.Status.Tags, second.Digest, pushed.Digest)
	}

	// The registry serves the image; pulling it back gives the same digest.
	ref, err := name.NewDigest(pushed.PullSpec, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if d, _ := pulled.Digest(); d.String() != pushed.Digest {
		t.Fatalf("pulled digest %s, want %s", d, pushed.Digest)
	}

	// Delete the manifest by digest through the registry API; it is gone, the other stays.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, env.Registry.URL()+"/v2/smoke/app/manifests/"+pushed.Digest, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE manifest: status %d, want 202", resp.StatusCode)
	}
	for digest, want := range map[string]bool{pushed.Digest: false, second.Digest: true} {
		got, err := env.Registry.ManifestExists(ctx, "smoke/app", digest)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("manifest %s exists = %v, want %v", digest, got, want)
		}
	}
}

// TestManifestList pushes a manifest list and checks the list and its children are recorded.
func TestManifestList(t *testing.T) {
	ctx := context.Background()
	env := StartT(t, Options{Registry: true})
	createNamespace(t, env, "multi")
	list, err := env.Push(ctx, PushOptions{Namespace: "multi", Stream: "tool", Platforms: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Children) != 2 || len(list.Image.DockerImageManifests) != 2 {
		t.Fatalf("list has %d children, %d manifests; want 2 and 2", len(list.Children), len(list.Image.DockerImageManifests))
	}
	for _, d := range []string{list.Digest, list.Children[0].Digest, list.Children[1].Digest} {
		if ok, err := env.Registry.ManifestExists(ctx, "multi/tool", d); err != nil || !ok {
			t.Errorf("manifest %s served = %v (%v), want true", d, ok, err)
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: ImageObjectName(d)}, &imagev1.Image{}); err != nil {
			t.Errorf("Image %s: %v", d, err)
		}
	}
}

// TestCRDsAcceptRealObjects creates objects as `oc get -o yaml` prints them and reads them back.
func TestCRDsAcceptRealObjects(t *testing.T) {
	ctx := context.Background()
	env := StartT(t, Options{})
	createNamespace(t, env, "shop")
	data, err := os.ReadFile("testdata/openshift-objects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	kinds := map[string]bool{}
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		status, hasStatus := u.Object["status"]
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		if u.GetKind() == "ImageStream" && hasStatus {
			// The status subresource takes the status; a create ignores it, as in OpenShift.
			u.Object["status"] = status
			if err := env.Client.Status().Update(ctx, u); err != nil {
				t.Fatalf("update status of %s: %v", u.GetName(), err)
			}
		}
		kinds[u.GetKind()] = true
	}
	if len(kinds) != 5 {
		t.Fatalf("created kinds %v, want Image, ImageStream, Build, BuildConfig, DeploymentConfig", kinds)
	}

	img := &imagev1.Image{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "sha256.4bd0ef0f3b1fd9cfd3c19e5a4d5f0b1e3c6e1a3d2b1c0f9e8d7c6b5a49382716"}, img); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(img.DockerImageMetadata.Raw, []byte(`"Size":80123456`)) {
		t.Errorf("dockerImageMetadata lost fields: %s", img.DockerImageMetadata.Raw)
	}
	is := &imagev1.ImageStream{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, is); err != nil {
		t.Fatal(err)
	}
	if len(is.Status.Tags) != 1 || len(is.Status.Tags[0].Items) != 1 || len(is.Spec.Tags) != 1 || is.Spec.Tags[0].From == nil {
		t.Errorf("image stream = spec %+v status %+v; want one spec tag with from and one status item", is.Spec.Tags, is.Status.Tags)
	}
}

// TestStopLeavesNothingRunning checks that after stop no server answers on the ports the
// environment used.
func TestStopLeavesNothingRunning(t *testing.T) {
	env, stop, err := Start(context.Background(), Options{Registry: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{u.Host, env.Registry.Host}
	for _, a := range addrs {
		if !Listening(a) {
			t.Fatalf("%s is not listening while the environment runs", a)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if Listening(a) {
			t.Errorf("%s still accepts connections after stop", a)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}
