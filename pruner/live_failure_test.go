package pruner_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pruneguard/pruneguard/pkg/registry"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/pruner"
)

// pull pulls spec and reads every layer, so that a missing layer link fails it.
func pull(t *testing.T, spec string) error {
	t.Helper()
	ref, err := name.NewDigest(spec, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		_ = rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// sharedHistory pushes four revisions of ns/app:v1 sharing a base layer, oldest first, and
// returns them newest first.
func sharedHistory(t *testing.T, env *testenv.Env, ns string) []*testenv.Pushed {
	t.Helper()
	h := make([]*testenv.Pushed, 4)
	h[3] = push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Layers: 2, Created: at(3 * time.Hour)})
	for i := 2; i >= 0; i-- {
		h[i] = push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Shared: h[3].Layers[:1], Layers: 1,
			Created: at(2*time.Hour + time.Duration(i)*time.Minute)})
	}
	return h
}

func testConfirmRegistryState(t *testing.T, env *testenv.Env) {
	const ns = "confirm"
	createNamespace(t, env, ns)
	defer cleanup(t, env, ns)
	h := sharedHistory(t, env, ns)
	code, stdout, stderr := runLive(t, env, "--keep-tag-revisions=2", "--confirm")
	if code != 0 {
		t.Fatalf("--confirm exited %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"listed 4 images, 1 image streams", "distribution registry", "Summary: deleted 2 image object(s), deleted 2 image stream tag item(s), updated 1 image stream(s)"} {
		if !strings.Contains(stderr+stdout, w) {
			t.Errorf("output does not contain %q:\n%s\n%s", w, stdout, stderr)
		}
	}
	for _, p := range h[2:] {
		if manifestServed(t, env, ns+"/app", p.Digest) {
			t.Errorf("pruned manifest %s is still served", p.Digest)
		}
	}
	for _, p := range h[:2] {
		if err := pull(t, p.PullSpec); err != nil {
			t.Errorf("kept image %s does not pull: %v", p.PullSpec, err)
		}
	}
	own, err := h[3].Layers[1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := env.Registry.BlobExists(context.Background(), ns+"/app", own.String()); err != nil || ok {
		t.Errorf("the layer link of pruned layer %s is still served (%v)", own, err)
	}
	again := push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v2", Shared: h[3].Layers[1:], Layers: 1, Created: at(time.Minute)})
	if err := pull(t, again.PullSpec); err != nil {
		t.Errorf("an image pushed again with pruned layer %s does not pull: %v", own, err)
	}
}

func testRegistryUnreachable(t *testing.T, env *testenv.Env) {
	const ns = "unreachable"
	createNamespace(t, env, ns)
	defer cleanup(t, env, ns)
	h := history(t, env, ns, "app", "v1", 3)
	before := streamItems(t, env, ns, "app")
	code, _, stderr := runLive(t, env, "--keep-tag-revisions=1", "--confirm", "--registry-url=http://"+closedAddr(t))
	if code == 0 {
		t.Fatal("--confirm against a closed port succeeded")
	}
	if !strings.Contains(stderr, "failed to ping registry") || !strings.Contains(stderr, "--registry-url") {
		t.Errorf("stderr does not name the ping failure and --registry-url:\n%s", stderr)
	}
	if after := streamItems(t, env, ns, "app"); !equalSets(before, after) {
		t.Errorf("stream changed although nothing could be deleted: %v -> %v", before, after)
	}
	for _, p := range h {
		if !imageExists(t, env, p.Digest) {
			t.Errorf("Image %s deleted although the registry was unreachable", p.Digest)
		}
	}
}

func testRegistryDownMidway(t *testing.T, env *testenv.Env) {
	const ns = "midway"
	createNamespace(t, env, ns)
	defer cleanup(t, env, ns)
	h := history(t, env, ns, "app", "v1", 4)
	createPod(t, env, ns, "web-1", h[3].PullSpec)
	before := streamItems(t, env, ns, "app")
	proxy := newFlakyRegistry(t, env.Registry.URL(), 2) // the ping and the dialect probe pass
	code, stdout, stderr := runLive(t, env, "--keep-tag-revisions=1", "--confirm", "--registry-url=http://"+proxy.addr)
	if code == 0 {
		t.Fatalf("--confirm with a registry gone down succeeded:\n%s", stdout)
	}
	for _, w := range []string{"failed to delete layer link", "not updated because", "deletion(s) failed"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not report %q per object:\n%s", w, stderr)
		}
	}
	if after := streamItems(t, env, ns, "app"); !equalSets(before, after) {
		t.Errorf("stream updated although its layer links could not be deleted: %v -> %v", before, after)
	}
	for _, p := range h {
		if !imageExists(t, env, p.Digest) {
			t.Errorf("Image %s deleted although the registry was down", p.Digest)
		}
		if !manifestServed(t, env, ns+"/app", p.Digest) {
			t.Errorf("manifest %s no longer served", p.Digest)
		}
	}
	if !strings.Contains(stdout, "Summary: deleted 0 objects") {
		t.Errorf("summary does not say nothing was deleted:\n%s", stdout)
	}
}

func testConcurrentStreamUpdate(t *testing.T, env *testenv.Env) {
	const ns = "conflict"
	ctx := context.Background()
	createNamespace(t, env, ns)
	defer cleanup(t, env, ns)
	h := history(t, env, ns, "app", "v1", 3)
	listing, err := pruner.ListCluster(ctx, env.Client, pruner.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer listing.Close()
	opts := pruner.NewOptions()
	keep := 1
	opts.KeepTagRevisions = &keep
	plan, err := pruner.NewPlanner(listing.Reader, opts.Policy(liveNow)).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pushed *testenv.Pushed
	attempts := 0
	api := &pruner.ImageAPI{Client: env.Client, Names: listing.ImageNames,
		BeforeStatusUpdate: func(_ context.Context, _, _ string, attempt int) {
			attempts = attempt
			if attempt == 1 { // a push lands between our read and our write
				pushed = push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Created: at(time.Minute)})
			}
		}}
	rc, err := registry.Connect(ctx, registry.Options{Host: env.Registry.Host})
	if err != nil {
		t.Fatal(err)
	}
	ex := &pruner.Executor{Deleters: pruner.Deleters{Streams: api, Images: api}.WithRegistry(rc), Workers: 2, Reader: listing.Reader}
	if _, err := ex.Execute(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("status update attempts = %d, want 2 (one conflict, one retry)", attempts)
	}
	want := setOf(key(ns, "app", "v1", pushed), key(ns, "app", "v1", h[0]))
	if got := streamItems(t, env, ns, "app"); !equalSets(got, want) {
		t.Errorf("items after the retried update = %v, want %v", got, want)
	}
	if !imageExists(t, env, pushed.Digest) || !manifestServed(t, env, ns+"/app", pushed.Digest) {
		t.Errorf("the image pushed concurrently was deleted")
	}
	for _, p := range h[1:] {
		if imageExists(t, env, p.Digest) {
			t.Errorf("planned Image %s not deleted", p.Digest)
		}
	}
}
