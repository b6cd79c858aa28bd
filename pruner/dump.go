package pruner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"

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
	ix, err := index.Open(index.Options{Dir: dir, Temporary: true})
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

// loadDump rebuilds ix from the objects of the dump, one object at a time (see readDump), so
// that memory stays bounded by the index's write path. Two goroutines share the work, as the
// machine's two cores allow: one reads, decodes and extracts the objects, the other puts them
// into the rebuild in the dump's order (Badger writes from a third).
func loadDump(ctx context.Context, ix *index.Index, in io.Reader, progress io.Writer) error {
	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		return fmt.Errorf("failed to start loading the index: %w", err)
	}
	l := &dumpLoader{rb: rb, seen: make(map[string]struct{}), progress: progress}
	g, gctx := errgroup.WithContext(ctx)
	objects := make(chan dumpObject, dumpQueue)
	g.Go(func() error {
		defer close(objects)
		types := dumpTypes{scheme: extract.NewScheme()}
		return readDump(in, func(raw []byte) error {
			o, err := types.object(raw)
			if err != nil || o.id == "" {
				return err
			}
			select {
			case objects <- o:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	g.Go(func() error {
		for o := range objects {
			if err := l.object(o); err != nil {
				return err
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		rb.Abort()
		return err
	}
	if err := rb.Finish(ctx); err != nil {
		return fmt.Errorf("failed to finish loading the index: %w", err)
	}
	return nil
}

// dumpQueue is how many extracted objects wait between the two goroutines of loadDump: enough
// to smooth the pauses of each, a few hundred kilobytes.
const dumpQueue = 256

// dumpObject is one object of a dump, extracted.
type dumpObject struct {
	// id is GROUPKIND/NAMESPACE/NAME, "" for an object the pruner does not read.
	id, kind, namespace, name string
	res                       extract.Result
	// err is the extraction's error, reported only if the object is not a duplicate.
	err error
}

// object decodes one object of the dump into its typed form and extracts it. Objects without
// a kind, or of a kind the scheme does not know, have no id: the pruner reads none of them.
func (d dumpTypes) object(data []byte) (dumpObject, error) {
	obj, err := d.decode(data)
	if err != nil || obj == nil {
		return dumpObject{}, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return dumpObject{}, nil // not an object with metadata, e.g. a Status
	}
	gk := obj.GetObjectKind().GroupVersionKind().GroupKind()
	o := dumpObject{kind: gk.Kind, namespace: m.GetNamespace(), name: m.GetName()}
	o.id = gk.String() + "/" + o.namespace + "/" + o.name
	o.res, o.err = extract.Object(obj)
	return o, nil
}

// dumpLoader puts the objects of one dump into a rebuild.
type dumpLoader struct {
	rb *index.Rebuild
	// seen holds the id of every object loaded, to load the first of two.
	seen     map[string]struct{}
	n        int
	progress io.Writer
}

// object puts what o contributes, unless an object of the same id was loaded before.
func (l *dumpLoader) object(o dumpObject) error {
	if _, dup := l.seen[o.id]; dup {
		return nil
	}
	l.seen[o.id] = struct{}{}
	if o.err != nil {
		return o.err
	}
	if err := l.put(o.res); err != nil {
		return fmt.Errorf("failed to load %s %s/%s: %w", o.kind, o.namespace, o.name, err)
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
