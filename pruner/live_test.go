package pruner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// ruleCase is one keep or drop rule shown end to end: objects created in the real API server
// and images pushed to the real registry, a dry run whose plan must be exactly the expected
// one, then a --confirm run after which the API and the registry must show that plan done.
type ruleCase struct {
	name  string
	flags []string
	// setup creates the case's objects in ns and returns what the prune deletes: stream
	// items (itemKey) and images, and what it must keep.
	setup func(t *testing.T, env *testenv.Env, ns string) (items []string, images, kept []*testenv.Pushed)
}

func ruleCases() []ruleCase {
	return []ruleCase{
		{name: "an old unreferenced revision beyond --keep-tag-revisions is pruned with its image",
			flags: []string{"--keep-tag-revisions=2"},
			setup: func(t *testing.T, env *testenv.Env, ns string) ([]string, []*testenv.Pushed, []*testenv.Pushed) {
				h := history(t, env, ns, "app", "v1", 4)
				return []string{key(ns, "app", "v1", h[2]), key(ns, "app", "v1", h[3])}, h[2:], h[:2]
			}},
		{name: "a revision within --keep-tag-revisions is kept",
			flags: []string{"--keep-tag-revisions=3"},
			setup: func(t *testing.T, env *testenv.Env, ns string) ([]string, []*testenv.Pushed, []*testenv.Pushed) {
				h := history(t, env, ns, "app", "v1", 3)
				return nil, nil, h
			}},
		{name: "a revision a pod references by digest is kept by the pod reference",
			flags: []string{"--keep-tag-revisions=1"},
			setup: func(t *testing.T, env *testenv.Env, ns string) ([]string, []*testenv.Pushed, []*testenv.Pushed) {
				h := history(t, env, ns, "app", "v1", 3)
				createPod(t, env, ns, "web-1", h[2].PullSpec)
				return []string{key(ns, "app", "v1", h[1])}, h[1:2], []*testenv.Pushed{h[0], h[2]}
			}},
		{name: "the current revision of a tag a pod uses is kept by the tag reference",
			flags: []string{"--keep-tag-revisions=0"},
			setup: func(t *testing.T, env *testenv.Env, ns string) ([]string, []*testenv.Pushed, []*testenv.Pushed) {
				h := history(t, env, ns, "app", "v1", 2)
				createPod(t, env, ns, "web-1", env.Registry.Host+"/"+ns+"/app:v1")
				return []string{key(ns, "app", "v1", h[1])}, h[1:], h[:1]
			}},
		{name: "a revision younger than --keep-younger-than is kept",
			flags: []string{"--keep-tag-revisions=0", "--keep-younger-than=1h"},
			setup: func(t *testing.T, env *testenv.Env, ns string) ([]string, []*testenv.Pushed, []*testenv.Pushed) {
				old := push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Created: at(3 * time.Hour)})
				young := push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Created: at(30 * time.Minute)})
				return []string{key(ns, "app", "v1", old)}, []*testenv.Pushed{old}, []*testenv.Pushed{young}
			}},
		{name: "an unmanaged image is kept with --all=false while its stream item is pruned",
			flags: []string{"--keep-tag-revisions=1", "--all=false"},
			setup: func(t *testing.T, env *testenv.Env, ns string) ([]string, []*testenv.Pushed, []*testenv.Pushed) {
				unmanaged := push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Created: at(3 * time.Hour), Unmanaged: true})
				managed := push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Created: at(150 * time.Minute)})
				head := push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Created: at(2 * time.Hour)})
				items := []string{key(ns, "app", "v1", unmanaged), key(ns, "app", "v1", managed)}
				return items, []*testenv.Pushed{managed}, []*testenv.Pushed{head, unmanaged}
			}},
		{name: "an image over the namespace's LimitRange is pruned with --prune-over-size-limit",
			flags: []string{"--prune-over-size-limit"},
			setup: func(t *testing.T, env *testenv.Env, ns string) ([]string, []*testenv.Pushed, []*testenv.Pushed) {
				big := push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Layers: 2, LayerSize: 4096, Created: at(3 * time.Hour)})
				small := push(t, env, testenv.PushOptions{Namespace: ns, Stream: "app", Tag: "v1", Layers: 1, LayerSize: 64, Created: at(2 * time.Hour)})
				createImageLimit(t, env, ns, "2Ki")
				return []string{key(ns, "app", "v1", big)}, []*testenv.Pushed{big}, []*testenv.Pushed{small}
			}},
	}
}

func key(ns, stream, tag string, p *testenv.Pushed) string { return itemKey(ns, stream, tag, p.Digest) }

func createImageLimit(t *testing.T, env *testenv.Env, ns, max string) {
	t.Helper()
	lr := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "images"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: "openshift.io/Image", Max: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(max)},
		}}},
	}
	if err := env.Client.Create(context.Background(), lr); err != nil {
		t.Fatal(err)
	}
}

// TestLivePrune runs the one-shot prune through the command line against one real API server
// and registry: the keep and drop rules, a real --confirm, a registry that goes down, and a
// stream updated concurrently.
func TestLivePrune(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver, etcd and a registry")
	}
	env := testenv.StartT(t, testenv.Options{Registry: true})
	for i, tc := range ruleCases() {
		t.Run("rule/"+tc.name, func(t *testing.T) {
			ns := fmt.Sprintf("rule-%d", i)
			createNamespace(t, env, ns)
			defer cleanup(t, env, ns)
			items, images, kept := tc.setup(t, env, ns)
			checkRule(t, env, ns, tc.flags, items, images, kept)
		})
	}
	t.Run("confirm/the registry no longer serves pruned manifests, kept images pull, a pruned layer pushes again", func(t *testing.T) {
		testConfirmRegistryState(t, env)
	})
	t.Run("failure/a registry that is unreachable before the first delete changes nothing", func(t *testing.T) {
		testRegistryUnreachable(t, env)
	})
	t.Run("failure/a registry that goes down mid-way leaves the API consistent and fails per object", func(t *testing.T) {
		testRegistryDownMidway(t, env)
	})
	t.Run("conflict/a stream updated concurrently is retried without losing the new item", func(t *testing.T) {
		testConcurrentStreamUpdate(t, env)
	})
}

// checkRule compares the dry run's plan with the case's, runs it with --confirm, and checks
// the API objects and the registry afterwards.
func checkRule(t *testing.T, env *testenv.Env, ns string, flags, items []string, images, kept []*testenv.Pushed) {
	t.Helper()
	report := planLive(t, env, flags...)
	if got, want := reportItems(report), setOf(items...); !equalSets(got, want) {
		t.Errorf("planned stream items = %v, want %v", got, want)
	}
	wantImages := setOf()
	for _, p := range images {
		wantImages[p.Digest] = true
	}
	if got := setOf(report.Images...); !equalSets(got, wantImages) {
		t.Errorf("planned images = %v, want %v", got, wantImages)
	}
	before := streamItems(t, env, ns, "app")
	code, stdout, stderr := runLive(t, env, append(flags, "--confirm")...)
	if code != 0 {
		t.Fatalf("--confirm exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	after := streamItems(t, env, ns, "app")
	for k := range before {
		if after[k] == setOf(items...)[k] {
			t.Errorf("item %s: present after the prune = %v, want %v", k, after[k], !setOf(items...)[k])
		}
	}
	for _, p := range images {
		if imageExists(t, env, p.Digest) {
			t.Errorf("Image %s still exists after the prune", p.Digest)
		}
		if manifestServed(t, env, ns+"/app", p.Digest) {
			t.Errorf("the registry still serves pruned manifest %s", p.Digest)
		}
	}
	for _, p := range kept {
		if !imageExists(t, env, p.Digest) {
			t.Errorf("kept Image %s was deleted", p.Digest)
		}
		if !holds(after, p.Digest) {
			continue // an Image kept while its item goes (--all=false) loses its link, as in oc
		}
		if !manifestServed(t, env, ns+"/app", p.Digest) {
			t.Errorf("the registry no longer serves kept manifest %s", p.Digest)
		}
	}
	if !strings.Contains(stdout, "Summary: ") {
		t.Errorf("no summary line:\n%s", stdout)
	}
}

// holds reports whether some item in items names digest.
func holds(items map[string]bool, digest string) bool {
	for k := range items {
		if strings.HasSuffix(k, "@"+digest) {
			return true
		}
	}
	return false
}
