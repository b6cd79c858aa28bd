package pruner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
	"github.com/pruneguard/pruneguard/pruner/internal/memreader"
)

// now is the time every fixture is evaluated at; ago builds times relative to it.
var now = time.Date(2026, 11, 27, 23, 5, 18, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

const (
	old   = 48 * time.Hour
	fresh = 10 * time.Minute
)

// dg makes a readable fake digest: dg("a") = "sha256:a".
func dg(s string) string { return "sha256:" + s }

// img builds a managed schema 2 image with layers and a config blob named after it.
func img(name string, created time.Time, layers ...string) model.Image {
	i := model.Image{
		Digest: dg(name), Created: created, Managed: true, Size: 100,
		ManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		Config:            dg(name + "-config"),
	}
	for _, l := range layers {
		i.Layers = append(i.Layers, model.Blob{Digest: dg(l), Size: 10})
	}
	return i
}

// items builds a tag history, newest first, from image names; all items are old.
func items(names ...string) []model.TagItem {
	out := make([]model.TagItem, 0, len(names))
	for i, n := range names {
		out = append(out, model.TagItem{Image: dg(n), Created: ago(old + time.Duration(i)*time.Minute)})
	}
	return out
}

func stream(ns, name string, created time.Time, tags ...model.Tag) model.Stream {
	return model.Stream{Namespace: ns, Name: name, Created: created, Tags: tags}
}

func tag(name string, its []model.TagItem) model.Tag { return model.Tag{Name: name, Items: its} }

// pod builds a pod referencing refs from its container "app".
func pod(ns, name, phase string, created time.Time, refs ...model.Ref) model.Object {
	for i := range refs {
		refs[i].Container = "app"
		refs[i].FieldPath = "spec.containers[app].image"
	}
	return model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: ns, Name: name}, Phase: phase, Created: created, Refs: refs}
}

func deployment(ns, name string, refs ...model.Ref) model.Object {
	for i := range refs {
		refs[i].Container = "app"
		refs[i].FieldPath = "spec.template.spec.containers[app].image"
	}
	return model.Object{Key: model.ObjectKey{Kind: model.KindDeployment, Namespace: ns, Name: name}, Created: ago(old), Refs: refs}
}

func tagRef(repo, t string) model.Ref {
	return model.Ref{Kind: model.RefDockerImage, Raw: "registry.example.com/" + repo + ":" + t, Repo: repo, Tag: t}
}

func digestRef(repo, name string) model.Ref {
	return model.Ref{Kind: model.RefDockerImage, Raw: "registry.example.com/" + repo + "@" + dg(name), Repo: repo, Digest: dg(name)}
}

// world is a fixture: a reader filled by the test and the options it plans with.
type world struct {
	r    *memreader.Reader
	opts pruner.Options
}

func newWorld() *world { return &world{r: memreader.New(), opts: pruner.NewOptions()} }

func (w *world) keep(n int) *world { w.opts.KeepTagRevisions = &n; return w }

func (w *world) images(imgs ...model.Image) *world {
	for _, i := range imgs {
		w.r.AddImage(i)
	}
	return w
}

func (w *world) streams(ss ...model.Stream) *world {
	for _, s := range ss {
		w.r.AddStream(s)
	}
	return w
}

func (w *world) objects(os ...model.Object) *world {
	for _, o := range os {
		w.r.AddObject(o)
	}
	return w
}

func (w *world) plan(t *testing.T) *pruner.Plan {
	t.Helper()
	if err := w.opts.Validate(); err != nil {
		t.Fatalf("invalid fixture options: %v", err)
	}
	p, err := pruner.NewPlanner(w.r, w.opts.Policy(now)).Plan(context.Background())
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return p
}

// deletedItems lists the deleted items as "ns/is:tag@image-name" with the rule that dropped it.
func deletedItems(p *pruner.Plan) map[string]pruner.Rule {
	out := map[string]pruner.Rule{}
	for _, sp := range p.Streams {
		for _, d := range sp.Deleted {
			out[fmt.Sprintf("%s/%s:%s@%s", d.Namespace, d.Stream, d.Tag, d.Image[len("sha256:"):])] = d.Reason.Rule
		}
	}
	return out
}

func deletedImages(p *pruner.Plan) map[string]bool {
	out := map[string]bool{}
	for _, ip := range p.Images {
		out[ip.Digest[len("sha256:"):]] = true
	}
	return out
}

// decisions plans with a trace and returns every decision about image name.
func (w *world) decisions(t *testing.T, name string) []pruner.Reason {
	t.Helper()
	var out []pruner.Reason
	pl := pruner.NewPlanner(w.r, w.opts.Policy(now))
	pl.SetTrace(func(r pruner.Reason) {
		if r.Image == dg(name) {
			out = append(out, r)
		}
	})
	if _, err := pl.Plan(context.Background()); err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return out
}
