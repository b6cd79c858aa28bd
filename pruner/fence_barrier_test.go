package pruner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// hiding is an index that does not (yet) have some objects, as one whose tracker lags.
type hiding struct {
	model.Reader
	hidden map[model.ObjectKey]bool
}

func (h hiding) Object(ctx context.Context, key model.ObjectKey) (model.Object, bool, error) {
	if h.hidden[key] {
		return model.Object{}, false, nil
	}
	return h.Reader.Object(ctx, key)
}

// The barrier passes once the index holds every object the API server had at the version,
// and fails (so nothing is deleted) while one is missing, both when it first lists a kind
// and when it follows later changes (RelistBelow -1: always follow).
func TestBarrierWaitsForEveryObjectUpToTheVersion(t *testing.T) {
	r := startRig(t, rigOptions{})
	ctx := context.Background()
	ns := fenceNamespace(t, r, "barrier")
	newPod := func(name string) (*corev1.Pod, model.ObjectKey) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
		if err := r.env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p, model.ObjectKey{Kind: model.KindPod, Namespace: ns, Name: name}
	}
	first, firstKey := newPod("first")
	proto := r.opts.Barrier.(*pruner.WatchBarrier)
	newBarrier := func(ix model.Reader) *pruner.WatchBarrier {
		return &pruner.WatchBarrier{Metadata: proto.Metadata, Mapper: proto.Mapper, Kinds: proto.Kinds, Index: ix, Timeout: 4 * time.Second, RelistBelow: -1}
	}
	lagging := newBarrier(hiding{Reader: r.srv.Index(), hidden: map[model.ObjectKey]bool{firstKey: true}})
	if err := lagging.Wait(ctx, first.ResourceVersion); !errors.Is(err, pruner.ErrNotFresh) {
		t.Fatalf("first list: Wait with the pod missing from the index returned %v, want ErrNotFresh", err)
	}

	b := newBarrier(r.srv.Index())
	start := time.Now()
	if err := b.Wait(ctx, first.ResourceVersion); err != nil {
		t.Fatalf("first list: %v", err)
	}
	t.Logf("first list of every kind: %s", time.Since(start))

	second, secondKey := newPod("second")
	b.Index = hiding{Reader: r.srv.Index(), hidden: map[model.ObjectKey]bool{secondKey: true}}
	if err := b.Wait(ctx, second.ResourceVersion); !errors.Is(err, pruner.ErrNotFresh) {
		t.Fatalf("follow: Wait with the new pod missing from the index returned %v, want ErrNotFresh", err)
	}
	b.Index = r.srv.Index()
	start = time.Now()
	if err := b.Wait(ctx, second.ResourceVersion); err != nil {
		t.Fatalf("follow: %v", err)
	}
	t.Logf("follow every kind: %s", time.Since(start))
}
