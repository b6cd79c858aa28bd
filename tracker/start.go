package tracker

import (
	"context"
	"fmt"
)

// startUp prepares the index for the watch loops and returns, per served kind, the
// resourceVersion its watch starts from; a kind without one is listed and compared first.
//
// An index that needs a rebuild (new, of another schema, or an unfinished rebuild) is
// rebuilt from lists, and every kind starts at its list's version. A persisted index starts
// each kind at its watermark, the version up to which the index reflects it: nothing is
// listed, and the watch brings what changed while the tracker was down. Kinds the API server
// does not serve are removed from the index with their watermarks.
func (t *Tracker) startUp(ctx context.Context, served, unserved []Kind) (map[string]string, error) {
	if t.o.Index.Status().NeedsRebuild() {
		return t.rebuild(ctx, served)
	}
	names := make([]string, 0, len(served))
	for _, k := range served {
		names = append(names, k.Name)
	}
	marks, err := t.o.Index.Watermarks(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("failed to read where the index's watches stopped: %w", err)
	}
	if err := t.forget(ctx, unserved); err != nil {
		return nil, err
	}
	for range marks {
		t.o.Metrics.Resumes.Inc()
	}
	t.o.Logger.Info("resuming the index's watches", "resumed", len(marks), "listed", len(served)-len(marks))
	return marks, nil
}
