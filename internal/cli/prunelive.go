package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/registry"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pruner"
)

// apiQPS is the client rate of a one-shot prune, oc's: listing a large cluster and deleting
// with several workers would crawl at client-go's default of 5.
const apiQPS = 100

// clusterFlags say how to reach the cluster and its registry.
type clusterFlags struct {
	kubeconfig string
	dialect    string
}

func (c *clusterFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.kubeconfig, "kubeconfig", "", "The kubeconfig file to reach the cluster with; by default the in-cluster configuration, then $KUBECONFIG or ~/.kube/config.")
	f.StringVar(&c.dialect, "registry-dialect", "auto", `The registry's API: "openshift" (deletes blobs through /admin/blobs), "distribution" (v2 deletes only; blobs are left to its garbage collector), or "auto" to detect it.`)
}

// restConfig loads --kubeconfig when given, else the in-cluster configuration, else the usual
// kubeconfig ($KUBECONFIG or ~/.kube/config), exactly as serve does.
func (c *clusterFlags) restConfig() (*rest.Config, error) {
	return server.LoadConfig(c.kubeconfig)
}

// newClusterClient returns a client of the cluster at the one-shot rate and the config it uses.
func (c *clusterFlags) newClusterClient() (client.Client, *rest.Config, error) {
	cfg, err := c.restConfig()
	if err != nil {
		return nil, nil, err
	}
	cfg.QPS, cfg.Burst = apiQPS, apiQPS
	cl, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, nil, fmt.Errorf("failed to create a client of the cluster: %w", err)
	}
	return cl, cfg, nil
}

// runLive lists the cluster into a temporary index, plans, and deletes through the describing
// deleters: they print oc's lines and, with --confirm, call the image API and the registry.
func (o *pruneImagesOptions) runLive(ctx context.Context, s Streams, opts pruner.Options, plan planFunc) error {
	c, cfg, err := o.cluster.newClusterClient()
	if err != nil {
		return err
	}
	pruner.LimitOneShotHeap()
	listing, err := pruner.ListCluster(ctx, c, pruner.ListOptions{Progress: s.Err})
	if err != nil {
		return err
	}
	defer func() { _ = listing.Close() }()
	p, err := plan(listing.Reader)
	if err != nil {
		return err
	}
	structured := o.output != outputText
	out := s.Out
	if structured {
		out = io.Discard
	}
	ex := &pruner.Executor{Workers: 1, Reader: listing.Reader}
	var real *pruner.Deleters
	if opts.Confirm {
		if real, err = o.realDeleters(ctx, s, cfg, c, listing, opts, p); err != nil {
			return err
		}
		ex.Workers = opts.Workers()
	}
	ex.Deleters = pruner.NewDescribingDeleters(out, s.Err, real)
	done, execErr := ex.Execute(ctx, p)
	if structured {
		report := done.Report()
		report.DryRun = !opts.Confirm
		if err := printStructured(s.Out, o.output, report); err != nil {
			return errors.Join(err, execErr)
		}
		return execErr
	}
	fmt.Fprintf(s.Out, "Summary: %s\n", done.Summary())
	return execErr
}

// realDeleters builds the image API deleters and, when the plan has registry work, connects
// to the registry (a ping before the first delete: a registry that cannot be reached fails
// the prune before anything is deleted).
func (o *pruneImagesOptions) realDeleters(ctx context.Context, s Streams, cfg *rest.Config, c client.Client,
	listing *pruner.Listing, opts pruner.Options, p *pruner.Plan) (*pruner.Deleters, error) {
	api := &pruner.ImageAPI{Client: c, Names: listing.ImageNames}
	d := pruner.Deleters{Streams: api, Images: api}
	if !hasRegistryWork(p) {
		return &d, nil
	}
	rc, err := o.connectRegistry(ctx, cfg, listing.Reader, opts)
	if err != nil {
		return nil, err
	}
	if rc.Dialect() == registry.DialectDistribution {
		fmt.Fprintf(s.Err, "note: the registry at %s has no /admin API (a distribution registry): blobs are left to its garbage collector\n", rc.URL())
	}
	d = d.WithRegistry(rc)
	return &d, nil
}

// connectRegistry finds the registry (--registry-url, or as oc does from the images) and
// connects with the user's token and the CAs the user trusts.
func (o *pruneImagesOptions) connectRegistry(ctx context.Context, cfg *rest.Config, r model.Reader, opts pruner.Options) (*registry.Client, error) {
	dialect, err := registry.ParseDialect(o.cluster.dialect)
	if err != nil {
		return nil, err
	}
	return pruner.ConnectRegistry(ctx, cfg, r, opts, dialect)
}

// hasRegistryWork reports whether the plan deletes anything from the registry.
func hasRegistryWork(p *pruner.Plan) bool {
	for _, sp := range p.Streams {
		if len(sp.LayerLinks) > 0 || len(sp.ManifestLinks) > 0 {
			return true
		}
	}
	for _, ip := range p.Images {
		if len(ip.Blobs) > 0 {
			return true
		}
	}
	return false
}
