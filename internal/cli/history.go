package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// historyOptions are the flags of "history".
type historyOptions struct {
	source    auditFlags
	namespace string
	output    string
}

func newHistoryCommand(s Streams) *cobra.Command {
	o := &historyOptions{}
	cmd := &cobra.Command{
		Use:   "history IMAGE",
		Short: "Show what pruneguard did to an image and when",
		Long: `history prints the audit trail of IMAGE, oldest first: when it was fenced, which object was denied
for referencing it and whose, which rule kept it, when it (or a stream item naming it) was deleted,
and when its fence was lifted. IMAGE is a digest, a pull spec, or NAMESPACE/STREAM[:TAG] (the
tag's current image).

With --namespace only the records about the namespace's image stream items or objects are shown
(needs get imagestreams there); without it the whole trail (needs get images).

Offline, --data-dir reads the trail that serve keeps under its data directory; Badger allows one
process per directory, so stop serve or read a copy.

` + auditSourceHelp,
		Example: `  # Why is sha256:4b1b... gone?
  pruneguard history sha256:4b1bbf819838193fafe2a73af5f6e8c34ae8ed2cf898199ca55031ec3d16d87d

  # From a copy of serve's data directory, as YAML
  pruneguard history shop/web:v1 --data-dir ./pruneguard-data -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), s, args[0])
		},
	}
	o.source.register(cmd, true)
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", "Show only the records about this namespace's image streams and objects.")
	addOutputFlag(cmd, &o.output, outputTable, outputTable, outputJSON, outputYAML)
	return cmd
}

func (o *historyOptions) validate() error {
	if err := validateOutput(o.output, outputTable, outputJSON, outputYAML); err != nil {
		return err
	}
	return o.source.validate()
}

func (o *historyOptions) run(ctx context.Context, s Streams, image string) error {
	src, closeSrc, err := o.source.open(ctx, s)
	if err != nil {
		return err
	}
	defer closeSrc()
	res, err := audit.AllHistory(ctx, src, audit.HistoryQuery{Image: image, Namespace: o.namespace}, 0)
	if err != nil {
		return err
	}
	return printResult(s.Out, o.output, res, len(res.Records), func(w io.Writer) { printHistory(w, res) })
}

func printHistory(w io.Writer, res *audit.History) {
	fmt.Fprintln(w, "TIME\tACTION\tRULE\tSTREAM-ITEM\tACTOR\tMESSAGE")
	for _, r := range res.Records {
		item := "-"
		if it := r.StreamItem; it != nil {
			item = fmt.Sprintf("%s:%s#%d", it.Repo, it.Tag, it.Position+1)
		}
		msg := r.Message
		if msg == "" && len(r.Referrers) > 0 {
			names := make([]string, 0, len(r.Referrers))
			for _, ref := range r.Referrers {
				names = append(names, ref.Object.String())
			}
			msg = "referrers: " + strings.Join(names, ", ")
		}
		actor := orDash(r.Actor)
		if r.Replica != "" && r.Replica != r.Actor {
			// A denial: the user who asked, and the replica whose webhook refused.
			actor += " (via " + r.Replica + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", stampOrDash(r.Time), r.Action, orDash(r.Rule), item,
			actor, orDash(msg))
	}
}

// openDataDir opens the trail under serve's data directory read-only and, when it opens as a
// complete index, the index too (to resolve tags); without it history needs a digest.
func openDataDir(dir string) (audit.Source, func(), error) {
	trailDir := audit.TrailDir(dir)
	if _, err := os.Stat(trailDir); err != nil {
		return nil, nil, fmt.Errorf("no audit trail in --data-dir %s (want %s): %w", dir, trailDir, err)
	}
	trail, err := audit.OpenTrail(audit.TrailOptions{Dir: trailDir, ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("%w (is serve running on this directory? read a copy instead)", err)
	}
	ix, err := index.Open(index.Options{Dir: dir, ReadOnly: true})
	if err == nil && ix.Status().NeedsRebuild() {
		err = errors.Join(errors.New("index incomplete"), ix.Close())
	}
	if err != nil {
		return audit.NewLocal(nil, trail), func() { _ = trail.Close() }, nil
	}
	var r model.Reader = ix
	return audit.NewLocal(r, trail), func() { _ = errors.Join(trail.Close(), ix.Close()) }, nil
}
