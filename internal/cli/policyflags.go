package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pruner"
)

// policyFlags are the flags that decide what a prune keeps, shared by "prune images" and
// "explain" so that explain answers for exactly the prune the same flags would run.
type policyFlags struct {
	keepTagRevisions   int
	keepYoungerThan    time.Duration
	pruneOverSizeLimit bool
	all                bool
	namespace          string
	pruneRegistry      bool
	ignoreInvalidRefs  bool
}

func (p *policyFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&p.keepTagRevisions, "keep-tag-revisions", pruner.DefaultKeepTagRevisions, "The number of newest revisions of each image stream tag to keep.")
	f.DurationVar(&p.keepYoungerThan, "keep-younger-than", pruner.DefaultKeepYoungerThan, "The minimum age of an image and its referrers for it to be pruned.")
	f.BoolVar(&p.pruneOverSizeLimit, "prune-over-size-limit", false, "Prune the images exceeding the openshift.io/Image LimitRange of their namespace instead. Cannot be combined with --keep-tag-revisions nor --keep-younger-than.")
	f.BoolVar(&p.all, "all", true, "Include images imported from external registries; false prunes only images pushed to the integrated registry (annotated openshift.io/image.managed=true).")
	f.StringVar(&p.namespace, "namespace", "", "Prune only the image streams of this namespace; no Image object is deleted then.")
	f.BoolVar(&p.pruneRegistry, "prune-registry", true, "If false, prune only API objects and leave the registry's layer links, manifest links and blobs.")
	f.BoolVar(&p.ignoreInvalidRefs, "ignore-invalid-refs", false, "If true, an unparsable image reference protects nothing instead of aborting the prune; an image may then be deleted although its referrer meant it.")
}

// options converts the flags, leaving the keep flags nil unless given, as oc's validation needs.
func (p *policyFlags) options(cmd *cobra.Command) pruner.Options {
	o := pruner.NewOptions()
	if cmd.Flags().Changed("keep-tag-revisions") {
		n := p.keepTagRevisions
		o.KeepTagRevisions = &n
	}
	if cmd.Flags().Changed("keep-younger-than") {
		d := p.keepYoungerThan
		o.KeepYoungerThan = &d
	}
	o.PruneOverSizeLimit = p.pruneOverSizeLimit
	o.AllImages = p.all
	o.Namespace = p.namespace
	o.PruneRegistry = p.pruneRegistry
	o.IgnoreInvalidRefs = p.ignoreInvalidRefs
	return o
}

// sourceFlags say where the cluster state comes from and at what time to evaluate it.
type sourceFlags struct {
	fromFile string
	now      string
}

func (s *sourceFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.fromFile, "from-file", "", `Plan offline from a dump of cluster objects: a List or multi-document YAML/JSON as "oc get ... -A -o yaml|json" prints it; "-" reads stdin.`)
	f.StringVar(&s.now, "now", "", "Evaluate the policy at this RFC3339 time instead of the current time, e.g. the time the dump was taken.")
}

// validate parses --now; without it the policy is evaluated at the current time.
func (s *sourceFlags) validate() (time.Time, error) {
	if s.now == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s.now)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --now %q: want an RFC3339 time such as 2026-11-27T23:05:18Z: %w", s.now, err)
	}
	return t, nil
}

// open loads the dump into a temporary index and returns a reader of it and its cleanup.
func (s *sourceFlags) open(ctx context.Context, st Streams) (model.Reader, func(), error) {
	in := st.In
	if s.fromFile != "-" {
		f, err := os.Open(s.fromFile)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to open --from-file: %w", err)
		}
		defer f.Close()
		in = f
	}
	pruner.LimitOneShotHeap()
	r, closeFn, err := pruner.OpenDump(ctx, in, pruner.DumpOptions{Progress: st.Err})
	if err != nil {
		return nil, nil, fmt.Errorf("failed to load --from-file %s: %w", s.fromFile, err)
	}
	return r, func() { _ = closeFn() }, nil
}
