package pruner_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

func invalidRef(raw string) model.Ref {
	return model.Ref{Kind: model.RefDockerImage, Raw: raw, Invalid: "repository name must be lowercase"}
}

func TestInvalidReferences(t *testing.T) {
	base := func() *world {
		return newWorld().keep(0).images(img("a", ago(old))).streams(stream("ns", "is", ago(old), tag("t", items("a"))))
	}
	t.Run("invalid references abort the plan, listing every offending object in oc's words", func(t *testing.T) {
		init := model.Object{Key: model.ObjectKey{Kind: model.KindReplicaSet, Namespace: "ns", Name: "rs"}, Created: ago(old),
			Refs: []model.Ref{{Kind: model.RefDockerImage, Raw: "A/B", Invalid: "repository name must be lowercase", Container: "setup", FieldPath: "spec.template.spec.initContainers[setup].image"}}}
		w := base().objects(pod("ns", "p", "Running", ago(old), invalidRef("R.example.com/NS/App:Tag")), init)
		_, err := pruner.NewPlanner(w.r, w.opts.Policy(now)).Plan(context.Background())
		if !errors.Is(err, pruner.ErrInvalidReferences) {
			t.Fatalf("Plan error = %v, want ErrInvalidReferences", err)
		}
		for _, want := range []string{
			`pod/p namespace=ns: container app: invalid image reference "R.example.com/NS/App:Tag": repository name must be lowercase`,
			`replicaset/rs namespace=ns: init container setup: invalid image reference "A/B": repository name must be lowercase`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if strings.Index(err.Error(), "pod/p") > strings.Index(err.Error(), "replicaset/rs") {
			t.Errorf("error lists replica sets before pods, oc lists pods first: %q", err)
		}
	})
	t.Run("with --ignore-invalid-refs an invalid reference protects nothing", func(t *testing.T) {
		w := base().objects(pod("ns", "p", "Running", ago(old), invalidRef("X/Y")))
		w.opts.IgnoreInvalidRefs = true
		if got := deletedItems(w.plan(t)); len(got) != 1 {
			t.Errorf("deleted items = %v, want the one item", got)
		}
	})
	t.Run("an invalid reference in a pod that does not count does not abort", func(t *testing.T) {
		w := base().objects(pod("ns", "p", "Succeeded", ago(old), invalidRef("X/Y")))
		if got := deletedItems(w.plan(t)); len(got) != 1 {
			t.Errorf("deleted items = %v, want the one item", got)
		}
	})
	t.Run("an invalid extra reference (pruneguard only) does not abort, as oc never reads it", func(t *testing.T) {
		r := invalidRef("X/Y")
		r.Extra = true
		w := base().objects(deployment("ns", "d", r))
		if got := deletedItems(w.plan(t)); len(got) != 1 {
			t.Errorf("deleted items = %v, want the one item", got)
		}
	})
}
