package server

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/tracker"
)

// ErrIndexNotUsable is returned by VerifyDataDir for an index that a start of serve would
// rebuild (new, of another schema, or an unfinished rebuild): there is nothing to verify.
var ErrIndexNotUsable = errors.New("the index is not usable")

// VerifyDataDir is `pruneguard index verify`: it opens the index in dir read-only (a running
// serve holds the directory, so it must be stopped, or dir be a copy) and compares it with a
// fresh list from the API server (tracker.Verify), returning at most maxLines differences.
func VerifyDataDir(ctx context.Context, cfg *rest.Config, dir string, maxLines int, log logr.Logger) ([]string, error) {
	ix, err := OpenReadOnly(dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ix.Close() }()
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, fmt.Errorf("failed to create an API client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to create a discovery client: %w", err)
	}
	scratch, err := os.MkdirTemp("", "pruneguard-verify-")
	if err != nil {
		return nil, fmt.Errorf("failed to create a scratch directory: %w", err)
	}
	return tracker.Verify(ctx, tracker.VerifyOptions{
		Client: c, Discovery: disc, Index: ix, ScratchDir: scratch, MaxLines: maxLines, Logger: log,
	})
}

// OpenReadOnly opens the index in dir for reading, refusing one that would need a rebuild.
func OpenReadOnly(dir string) (*index.Index, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("no index in %s: %w", dir, err)
	}
	ix, err := index.Open(index.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("%w (is serve running with this directory? stop it, or pass a copy)", err)
	}
	if st := ix.Status(); st.NeedsRebuild() {
		_ = ix.Close()
		return nil, fmt.Errorf("%w: the index in %s is %s; serve rebuilds it when it starts", ErrIndexNotUsable, dir, st)
	}
	return ix, nil
}
