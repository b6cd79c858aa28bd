package cli

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// explainOptions are the flags of "explain": the policy flags of "prune images", the source
// of the cluster state, and the output format.
type explainOptions struct {
	policy  policyFlags
	source  sourceFlags
	cluster clusterFlags
	output  string
}

func newExplainCommand(s Streams) *cobra.Command {
	o := &explainOptions{}
	cmd := &cobra.Command{
		Use:   "explain IMAGE",
		Short: "Explain why an image is kept or would be pruned",
		Long: `explain prints, for each image stream item that holds IMAGE and for the image itself, the rule
that keeps it or the reason it would be pruned, naming the objects that reference it. It runs the
same planner as "prune images" with the same flags, so it answers for exactly that prune.

IMAGE is a digest (sha256:...), a pull spec with a digest, or a pull spec or NAMESPACE/STREAM:TAG
naming an image stream tag, which stands for the tag's current image.

Rules a decision can name: stream-younger-than, item-younger-than, tag-referenced,
image-missing, keep-tag-revisions, within-size-limit, digest-referenced, item-prunable for stream
items; held-by-stream, child-of-held-manifest-list, unmanaged-image, image-younger-than,
digest-named (pruneguard only: oc would delete the image), namespace-mode, image-unused for the
image.`,
		Example: `  # Why is this image not pruned? (lists the cluster of the current kubeconfig)
  pruneguard explain sha256:4b1bbf819838193fafe2a73af5f6e8c34ae8ed2cf898199ca55031ec3d16d87d

  # The same, offline, on a dump of cluster objects
  pruneguard explain sha256:4b1bbf819838193fafe2a73af5f6e8c34ae8ed2cf898199ca55031ec3d16d87d --from-file dump.yaml

  # Would the current image of ns-1/app:v2 survive a prune keeping one revision per tag?
  pruneguard explain ns-1/app:v2 --from-file dump.yaml --keep-tag-revisions=1

  # The same, as JSON, evaluated at the time of the dump
  pruneguard explain image-registry.openshift-image-registry.svc:5000/ns-1/app@sha256:4b1b... \
    --from-file dump.yaml --now 2026-11-27T23:05:18Z -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, now, err := o.validate(cmd)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), s, args[0], opts, now)
		},
	}
	o.policy.register(cmd)
	o.source.register(cmd)
	cmd.Flags().StringVar(&o.cluster.kubeconfig, "kubeconfig", "", "The kubeconfig file to reach the cluster with (without --from-file); by default the in-cluster configuration, then $KUBECONFIG or ~/.kube/config.")
	addOutputFlag(cmd, &o.output, outputText, outputText, outputJSON, outputYAML)
	return cmd
}

func (o *explainOptions) validate(cmd *cobra.Command) (pruner.Options, time.Time, error) {
	if err := validateOutput(o.output, outputText, outputJSON, outputYAML); err != nil {
		return pruner.Options{}, time.Time{}, err
	}
	opts := o.policy.options(cmd)
	if err := opts.Validate(); err != nil {
		return opts, time.Time{}, err
	}
	now, err := o.source.validate()
	if err != nil {
		return opts, now, err
	}
	if o.source.fromFile != "" && o.cluster.kubeconfig != "" {
		return opts, now, errors.New("--from-file and --kubeconfig exclude each other: explain either a dump or the cluster")
	}
	return opts, now, nil
}

func (o *explainOptions) run(ctx context.Context, s Streams, image string, opts pruner.Options, now time.Time) error {
	reader, closeReader, err := o.open(ctx, s)
	if err != nil {
		return err
	}
	defer closeReader()
	digest, err := pruner.ResolveImage(ctx, reader, image)
	if err != nil {
		return err
	}
	e, err := pruner.Explain(ctx, reader, opts.Policy(now), digest)
	if err != nil {
		return err
	}
	if o.output != outputText {
		return printStructured(s.Out, o.output, e)
	}
	return e.WriteText(s.Out)
}

// open reads the dump of --from-file, or lists the cluster into a temporary index.
func (o *explainOptions) open(ctx context.Context, s Streams) (model.Reader, func(), error) {
	if o.source.fromFile != "" {
		return o.source.open(ctx, s)
	}
	c, _, err := o.cluster.newClusterClient()
	if err != nil {
		return nil, nil, err
	}
	pruner.LimitOneShotHeap()
	listing, err := pruner.ListCluster(ctx, c, pruner.ListOptions{Progress: s.Err})
	if err != nil {
		return nil, nil, err
	}
	return listing.Reader, func() { _ = listing.Close() }, nil
}
