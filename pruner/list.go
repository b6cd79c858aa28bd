package pruner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// ListOptions configure ListCluster.
type ListOptions struct {
	// TempDir is where the temporary index is created; "" means the system's temp directory.
	TempDir string
	// Progress, when set, receives a progress line every ProgressEvery while listing, the
	// notes about kinds the cluster does not serve, and a last line with the totals.
	Progress io.Writer
	// ProgressEvery is the time between two progress lines; 0 means defaultProgressEvery.
	ProgressEvery time.Duration
	// PageSize is the Limit of each list call; 0 means defaultPageSize.
	PageSize int64
}

// defaultPageSize is the Limit of one list call: large enough that listing 100,000 pods takes
// 200 calls, small enough that one page of pods stays a few megabytes.
const defaultPageSize = 500

// defaultProgressEvery keeps the progress line readable on a terminal and in a CronJob's log.
const defaultProgressEvery = 2 * time.Second

// listedKind is one kind the one-shot prune lists.
type listedKind struct {
	// name is what progress lines and notes call it, e.g. "pods".
	name    string
	newList func() client.ObjectList
}

// listedKinds are every kind whose objects the policy reads, in the order listed.
var listedKinds = []listedKind{
	{"images", func() client.ObjectList { return &imagev1.ImageList{} }},
	{"image streams", func() client.ObjectList { return &imagev1.ImageStreamList{} }},
	{"pods", func() client.ObjectList { return &corev1.PodList{} }},
	{"replication controllers", func() client.ObjectList { return &corev1.ReplicationControllerList{} }},
	{"replica sets", func() client.ObjectList { return &kappsv1.ReplicaSetList{} }},
	{"deployments", func() client.ObjectList { return &kappsv1.DeploymentList{} }},
	{"stateful sets", func() client.ObjectList { return &kappsv1.StatefulSetList{} }},
	{"daemon sets", func() client.ObjectList { return &kappsv1.DaemonSetList{} }},
	{"jobs", func() client.ObjectList { return &batchv1.JobList{} }},
	{"cron jobs", func() client.ObjectList { return &batchv1.CronJobList{} }},
	{"deployment configs", func() client.ObjectList { return &appsv1.DeploymentConfigList{} }},
	{"builds", func() client.ObjectList { return &buildv1.BuildList{} }},
	{"build configs", func() client.ObjectList { return &buildv1.BuildConfigList{} }},
	{"limit ranges", func() client.ObjectList { return &corev1.LimitRangeList{} }},
}

// Listing is the cluster's state loaded into a temporary index.
type Listing struct {
	// Reader reads the temporary index.
	Reader model.Reader
	// ImageNames maps image digests to the names of their Image objects where these differ
	// (see ImageAPI.Names).
	ImageNames map[string]string
	// Skipped are the kinds the API server does not serve.
	Skipped []string
	close   func() error
}

// Close closes the temporary index and removes it.
func (l *Listing) Close() error { return l.close() }

// ListCluster lists every object the policy reads, page by page (Limit and Continue), into a
// temporary index, so that memory stays bounded by one page whatever the cluster's size. A
// kind the API server does not serve (a plain Kubernetes cluster has no builds) is skipped
// with a note; any other error, a refused list included, fails: a referrer kind left out
// could get a referenced image deleted.
func ListCluster(ctx context.Context, c client.Client, o ListOptions) (*Listing, error) {
	dir, err := os.MkdirTemp(o.TempDir, "pruneguard-list-")
	if err != nil {
		return nil, fmt.Errorf("failed to create the temporary index directory: %w", err)
	}
	ix, err := index.Open(index.Options{Dir: dir, Temporary: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("failed to open the temporary index in %s: %w", dir, err)
	}
	l := &Listing{Reader: ix, ImageNames: make(map[string]string), close: func() error {
		return errors.Join(ix.Close(), os.RemoveAll(dir))
	}}
	if err := l.load(ctx, c, ix, o); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

func (l *Listing) load(ctx context.Context, c client.Client, ix *index.Index, o ListOptions) error {
	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		return fmt.Errorf("failed to start loading the index: %w", err)
	}
	p := newProgress(o)
	loader := &dumpLoader{rb: rb}
	for _, k := range listedKinds {
		err := l.listKind(ctx, c, k, o, func(obj client.Object) error {
			p.add(k.name)
			return l.put(loader, obj)
		})
		if err != nil {
			rb.Abort()
			return err
		}
	}
	p.finish(l.Skipped)
	if err := rb.Finish(ctx); err != nil {
		return fmt.Errorf("failed to finish loading the index: %w", err)
	}
	return nil
}

// listKind lists one kind in pages and calls fn with every object.
func (l *Listing) listKind(ctx context.Context, c client.Client, k listedKind, o ListOptions, fn func(client.Object) error) error {
	limit := o.PageSize
	if limit <= 0 {
		limit = defaultPageSize
	}
	cont := ""
	for {
		list := k.newList()
		err := c.List(ctx, list, client.Limit(limit), client.Continue(cont))
		if meta.IsNoMatchError(err) || (cont == "" && apierrors.IsNotFound(err)) {
			l.Skipped = append(l.Skipped, k.name)
			return nil
		}
		if err != nil {
			return fmt.Errorf("failed to list %s: %w%s", k.name, err, listHint(err))
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return fmt.Errorf("failed to read the list of %s: %w", k.name, err)
		}
		for _, item := range items {
			obj, ok := item.(client.Object)
			if !ok {
				return fmt.Errorf("unexpected %T in the list of %s", item, k.name)
			}
			if err := fn(obj); err != nil {
				return err
			}
		}
		if cont = list.GetContinue(); cont == "" {
			return nil
		}
	}
}

// listHint names the fix of the list errors a user can act on.
func listHint(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "\n* The prune must read every kind that can reference an image; grant the user the system:image-pruner cluster role."
	case apierrors.IsResourceExpired(err):
		return "\n* The list took longer than the API server keeps its continue token; run the prune again."
	}
	return ""
}

// put extracts obj and adds what it contributes to the rebuild.
func (l *Listing) put(loader *dumpLoader, obj client.Object) error {
	res, err := extract.Object(obj)
	if err != nil {
		return err
	}
	if res.Image != nil {
		if name, renamed := CanonicalImage(res.Image); renamed {
			l.ImageNames[res.Image.Digest] = name
		}
	}
	if err := loader.put(res); err != nil {
		return fmt.Errorf("failed to load %s %s/%s: %w", res.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// CanonicalImage makes img's Digest its manifest digest when the Image object is not named by
// it: an API server serving Images from a CRD names them "sha256.HEX". The digest is then
// taken from dockerImageReference ("...@sha256:HEX"), or else from the name. It returns the
// object's name and whether it differs from the digest; an image the extractor already gave
// its digest and its name is only reported.
func CanonicalImage(img *model.Image) (name string, renamed bool) {
	if isManifestDigest(img.Digest) {
		// Already the digest; the extractor may have kept the object's name.
		return img.Name, img.Name != "" && img.Name != img.Digest
	}
	name = img.Digest
	digest := ""
	if i := strings.LastIndex(img.DockerImageReference, "@"); i >= 0 && isManifestDigest(img.DockerImageReference[i+1:]) {
		digest = img.DockerImageReference[i+1:]
	} else if alt := strings.Replace(name, ".", ":", 1); isManifestDigest(alt) {
		digest = alt
	}
	if digest == "" {
		return name, false
	}
	img.Digest, img.Name = digest, name
	return name, true
}

// isManifestDigest reports whether d is "ALGORITHM:HEX" with a lowercase hex part.
func isManifestDigest(d string) bool {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || len(hex) < 32 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
