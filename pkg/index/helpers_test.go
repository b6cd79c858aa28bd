package index

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// fakeClock is the injected clock of the tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openTest opens an index in a fresh temporary directory.
func openTest(t testing.TB, opts ...func(*Options)) (*Index, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: t0}
	o := Options{Dir: filepath.Join(t.TempDir(), "index"), Now: clock.Now}
	for _, f := range opts {
		f(&o)
	}
	ix, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix, clock
}

func mustApply(t testing.TB, ix *Index, ops ...Op) {
	t.Helper()
	if err := ix.Apply(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
}

// mustCheck fails the test when the index's derived keys disagree with its records.
func mustCheck(t testing.TB, ix *Index) {
	t.Helper()
	lines, err := ix.Check(context.Background(), filepath.Join(t.TempDir(), "check"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) > 0 {
		t.Fatalf("index is inconsistent:\n%s", joinLines(lines))
	}
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}

func digestRef(field, repo, digest string) model.Ref {
	return model.Ref{FieldPath: field, Kind: model.RefDockerImage, Raw: "reg/" + repo + "@" + digest, Repo: repo, Digest: digest}
}

func tagRef(field, repo, tag string) model.Ref {
	return model.Ref{FieldPath: field, Kind: model.RefDockerImage, Raw: "reg/" + repo + ":" + tag, Repo: repo, Tag: tag}
}

func podObject(name, phase string, refs ...model.Ref) model.Object {
	return model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: name},
		Created: t0, Phase: phase, Refs: refs}
}

// referrerSet renders referrers as sorted "KEY FIELD[ pending]" strings, to compare as sets.
func referrerSet(rs []model.Referrer) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		s := r.Object.String() + " " + r.Ref.FieldPath
		if r.Pending {
			s += " pending"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func referrersOfDigest(t testing.TB, ix *Index, repo, digest string) []string {
	t.Helper()
	rs, err := ix.ReferrersOfDigest(context.Background(), repo, digest)
	if err != nil {
		t.Fatal(err)
	}
	return referrerSet(rs)
}

func referrersOfTag(t testing.TB, ix *Index, repo, tag string) []string {
	t.Helper()
	rs, err := ix.ReferrersOfTag(context.Background(), repo, tag)
	if err != nil {
		t.Fatal(err)
	}
	return referrerSet(rs)
}

func blobCount(t testing.TB, ix *Index, repo, blob string) int {
	t.Helper()
	n, err := ix.BlobCount(context.Background(), repo, blob)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func image(name string, layers ...string) model.Image {
	img := model.Image{Digest: digestOf(name), Created: t0, Managed: true, Config: digestOf("config-" + name)}
	for _, l := range layers {
		img.Layers = append(img.Layers, model.Blob{Digest: digestOf(l), Size: int64(len(l))})
	}
	return img
}

// stream builds a stream whose tags are given as "tag=img1,img2" histories of image names.
func stream(ns, name string, tags map[string][]string) model.Stream {
	s := model.Stream{Namespace: ns, Name: name, Created: t0}
	names := make([]string, 0, len(tags))
	for tag := range tags {
		names = append(names, tag)
	}
	sort.Strings(names)
	for _, tag := range names {
		t := model.Tag{Name: tag}
		for i, img := range tags[tag] {
			t.Items = append(t.Items, model.TagItem{Image: digestOf(img), Created: t0.Add(-time.Duration(i) * time.Hour)})
		}
		s.Tags = append(s.Tags, t)
	}
	return s
}

func equalStrings(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}
