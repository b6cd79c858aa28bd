package tracker

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// servedKinds splits the tracker's kinds by whether the API server serves them now. A group
// version that discovery cannot answer for (other than "not found") counts as not served this
// time; the periodic discovery tries again.
func (t *Tracker) servedKinds(ctx context.Context) (served, unserved []Kind) {
	return splitServed(ctx, t.disc, t.o.Kinds, func(gv schema.GroupVersion, err error) {
		t.o.Logger.Error(err, "discovery failed, kinds of this group version are skipped for now", "groupVersion", gv.String())
	}, func(k Kind) {
		t.o.Logger.Info("API not served, kind skipped until it appears", "kind", k.GVK.String())
	})
}

// splitServed asks discovery once per group version.
func splitServed(ctx context.Context, disc discovery.DiscoveryInterface, kinds []Kind, onErr func(schema.GroupVersion, error), onSkip func(Kind)) (served, unserved []Kind) {
	byGV := map[schema.GroupVersion]map[string]bool{}
	for _, k := range kinds {
		gv := k.GVK.GroupVersion()
		names, asked := byGV[gv]
		if !asked {
			names = map[string]bool{}
			list, err := disc.ServerResourcesForGroupVersion(gv.String())
			switch {
			case err == nil:
				for _, r := range list.APIResources {
					names[r.Kind] = true
				}
			case !apierrors.IsNotFound(err) && ctx.Err() == nil:
				onErr(gv, err)
			}
			byGV[gv] = names
		}
		if names[k.GVK.Kind] {
			served = append(served, k)
			continue
		}
		if onSkip != nil {
			onSkip(k)
		}
		unserved = append(unserved, k)
	}
	return served, unserved
}

// discover starts the watch loops of kinds that have become served; each lists its kind,
// compares it with the index, and then watches. Readiness does not wait for them.
func (t *Tracker) discover(ctx context.Context) {
	t.mu.Lock()
	var missing []Kind
	for _, k := range t.o.Kinds {
		if !t.watched[k.Name] {
			missing = append(missing, k)
		}
	}
	t.mu.Unlock()
	if len(missing) == 0 {
		return
	}
	served, _ := splitServed(ctx, t.disc, missing, func(gv schema.GroupVersion, err error) {
		t.o.Logger.V(1).Info("discovery failed", "groupVersion", gv.String(), "error", err.Error())
	}, nil)
	for _, k := range served {
		if err := t.startKind(ctx, k, "", false); err != nil {
			t.o.Logger.Error(err, "failed to watch a newly served kind", "kind", k.GVK.String())
			continue
		}
		t.o.Logger.Info("API now served, kind tracked", "kind", k.GVK.String())
	}
}
