package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/registry"
	"github.com/pruneguard/pruneguard/pruner"
)

func newPruneCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Prune images, as oc adm prune does",
		Long: `prune removes what nothing needs any more. "prune images" makes the decisions of
"oc adm prune images", with the same flags, defaults and output.`,
	}
	cmd.AddCommand(newPruneImagesCommand(s))
	return cmd
}

// pruneImagesLong is the help of "prune images".
const pruneImagesLong = `Remove image stream tag revisions, images, and image layers by age and usage, making exactly the
decisions of "oc adm prune images" (same flags, defaults and output lines), and also keeping any
image whose digest some object still references.

Stage 1 removes old revisions from image stream tags: a revision is kept while it is younger than
--keep-younger-than, while it is the current image of a tag that something uses, while it is one
of the --keep-tag-revisions newest of its tag, or while something references it by digest
(with --prune-over-size-limit: unless its image exceeds the namespace's openshift.io/Image
LimitRange). Stage 2 (not with --namespace) deletes the Image objects no stream item holds any
more, with their blobs. Pods count while Running or Pending, or when younger than
--keep-younger-than.

By default this is a dry run that prints what would be deleted; --confirm deletes: first the
registry's layer links, then the image stream items, then the manifest links, the blobs and the
Image objects, with --num-workers in parallel. A registry that refuses a delete leaves the API
objects that need its content in place, the failure is reported per object and the command exits
non-zero; run it again to finish.

Without --from-file the cluster is listed page by page into a temporary index (memory stays
bounded: the Go heap is kept under a soft limit of 512 MiB, which the GOMEMLIMIT environment
variable overrides), using --kubeconfig, the in-cluster configuration or ~/.kube/config. The registry is
found from the newest managed image unless --registry-url is given; the user's bearer token
authenticates the deletes. Insecure connections (plain HTTP, unverified certificates) are used
only with --force-insecure, an http:// --registry-url, a localhost or link-local registry, or an
insecure kubeconfig, and never with --certificate-authority.

Plan offline from a dump of the cluster with --from-file, and fix the clock with --now to replay
a decision.
Invalid image references abort the prune with the list of offending objects unless
--ignore-invalid-refs is given.`

// pruneImagesExample are the examples of "prune images".
const pruneImagesExample = `  # What would a default prune delete in the cluster? Then delete it.
  pruneguard prune images
  pruneguard prune images --confirm

  # Outside the cluster network, through the registry's route, with its CA
  pruneguard prune images --confirm --registry-url=registry.apps.example.org --certificate-authority=ca.crt

  # What would a default prune delete in the cluster captured in dump.yaml?
  oc get pods,rc,rs,deploy,dc,sts,ds,jobs,cronjobs,builds,bc,is,images,limitranges -A -o yaml > dump.yaml
  pruneguard prune images --from-file dump.yaml

  # The same, evaluated at the time the dump was taken, as JSON
  pruneguard prune images --from-file dump.yaml --now 2026-11-27T23:05:18Z -o json

  # Keep one revision per tag and anything younger than 30 minutes, read the dump from stdin
  oc get is,images,pods -A -o json | pruneguard prune images --from-file - --keep-tag-revisions=1 --keep-younger-than=30m

  # Only images exceeding the openshift.io/Image LimitRange of their namespace
  pruneguard prune images --from-file dump.yaml --prune-over-size-limit

  # Why would this image be pruned, or kept?
  pruneguard explain sha256:4b1bbf819838193fafe2a73af5f6e8c34ae8ed2cf898199ca55031ec3d16d87d --from-file dump.yaml`

// pruneImagesOptions are the flags of "prune images".
type pruneImagesOptions struct {
	policy               policyFlags
	source               sourceFlags
	cluster              clusterFlags
	confirm              bool
	registryURL          string
	certificateAuthority string
	forceInsecure        bool
	numWorkers           int
	output               string
}

func newPruneImagesCommand(s Streams) *cobra.Command {
	o := &pruneImagesOptions{}
	cmd := &cobra.Command{
		Use:     "images",
		Short:   "Remove unreferenced images, with the decisions of oc adm prune images",
		Long:    pruneImagesLong,
		Example: pruneImagesExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, now, err := o.validate(cmd)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), s, opts, now)
		},
	}
	f := cmd.Flags()
	o.policy.register(cmd)
	o.source.register(cmd)
	o.cluster.register(cmd)
	f.BoolVar(&o.confirm, "confirm", false, "If true, delete; by default only print what would be deleted. Requires a reachable registry (see --registry-url).")
	f.StringVar(&o.registryURL, "registry-url", "", "The registry address to delete from instead of the one found from the images, e.g. a route; prefix http:// or https:// to force the protocol.")
	f.StringVar(&o.certificateAuthority, "certificate-authority", "", "A CA bundle file to verify the registry's certificate with. Cannot be combined with --force-insecure.")
	f.BoolVar(&o.forceInsecure, "force-insecure", false, "If true, allow plain HTTP or an unverified certificate for the registry. Prefer --certificate-authority.")
	f.IntVar(&o.numWorkers, "num-workers", pruner.DefaultNumWorkers, "The number of parallel workers deleting.")
	addOutputFlag(cmd, &o.output, outputText, outputText, outputJSON, outputYAML)
	return cmd
}

// validate checks every flag before any work starts and resolves the time of evaluation.
func (o *pruneImagesOptions) validate(cmd *cobra.Command) (pruner.Options, time.Time, error) {
	if err := validateOutput(o.output, outputText, outputJSON, outputYAML); err != nil {
		return pruner.Options{}, time.Time{}, err
	}
	opts := o.policy.options(cmd)
	opts.Confirm = o.confirm
	opts.RegistryURL = o.registryURL
	opts.CertificateAuthority = o.certificateAuthority
	opts.ForceInsecure = o.forceInsecure
	opts.NumWorkers = o.numWorkers
	if err := opts.Validate(); err != nil {
		return opts, time.Time{}, err
	}
	now, err := o.source.validate()
	if err != nil {
		return opts, time.Time{}, err
	}
	if _, err := registry.ParseDialect(o.cluster.dialect); err != nil {
		return opts, now, fmt.Errorf("invalid --registry-dialect: %w", err)
	}
	if o.source.fromFile != "" && o.confirm {
		return opts, now, errors.New("--confirm cannot be used with --from-file: a dump is planned offline and nothing can be deleted from it")
	}
	return opts, now, nil
}

// planFunc plans the prune from a reader of the cluster's state and prints oc's notes.
type planFunc func(r model.Reader) (*pruner.Plan, error)

// run plans the prune from the dump and prints the plan, or runs it against the cluster.
func (o *pruneImagesOptions) run(ctx context.Context, s Streams, opts pruner.Options, now time.Time) error {
	plan := func(r model.Reader) (*pruner.Plan, error) { return o.plan(ctx, s, r, opts, now) }
	if o.source.fromFile == "" {
		return o.runLive(ctx, s, opts, plan)
	}
	reader, closeReader, err := o.source.open(ctx, s)
	if err != nil {
		return err
	}
	defer closeReader()
	p, err := plan(reader)
	if err != nil {
		return err
	}
	if o.output != outputText {
		return printStructured(s.Out, o.output, pruner.NewReport(p, !opts.Confirm))
	}
	return pruner.WriteText(s.Out, p)
}

// plan makes the plan and prints the notes oc prints before it. Invalid references abort; in
// structured output an empty report is printed first, so scripts always get a document.
func (o *pruneImagesOptions) plan(ctx context.Context, s Streams, r model.Reader, opts pruner.Options, now time.Time) (*pruner.Plan, error) {
	dryRun := !opts.Confirm
	plan, err := pruner.NewPlanner(r, opts.Policy(now)).Plan(ctx)
	if err != nil {
		if o.output != outputText && errors.Is(err, pruner.ErrInvalidReferences) {
			if perr := printStructured(s.Out, o.output, pruner.NewReport(nil, dryRun)); perr != nil {
				return nil, perr
			}
		}
		return nil, err
	}
	if o.output == outputText {
		if dryRun {
			fmt.Fprintln(s.Err, pruner.DryRunNote)
		}
		if !opts.PruneRegistry {
			fmt.Fprintln(s.Out, pruner.APIOnlyNote)
		}
	}
	return plan, nil
}
