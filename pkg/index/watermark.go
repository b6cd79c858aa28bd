package index

import (
	"context"
	"errors"
	"fmt"
)

// Watermarks are the tracker's resume points: per kind, the resourceVersion up to which the
// index reflects the cluster. The tracker appends SetWatermark to the ops of the events it
// covers, so Apply commits it in the transaction of the last of those ops or after them: a
// crash can leave a watermark behind the data (the events after it are replayed and rewritten
// to the same result) but never ahead of it. A rebuild wipes them with everything else.
//
// This file uses only the Op seam (apply, writer.get/set/del): the tracker owns the 'w' keys
// and the rest of the package knows nothing of them.

// KEY: w kind -> resourceVersion. The kind is the model kind's bytes (model.KindPod, ...), the
// value the resourceVersion string the API server gave. Owned by the tracker.
const prefixWatermark byte = 'w'

// maxWatermarkLen bounds a kind name and a resourceVersion; both are short in practice.
const maxWatermarkLen = 1024

func watermarkKey(kind string) []byte {
	return append([]byte{prefixWatermark}, kind...)
}

// SetWatermark returns an op that records rv as the resourceVersion up to which the index
// reflects the objects of kind. Put it after the ops of the events it covers.
func SetWatermark(kind, rv string) Op { return setWatermark{kind: kind, rv: rv} }

// DeleteWatermark returns an op that forgets the watermark of kind: the next start lists kind
// in full instead of resuming.
func DeleteWatermark(kind string) Op { return setWatermark{kind: kind} }

type setWatermark struct{ kind, rv string }

func (op setWatermark) String() string {
	if op.rv == "" {
		return "delete watermark " + op.kind
	}
	return "set watermark " + op.kind + " to " + op.rv
}

func (op setWatermark) apply(w *writer) error {
	if op.kind == "" || len(op.kind) > maxWatermarkLen || len(op.rv) > maxWatermarkLen {
		return fmt.Errorf("invalid watermark of kind %q at resourceVersion %q", op.kind, op.rv)
	}
	if op.rv == "" {
		return w.del(watermarkKey(op.kind))
	}
	return w.set(watermarkKey(op.kind), []byte(op.rv))
}

// readWatermarks is an op that writes nothing: it reads the watermarks of kinds inside the
// transaction Apply opens, so reads need nothing beyond the Op seam.
type readWatermarks struct {
	kinds []string
	out   map[string]string
}

func (op readWatermarks) String() string { return "read watermarks" }

func (op readWatermarks) apply(w *writer) error {
	for _, k := range op.kinds {
		val, found, err := w.get(watermarkKey(k))
		if err != nil {
			return err
		}
		if found {
			op.out[k] = string(val)
		}
	}
	return nil
}

// Watermarks returns the watermarks of kinds; a kind without one is absent from the map. It
// works on a read-only index too, and fails with ErrRebuilding during a rebuild.
func (ix *Index) Watermarks(ctx context.Context, kinds ...string) (map[string]string, error) {
	out := map[string]string{}
	if err := ix.Apply(ctx, readWatermarks{kinds: kinds, out: out}); err != nil {
		if errors.Is(err, ErrRebuilding) {
			return nil, err
		}
		return nil, fmt.Errorf("failed to read index watermarks: %w", err)
	}
	return out, nil
}
