package tracker

import (
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// Sink receives the full state of a cluster, one object at a time: *index.Rebuild implements
// it. A start-up rebuild and Verify's fresh index are both filled through put, so the live
// index and the fresh one can only differ by what the watches missed.
type Sink interface {
	PutObject(model.Object) error
	PutImage(model.Image) error
	PutStream(model.Stream) error
	PutLimitRange(model.LimitRange) error
}

var _ Sink = (*index.Rebuild)(nil)

// put hands everything res contributes to s. The referrer of an ImageStream (its spec tags) is
// put even without references, as the --from-file loader does, so both read the same model.
func put(res extract.Result, s Sink) error {
	if res.Referrer != nil {
		if err := s.PutObject(*res.Referrer); err != nil {
			return err
		}
	}
	if res.Image != nil {
		if err := s.PutImage(*res.Image); err != nil {
			return err
		}
	}
	if res.Stream != nil {
		if err := s.PutStream(*res.Stream); err != nil {
			return err
		}
	}
	if res.LimitRange != nil {
		return s.PutLimitRange(*res.LimitRange)
	}
	return nil
}

// putOps are the index ops that make the index hold what res contributes. PutObject of a
// referrer confirms its pending record when it carries every pending reference.
func putOps(res extract.Result) []index.Op {
	var ops []index.Op
	if res.Referrer != nil {
		ops = append(ops, index.PutObject(*res.Referrer))
	}
	if res.Image != nil {
		ops = append(ops, index.PutImage(*res.Image))
	}
	if res.Stream != nil {
		ops = append(ops, index.PutStream(*res.Stream))
	}
	if res.LimitRange != nil {
		ops = append(ops, index.PutLimitRange(*res.LimitRange))
	}
	return ops
}

// deleteOps are the index ops that remove a deleted object of kind. A pending record of the
// same key stays: it may announce a re-creation under the same name, and expires otherwise.
func deleteOps(kind string, obj client.Object) []index.Op {
	switch kind {
	case model.KindImage:
		return []index.Op{index.DeleteImage(imageDigest(obj))}
	case model.KindLimitRange:
		return []index.Op{index.DeleteLimitRange(obj.GetNamespace(), obj.GetName())}
	case model.KindImageStream:
		return []index.Op{
			index.DeleteStream(obj.GetNamespace(), obj.GetName()),
			index.DeleteObject(model.ObjectKey{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}),
		}
	}
	return []index.Op{index.DeleteObject(model.ObjectKey{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()})}
}

// imageDigest is the digest the index knows an Image by: what extraction makes of it, so that
// a delete removes exactly what the put wrote. An Image whose metadata does not decode was
// never put; its name, with the "sha256." form of CRD-served images turned back into a digest,
// is the best guess.
func imageDigest(obj client.Object) string {
	if res, err := extract.Object(obj); err == nil && res.Image != nil {
		return res.Image.Digest
	}
	name := obj.GetName()
	if rest, ok := strings.CutPrefix(name, "sha256."); ok {
		return "sha256:" + rest
	}
	return name
}

// extractObject extracts obj, naming it in the error.
func extractObject(kind string, obj client.Object) (extract.Result, error) {
	res, err := extract.Object(obj)
	if err != nil {
		return res, fmt.Errorf("failed to extract %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return res, nil
}

// eventChange is the change a watch event of kind makes: the object's put, or its delete.
// An object that does not extract returns the error; the caller logs it and leaves the
// index as it is.
func eventChange(kind string, obj client.Object, deleted bool) (change, error) {
	c := change{kind: kind, key: changeKey(kind, obj.GetNamespace(), obj.GetName())}
	if deleted {
		c.ops = deleteOps(kind, obj)
		return c, nil
	}
	res, err := extractObject(kind, obj)
	if err != nil {
		return c, err
	}
	c.ops = putOps(res)
	return c, nil
}
