package tracker

import (
	"reflect"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Equality of index state and cluster state for the catch-up. Times are compared as instants
// (the index decodes them in the local zone, the API in UTC), empty and nil lists are equal,
// and fields the index does not store (Image.Name) are ignored. Resource versions count: an
// object whose version moved is rewritten, so that the index carries the version the pruner
// makes its updates conditional on.

func sameObject(a, b model.Object) bool {
	return a.Key == b.Key && a.UID == b.UID && a.ResourceVersion == b.ResourceVersion &&
		a.Created.Equal(b.Created) && a.Phase == b.Phase && sameRefs(a.Refs, b.Refs)
}

func sameRefs(a, b []model.Ref) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameImage(a, b model.Image) bool {
	a.Name, b.Name = "", ""
	if !a.Created.Equal(b.Created) {
		return false
	}
	a.Created, b.Created = time.Time{}, time.Time{}
	a.Layers, b.Layers = nilIfEmpty(a.Layers), nilIfEmpty(b.Layers)
	a.Children, b.Children = nilIfEmpty(a.Children), nilIfEmpty(b.Children)
	return reflect.DeepEqual(a, b)
}

func sameStream(a, b model.Stream) bool {
	if a.Namespace != b.Namespace || a.Name != b.Name || a.ResourceVersion != b.ResourceVersion ||
		!a.Created.Equal(b.Created) || len(a.Tags) != len(b.Tags) {
		return false
	}
	for i := range a.Tags {
		ta, tb := a.Tags[i], b.Tags[i]
		if ta.Name != tb.Name || len(ta.Items) != len(tb.Items) {
			return false
		}
		for j := range ta.Items {
			ia, ib := ta.Items[j], tb.Items[j]
			if ia.Image != ib.Image || ia.DockerImageReference != ib.DockerImageReference ||
				ia.Generation != ib.Generation || !ia.Created.Equal(ib.Created) {
				return false
			}
		}
	}
	return true
}

func containsLimit(have []model.LimitRange, l model.LimitRange) bool {
	for _, h := range have {
		if h == l {
			return true
		}
	}
	return false
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
