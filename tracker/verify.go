package tracker

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/index"
)

// VerifyOptions configure Verify. Client (uncached), Discovery and Index are required.
type VerifyOptions struct {
	Client    client.Reader
	Discovery discovery.DiscoveryInterface
	Index     *index.Index
	// ScratchDir is where the fresh index is built; it must be empty or absent, and is removed
	// afterwards.
	ScratchDir string
	// Kinds defaults to Kinds().
	Kinds []Kind
	// MaxLines caps the differences returned (0: all).
	MaxLines int
	Logger   logr.Logger
}

// Verify lists every served kind from the API server, page by page, into a fresh index built
// exactly as a start-up rebuild builds one, and returns the differences between opts.Index and
// it ("... only in index", "... only in cluster", or a field that differs). Pending records are
// not compared: a full list has no admissions in flight. An empty result means the index equals
// the cluster as of the list.
func Verify(ctx context.Context, opts VerifyOptions) ([]string, error) {
	if opts.Kinds == nil {
		opts.Kinds = Kinds()
	}
	if err := os.MkdirAll(opts.ScratchDir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create the scratch directory %s: %w", opts.ScratchDir, err)
	}
	defer func() { _ = os.RemoveAll(opts.ScratchDir) }()
	fresh, err := index.Open(index.Options{Dir: opts.ScratchDir, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	defer func() { _ = fresh.Close() }()
	rb, err := fresh.BeginRebuild(ctx)
	if err != nil {
		return nil, err
	}
	served, _ := splitServed(ctx, opts.Discovery, opts.Kinds, func(_ schema.GroupVersion, err error) {
		opts.Logger.Error(err, "discovery failed; kinds of this group version are not verified")
	}, nil)
	for _, k := range served {
		if err := listInto(ctx, opts.Client, k, rb, opts.Logger); err != nil {
			rb.Abort()
			return nil, err
		}
	}
	if err := rb.Finish(ctx); err != nil {
		return nil, err
	}
	if err := copyWatermarks(ctx, opts.Index, fresh, opts.Kinds); err != nil {
		return nil, err
	}
	return opts.Index.Diff(ctx, fresh, index.DiffOptions{Name: "index", OtherName: "cluster", MaxLines: opts.MaxLines})
}

// copyWatermarks gives the fresh index the watermarks of the live one: they say where the
// live index's watches stopped, which a list cannot know, so they are not compared.
func copyWatermarks(ctx context.Context, from, to *index.Index, kinds []Kind) error {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, k.Name)
	}
	marks, err := from.Watermarks(ctx, names...)
	if err != nil {
		return err
	}
	var ops []index.Op
	for kind, rv := range marks {
		ops = append(ops, index.SetWatermark(kind, rv))
	}
	return to.Apply(ctx, ops...)
}

// listInto lists kind page by page and puts every object into s. An object that does not
// extract is logged and left out, as the tracker leaves it out.
func listInto(ctx context.Context, c client.Reader, k Kind, s Sink, log logr.Logger) error {
	cont := ""
	for {
		list := k.NewList()
		if err := c.List(ctx, list, client.Limit(listPageSize), client.Continue(cont)); err != nil {
			return fmt.Errorf("failed to list %s: %w", k.GVK, err)
		}
		objs, err := listObjects(list)
		if err != nil {
			return err
		}
		for _, o := range objs {
			res, err := extractObject(k.Name, o)
			if err != nil {
				log.Error(err, "object not indexed")
				continue
			}
			if err := put(res, s); err != nil {
				return fmt.Errorf("failed to index %s %s/%s: %w", k.Name, o.GetNamespace(), o.GetName(), err)
			}
		}
		if cont = list.GetContinue(); cont == "" {
			return nil
		}
	}
}

// ErrDifferences is returned by callers of Verify that treat differences as failure.
var ErrDifferences = errors.New("the index differs from the cluster")
