package pruner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// ErrInvalidReferences is matched (errors.Is) by the error of a plan that found invalid
// references and was not told to ignore them.
var ErrInvalidReferences = errors.New("invalid image references")

// InvalidReference is one reference that could not be parsed, in a referrer that counts.
type InvalidReference struct {
	Object model.ObjectKey
	Ref    model.Ref
}

// String prints the reference as oc does:
// `pod/web namespace=ns: container app: invalid image reference "X": reason`.
func (i InvalidReference) String() string {
	var b strings.Builder
	b.WriteString(strings.ToLower(i.Object.Kind) + "/" + i.Object.Name)
	if i.Object.Namespace != "" {
		b.WriteString(" namespace=" + i.Object.Namespace)
	}
	if i.Ref.Container != "" {
		b.WriteString(": ")
		if strings.Contains(i.Ref.FieldPath, "initContainers") {
			b.WriteString("init ")
		}
		b.WriteString("container " + i.Ref.Container)
	}
	target := "image"
	if i.Ref.Kind == model.RefImageStreamTag || i.Ref.Kind == model.RefImageStreamImage {
		target = string(i.Ref.Kind)
	}
	fmt.Fprintf(&b, ": invalid %s reference %q: %s", target, i.Ref.Raw, i.Ref.Invalid)
	return b.String()
}

// InvalidReferencesError lists every invalid reference that aborted a plan.
type InvalidReferencesError struct {
	Refs []InvalidReference
}

func (e *InvalidReferencesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no changes made: %d invalid image reference(s) in the following objects:\n", len(e.Refs))
	for _, r := range e.Refs {
		b.WriteString("  " + r.String() + "\n")
	}
	b.WriteString("Either fix the references or delete the objects to make the pruner proceed, or pass --ignore-invalid-refs to let them protect nothing.")
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidReferences) true.
func (e *InvalidReferencesError) Is(target error) bool { return target == ErrInvalidReferences }

// kindOrder is the order in which oc examines referrer kinds, so that the list reads as oc's.
var kindOrder = map[string]int{
	model.KindPod: 0, model.KindReplicationController: 1, model.KindDeploymentConfig: 2,
	model.KindReplicaSet: 3, model.KindDeployment: 4, model.KindDaemonSet: 5, model.KindBuild: 6,
	model.KindBuildConfig: 7, model.KindStatefulSet: 8, model.KindJob: 9, model.KindCronJob: 10,
}

// CheckReferences returns an *InvalidReferencesError listing every invalid reference held by a
// referrer that counts under p, or nil. References oc does not read (Ref.Extra) never abort:
// oc would not have seen them. It scans every object, so only the one-shot prune calls it.
func CheckReferences(ctx context.Context, r model.Reader, p Policy) error {
	var bad []InvalidReference
	err := r.Objects(ctx, func(o model.Object) error {
		if !p.countsObject(o) {
			return nil
		}
		for _, ref := range o.Refs {
			if ref.Invalid != "" && !ref.Extra {
				bad = append(bad, InvalidReference{Object: o.Key, Ref: ref})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to check the image references: %w", err)
	}
	if len(bad) == 0 {
		return nil
	}
	sort.SliceStable(bad, func(i, j int) bool {
		a, b := bad[i].Object, bad[j].Object
		if oa, ob := orderOfKind(a.Kind), orderOfKind(b.Kind); oa != ob {
			return oa < ob
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return &InvalidReferencesError{Refs: bad}
}

// orderOfKind places kinds oc does not examine after those it does.
func orderOfKind(kind string) int {
	if o, ok := kindOrder[kind]; ok {
		return o
	}
	return len(kindOrder)
}
