package tracker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// acceptTypes asks for protobuf and takes JSON where the server has no protobuf: the
	// built-in kinds answer in protobuf (several times cheaper to encode and decode for the
	// API server and for us), kinds served through CRDs in JSON.
	acceptTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	// minQPS and minBurst raise client-go's default client-side limit (5 requests a second)
	// for the tracker's own clients: a cold start of a large cluster lists hundreds of pages,
	// and the API server's priority and fairness, not a client-side bucket, should pace them.
	minQPS, minBurst = 50, 100
	// catchUpWatchTimeout is the timeout of the first watch of a kind after a list or a
	// resume. The API server sends a bookmark 2 s before a watch's deadline, after every
	// event it held for the watch, so a 3 s watch says within about a second that the kind
	// has caught up. Shorter watches get no bookmark at all.
	catchUpWatchTimeout = 3 * time.Second
	// minWatchTimeout is the shortest timeout of a steady-state watch; each asks for a
	// random one between it and twice it, as client-go's reflector does, so that the
	// replicas' watches do not all end together.
	minWatchTimeout = 5 * time.Minute
)

// kindAPI lists and watches one kind through a REST client of its group version.
type kindAPI struct {
	kind Kind
	rc   rest.Interface
	// onList is called once per list request (a page), for the metrics.
	onList func()
}

// newKindAPI builds the REST client of k's group version from cfg.
func newKindAPI(cfg *rest.Config, scheme *runtime.Scheme, k Kind, onList func()) (*kindAPI, error) {
	c := rest.CopyConfig(cfg)
	gv := k.GVK.GroupVersion()
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	if gv.Group == "" {
		c.APIPath = "/api"
	}
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	c.AcceptContentTypes = acceptTypes
	c.ContentType = runtime.ContentTypeJSON
	if c.RateLimiter == nil && c.QPS >= 0 {
		c.QPS, c.Burst = max(c.QPS, minQPS), max(c.Burst, minBurst)
	}
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("failed to create a REST client for %s: %w", k.GVK, err)
	}
	return &kindAPI{kind: k, rc: rc, onList: onList}, nil
}

// list returns one page of the kind, all namespaces, continuing at cont ("" for the first).
func (a *kindAPI) list(ctx context.Context, cont string, limit int64) (client.ObjectList, error) {
	a.onList()
	list := a.kind.NewList()
	err := a.rc.Get().Resource(a.kind.Resource).
		VersionedParams(&metav1.ListOptions{Limit: limit, Continue: cont}, metav1.ParameterCodec).
		Do(ctx).Into(list)
	if err != nil {
		return nil, fmt.Errorf("failed to list %s: %w", a.kind.Resource, err)
	}
	return list, nil
}

// watch watches the kind, all namespaces, from rv (exclusive) with bookmarks; the API server
// ends it after timeout.
func (a *kindAPI) watch(ctx context.Context, rv string, timeout time.Duration) (watch.Interface, error) {
	secs := int64(timeout / time.Second)
	opts := &metav1.ListOptions{Watch: true, ResourceVersion: rv, AllowWatchBookmarks: true, TimeoutSeconds: &secs}
	w, err := a.rc.Get().Resource(a.kind.Resource).VersionedParams(opts, metav1.ParameterCodec).Watch(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to watch %s from resourceVersion %s: %w", a.kind.Resource, rv, err)
	}
	return w, nil
}

// steadyWatchTimeout is a random timeout in [minWatchTimeout, 2*minWatchTimeout).
func steadyWatchTimeout() time.Duration {
	return minWatchTimeout + rand.N(minWatchTimeout)
}
