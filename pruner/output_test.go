package pruner_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pruneguard/pruneguard/pruner"
)

func TestWriteText(t *testing.T) {
	t.Run("oc's lines come in deletion order: layer links, stream update, manifest links, blobs, image, summary", func(t *testing.T) {
		p := newWorld().keep(0).images(img("a", ago(old), "L1")).
			streams(stream("ns", "is", ago(old), tag("t", items("a")))).plan(t)
		var b strings.Builder
		if err := pruner.WriteText(&b, p); err != nil {
			t.Fatal(err)
		}
		want := strings.Join([]string{
			"Deleting layer link sha256:L1 in repository ns/is",
			"Deleting layer link sha256:a-config in repository ns/is",
			"Deleting 1 items from image stream ns/is",
			"Deleting manifest link sha256:a in repository ns/is",
			"Deleting blob sha256:L1",
			"Deleting blob sha256:a-config",
			"Deleting blob sha256:a",
			"Deleting image sha256:a",
			"Summary: deleted 1 image object(s), deleted 1 image stream tag item(s), updated 1 image stream(s), deleted 2 layer link(s), deleted 1 manifest link(s), deleted 3 blob(s)",
			"",
		}, "\n")
		if b.String() != want {
			t.Errorf("text =\n%s\nwant\n%s", b.String(), want)
		}
	})
	t.Run("an empty plan prints oc's zero summary", func(t *testing.T) {
		var b strings.Builder
		if err := pruner.WriteText(&b, &pruner.Plan{}); err != nil {
			t.Fatal(err)
		}
		if b.String() != "Summary: deleted 0 objects\n" {
			t.Errorf("text = %q", b.String())
		}
	})
}

func TestExplain(t *testing.T) {
	w := newWorld().images(img("a", ago(old)), img("b", ago(old))).
		streams(stream("ns", "is", ago(old), tag("v2.1", items("a", "b")))).
		objects(pod("ns", "web-1", "Running", ago(old), digestRef("ns/is", "b")))
	w.keep(1)
	tests := []struct {
		name      string
		image     string
		kept      bool
		wantLines []string
	}{
		{
			name:  "an image within keep-tag-revisions is explained by its revision and held by the stream",
			image: "a", kept: true,
			wantLines: []string{
				"kept: revision 1 of ns/is:v2.1 is within --keep-tag-revisions=1",
				"kept: image sha256:a is held by revision 1 of ns/is:v2.1 after pruning the image streams",
			},
		},
		{
			name:  "an image used by a pod names the pod and its container",
			image: "b", kept: true,
			wantLines: []string{"kept: revision 2 of ns/is:v2.1: ns/is@sha256:b is used by Pod ns/web-1 container app"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := pruner.Explain(context.Background(), w.r, w.opts.Policy(now), dg(tt.image))
			if err != nil {
				t.Fatal(err)
			}
			if e.Kept() != tt.kept {
				t.Errorf("Kept() = %v, want %v", e.Kept(), tt.kept)
			}
			var b strings.Builder
			if err := e.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			for _, l := range tt.wantLines {
				if !strings.Contains(b.String(), l) {
					t.Errorf("explanation\n%s\ndoes not contain %q", b.String(), l)
				}
			}
		})
	}
	t.Run("ResolveImage turns a stream tag into the digest of its revision 1", func(t *testing.T) {
		for _, arg := range []string{"ns/is:v2.1", "registry.example.com/ns/is:v2.1", "registry.example.com/ns/is@sha256:" + strings.Repeat("0", 64)} {
			d, err := pruner.ResolveImage(context.Background(), w.r, arg)
			if err != nil {
				t.Fatalf("ResolveImage(%q): %v", arg, err)
			}
			if strings.Contains(arg, "@") {
				if d != "sha256:"+strings.Repeat("0", 64) {
					t.Errorf("ResolveImage(%q) = %s", arg, d)
				}
			} else if d != dg("a") {
				t.Errorf("ResolveImage(%q) = %s, want %s", arg, d, dg("a"))
			}
		}
		if _, err := pruner.ResolveImage(context.Background(), w.r, "ns/is:nope"); err == nil {
			t.Error("ResolveImage of an unknown tag succeeded")
		}
	})
}
