package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

var t0 = time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

const registry = "image-registry.openshift-image-registry.svc:5000/"

// openIndex opens a fresh index in a temporary directory with a fixed clock.
func openIndex(t testing.TB) *index.Index {
	t.Helper()
	ix, err := index.Open(index.Options{Dir: t.TempDir(), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix
}

func apply(t testing.TB, ix *index.Index, ops ...index.Op) {
	t.Helper()
	if err := ix.Apply(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
}

// digestRef is a container reference by digest to the image in repo.
func digestRef(container, repo, digest string) model.Ref {
	return model.Ref{FieldPath: "spec.containers[" + container + "].image", Container: container,
		Kind: model.RefDockerImage, Raw: registry + repo + "@" + digest, Repo: repo, Digest: digest}
}

// tagRef is a container reference by tag.
func tagRef(container, repo, tag string) model.Ref {
	return model.Ref{FieldPath: "spec.containers[" + container + "].image", Container: container,
		Kind: model.RefDockerImage, Raw: registry + repo + ":" + tag, Repo: repo, Tag: tag}
}

func pod(ns, name string, refs ...model.Ref) model.Object {
	return model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: ns, Name: name},
		Created: t0, Phase: "Running", Refs: refs}
}

func img(d string) model.Image {
	return model.Image{Digest: d, Name: d, Created: t0, Managed: true, Size: 1000}
}

// stream builds a stream with one tag per entry, items newest first.
func stream(ns, name string, tags map[string][]string) model.Stream {
	s := model.Stream{Namespace: ns, Name: name, Created: t0}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, tag := range keys {
		tg := model.Tag{Name: tag}
		for _, d := range tags[tag] {
			tg.Items = append(tg.Items, model.TagItem{Image: d, Created: t0})
		}
		s.Tags = append(s.Tags, tg)
	}
	return s
}

// referrerNames lists "Kind/ns/name container state via" of each referrer, in order.
func referrerNames(rs []Referrer) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Object.String()+" "+r.Container+" "+r.State+" "+r.Via)
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// Fixture images and the index of every test below:
//
//	shop/web   tag v1: [imgA, imgB]   tag v2: [imgC]
//	team/tools tag latest: [imgB]
//	imgD: an Image no stream holds and nothing references
//	pods: shop/web-1 uses web@imgA (digest) and web:v1 (tag, current imgA)
//	      shop/web-2 uses web:v2 (tag, current imgC)
//	      team/job-1 uses shop/web@imgB (digest, held at position 1 of v1)
//	      team/pending-1 is pending and uses team/tools:latest (current imgB)
//	      shop/ghost uses shop/web:v9 (a tag that holds no image)
var imgA, imgB, imgC, imgD = digestOf("a"), digestOf("b"), digestOf("c"), digestOf("d")

func fixture(t testing.TB) *index.Index {
	t.Helper()
	ix := openIndex(t)
	apply(t, ix,
		index.PutImage(img(imgA)), index.PutImage(img(imgB)), index.PutImage(img(imgC)), index.PutImage(img(imgD)),
		index.PutStream(stream("shop", "web", map[string][]string{"v1": {imgA, imgB}, "v2": {imgC}})),
		index.PutStream(stream("team", "tools", map[string][]string{"latest": {imgB}})),
		index.PutObject(pod("shop", "web-1", digestRef("app", "shop/web", imgA), tagRef("sidecar", "shop/web", "v1"))),
		index.PutObject(pod("shop", "web-2", tagRef("app", "shop/web", "v2"))),
		index.PutObject(pod("team", "job-1", digestRef("run", "shop/web", imgB))),
		index.PutPending(pod("team", "pending-1", tagRef("tool", "team/tools", "latest")), t0.Add(time.Hour)),
		index.PutObject(pod("shop", "ghost", tagRef("app", "shop/web", "v9"))),
	)
	return ix
}
