package pruner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// DumpOptions configure OpenDump.
type DumpOptions struct {
	// TempDir is where the temporary index is created; "" means the system's temp directory.
	TempDir string
	// Progress, when set, receives a line every progressEvery objects loaded.
	Progress io.Writer
}

// progressEvery is how many objects pass between two progress lines: a dump of a large
// cluster (hundreds of thousands of objects) prints a few dozen lines, a small one none.
const progressEvery = 20000

// OpenDump loads a dump of cluster objects into a temporary index and returns it with the
// function that closes and removes it. The dump is what `oc get ... -A -o yaml|json` prints:
// a List, several documents separated by "---", or JSON objects one after another. Objects of
// kinds the pruner does not read are skipped; an object listed twice is loaded once (the
// first). The dump is planned exactly as the live index would be, through the same extraction
// and the same index.
func OpenDump(ctx context.Context, in io.Reader, o DumpOptions) (model.Reader, func() error, error) {
	dir, err := os.MkdirTemp(o.TempDir, "pruneguard-dump-")
	if err != nil {
		return nil, nil, fmt.Errorf("failed to create the temporary index directory: %w", err)
	}
	ix, err := index.Open(index.Options{Dir: dir})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("failed to open the temporary index in %s: %w", dir, err)
	}
	cleanup := func() error {
		return errors.Join(ix.Close(), os.RemoveAll(dir))
	}
	if err := loadDump(ctx, ix, in, o.Progress); err != nil {
		return nil, nil, errors.Join(err, cleanup())
	}
	return ix, cleanup, nil
}

// loadDump rebuilds ix from the objects of the dump.
func loadDump(ctx context.Context, ix *index.Index, in io.Reader, progress io.Writer) error {
	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		return fmt.Errorf("failed to start loading the index: %w", err)
	}
	l := &dumpLoader{rb: rb, seen: make(map[string]bool), progress: progress}
	dec := yaml.NewYAMLOrJSONDecoder(in, 64*1024)
	for doc := 1; ; doc++ {
		var raw map[string]any
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rb.Abort()
			return fmt.Errorf("failed to decode document %d of the dump: %w", doc, err)
		}
		if err := l.document(raw); err != nil {
			rb.Abort()
			return fmt.Errorf("document %d of the dump: %w", doc, err)
		}
	}
	if err := rb.Finish(ctx); err != nil {
		return fmt.Errorf("failed to finish loading the index: %w", err)
	}
	return nil
}

// dumpLoader puts the objects of one dump into a rebuild.
type dumpLoader struct {
	rb       *index.Rebuild
	seen     map[string]bool
	n        int
	progress io.Writer
}

// document loads one decoded document: a List's items, or a single object.
func (l *dumpLoader) document(raw map[string]any) error {
	if raw == nil {
		return nil // an empty document, e.g. after a trailing "---"
	}
	u := &unstructured.Unstructured{Object: raw}
	if !u.IsList() {
		return l.object(u)
	}
	return u.EachListItem(func(obj runtime.Object) error {
		item, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return fmt.Errorf("unexpected list item of type %T", obj)
		}
		return l.object(item)
	})
}

// object extracts one object and puts what it contributes.
func (l *dumpLoader) object(u *unstructured.Unstructured) error {
	id := u.GroupVersionKind().GroupKind().String() + "/" + u.GetNamespace() + "/" + u.GetName()
	if l.seen[id] {
		return nil
	}
	l.seen[id] = true
	res, err := extract.Object(u)
	if err != nil {
		return err
	}
	if err := l.put(res); err != nil {
		return fmt.Errorf("failed to load %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	l.n++
	if l.progress != nil && l.n%progressEvery == 0 {
		fmt.Fprintf(l.progress, "loaded %d objects from the dump\n", l.n)
	}
	return nil
}

func (l *dumpLoader) put(res extract.Result) error {
	if res.Image != nil {
		CanonicalImage(res.Image) // Images served from a CRD are not named by their digest
	}
	if res.Referrer != nil {
		if err := l.rb.PutObject(*res.Referrer); err != nil {
			return err
		}
	}
	if res.Image != nil {
		if err := l.rb.PutImage(*res.Image); err != nil {
			return err
		}
	}
	if res.Stream != nil {
		if err := l.rb.PutStream(*res.Stream); err != nil {
			return err
		}
	}
	if res.LimitRange != nil {
		return l.rb.PutLimitRange(*res.LimitRange)
	}
	return nil
}
