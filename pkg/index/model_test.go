package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// refModel is a naive in-memory statement of what the index must answer.
type refModel struct {
	objects map[model.ObjectKey]model.Object
	pending map[model.ObjectKey]PendingObject
	images  map[string]model.Image
	streams map[string]model.Stream
}

func newRefModel() *refModel {
	return &refModel{objects: map[model.ObjectKey]model.Object{}, pending: map[model.ObjectKey]PendingObject{},
		images: map[string]model.Image{}, streams: map[string]model.Stream{}}
}

var (
	modelRepos  = []string{"ns/a", "ns/b", ""}
	modelTags   = []string{"latest", "v1"}
	modelImages = []string{"i0", "i1", "i2", "i3", "i4", "i5"}
	modelBlobs  = []string{"b0", "b1", "b2", "b3", "b4"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func randomObject(r *rand.Rand) model.Object {
	o := podObject("p"+itoa(r.IntN(10)), pick(r, []string{"Running", "Pending", "Succeeded"}))
	o.Created = t0.Add(time.Duration(r.IntN(100)) * time.Minute)
	for i := range r.IntN(4) {
		field := fmt.Sprintf("spec.containers[%d].image", i)
		switch r.IntN(4) {
		case 0:
			o.Refs = append(o.Refs, tagRef(field, pick(r, modelRepos[:2]), pick(r, modelTags)))
		case 1:
			o.Refs = append(o.Refs, model.Ref{FieldPath: field, Raw: "?", Invalid: "bad"})
		default:
			o.Refs = append(o.Refs, digestRef(field, pick(r, modelRepos), digestOf(pick(r, modelImages))))
		}
	}
	return o
}

func randomImage(r *rand.Rand) model.Image {
	var layers []string
	for range r.IntN(4) {
		layers = append(layers, pick(r, modelBlobs))
	}
	img := image(pick(r, modelImages), layers...)
	img.Config = ""
	if r.IntN(2) == 0 {
		img.Config = digestOf(pick(r, modelBlobs))
	}
	return img
}

func randomStream(r *rand.Rand) model.Stream {
	tags := map[string][]string{}
	for _, tag := range modelTags {
		for range r.IntN(4) {
			tags[tag] = append(tags[tag], pick(r, modelImages))
		}
	}
	repo := pick(r, modelRepos[:2])
	return stream("ns", repo[len("ns/"):], tags)
}

// step picks a random op, applies it to the model, and returns it for the index.
func (m *refModel) step(r *rand.Rand, now time.Time) Op {
	switch r.IntN(11) {
	case 0, 1:
		o := randomObject(r)
		m.objects[o.Key] = o
		if p, ok := m.pending[o.Key]; ok && coversRefs(o.Refs, p.Object.Refs) {
			delete(m.pending, o.Key)
		}
		return PutObject(o)
	case 2:
		o := randomObject(r)
		delete(m.objects, o.Key)
		return DeleteObject(o.Key)
	case 3:
		o := randomObject(r)
		m.pending[o.Key] = PendingObject{Object: o, Expires: now.Add(time.Duration(r.IntN(10)) * time.Minute)}
		return PutPending(o, m.pending[o.Key].Expires)
	case 4:
		o := randomObject(r)
		m.objects[o.Key] = o
		delete(m.pending, o.Key)
		return Confirm(o)
	case 5, 6:
		img := randomImage(r)
		m.images[img.Digest] = img
		return PutImage(img)
	case 7:
		d := digestOf(pick(r, modelImages))
		delete(m.images, d)
		return DeleteImage(d)
	case 8, 9:
		s := randomStream(r)
		m.streams[s.Repo()] = s
		return PutStream(s)
	default:
		s := randomStream(r)
		delete(m.streams, s.Repo())
		return DeleteStream(s.Namespace, s.Name)
	}
}

func (m *refModel) expire(now time.Time) {
	for k, p := range m.pending {
		if !p.Expires.After(now) {
			delete(m.pending, k)
		}
	}
}

func modelReferrer(o model.Object, ref model.Ref, pending bool) string {
	s := fmt.Sprintf("%s %s %s %s", o.Key, ref.FieldPath, o.Phase, o.Created.UTC().Format(time.RFC3339))
	if pending {
		s += " pending"
	}
	return s
}

func (m *refModel) referrers(match func(model.Ref) bool) []string {
	out := []string{}
	add := func(o model.Object, pending bool) {
		for _, ref := range o.Refs {
			if ref.Invalid == "" && match(ref) {
				out = append(out, modelReferrer(o, ref, pending))
			}
		}
	}
	for _, o := range m.objects {
		add(o, false)
	}
	for _, p := range m.pending {
		add(p.Object, true)
	}
	sort.Strings(out)
	return out
}

func (m *refModel) blobCount(repo, blob string) int {
	uses := func(img model.Image) bool {
		for _, b := range imageBlobs(img) {
			if b == blob {
				return true
			}
		}
		return false
	}
	n := 0
	if repo == "" {
		for _, img := range m.images {
			if uses(img) {
				n++
			}
		}
		return n
	}
	for _, d := range streamImages(m.streams[repo]) {
		if img, ok := m.images[d]; ok && uses(img) {
			n++
		}
	}
	return n
}

func indexReferrers(rs []model.Referrer, err error) func(*testing.T) []string {
	return func(t *testing.T) []string { return referrerStrings(t, rs, err) }
}

func referrerStrings(t *testing.T, rs []model.Referrer, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range rs {
		out = append(out, modelReferrer(model.Object{Key: r.Object, Phase: r.Phase, Created: r.Created}, r.Ref, r.Pending))
	}
	sort.Strings(out)
	return out
}

func (m *refModel) verify(t *testing.T, ix *Index) {
	t.Helper()
	ctx := context.Background()
	for _, name := range modelImages {
		d := digestOf(name)
		for _, repo := range modelRepos {
			want := m.referrers(func(r model.Ref) bool { return r.Digest == d && (repo == "" || r.Repo == repo) })
			got := indexReferrers(ix.ReferrersOfDigest(ctx, repo, d))(t)
			if !equalStrings(got, want) {
				t.Fatalf("referrers of %s in %q:\n got %v\nwant %v", name, repo, got, want)
			}
		}
	}
	for _, repo := range modelRepos[:2] {
		for _, tag := range modelTags {
			want := m.referrers(func(r model.Ref) bool { return r.Digest == "" && r.Repo == repo && r.Tag == tag })
			if got := indexReferrers(ix.ReferrersOfTag(ctx, repo, tag))(t); !equalStrings(got, want) {
				t.Fatalf("referrers of %s:%s:\n got %v\nwant %v", repo, tag, got, want)
			}
		}
	}
	for _, blob := range modelBlobs {
		for _, repo := range []string{"", "ns/a", "ns/b"} {
			if got, want := blobCount(t, ix, repo, digestOf(blob)), m.blobCount(repo, digestOf(blob)); got != want {
				t.Fatalf("count of %s in %q = %d, want %d", blob, repo, got, want)
			}
		}
	}
}

func TestRandomOpsAgreeWithAModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 42))
			ix, clock := openTest(t)
			m := newRefModel()
			for batch := range 150 {
				ops := make([]Op, 1+r.IntN(8))
				for i := range ops {
					ops[i] = m.step(r, clock.Now())
				}
				mustApply(t, ix, ops...)
				if batch%10 == 9 {
					clock.Advance(3 * time.Minute)
					m.expire(clock.Now())
					if _, err := ix.ExpirePending(context.Background(), clock.Now()); err != nil {
						t.Fatal(err)
					}
					m.verify(t, ix)
				}
			}
			m.verify(t, ix)
			mustCheck(t, ix)
		})
	}
}

// Large calls are prepared in several batches and rounds (pipeline), each batch read through
// the earlier batches of its round, committed or not: ops that depend on ops of earlier
// batches must see them.
func TestLargeCallsAgreeWithAModel(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			ix, clock := openTest(t)
			rec := subscribe(t, ix)
			m := newRefModel()
			for range 6 {
				ops := make([]Op, 2*applyBatch+r.IntN(2*applyRound*applyBatch))
				for i := range ops {
					ops[i] = m.step(r, clock.Now())
				}
				before := ix.commits.Load()
				mustApply(t, ix, ops...)
				if commits := ix.commits.Load() - before; commits < 3 || int(commits) > len(ops)/applyBatch+1 {
					t.Fatalf("%d ops were committed in %d transactions", len(ops), commits)
				}
				m.verify(t, ix)
			}
			mustCheck(t, ix)
			if len(rec.got) != int(ix.commits.Load()) {
				t.Fatalf("%d commits reported %d Changes", ix.commits.Load(), len(rec.got))
			}
		})
	}
}
