package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/tracker"
)

func newIndexCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Inspect and verify the reference index",
		Long: `index verify compares the index with a fresh list from the API server; index stats prints its size.

Both read the index in --data-dir without changing it. A running serve holds the directory
locked: stop it first, or point --data-dir at a copy.`,
	}
	cmd.AddCommand(newIndexVerifyCommand(s), newIndexStatsCommand(s))
	return cmd
}

// indexVerifyOptions are the flags of "index verify".
type indexVerifyOptions struct {
	kubeconfig string
	dataDir    string
	maxLines   int
}

func newIndexVerifyCommand(s Streams) *cobra.Command {
	o := &indexVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare the index with a fresh list from the API server",
		Long: `verify lists every kind pruneguard tracks from the API server into a fresh index, built exactly
as serve builds one, and prints each difference with the index in --data-dir: a record only in
the index, only in the cluster, or a field that differs. Pending references (admitted, not yet
watched) are not compared. It exits 0 when there is no difference and 1 when there is any.`,
		Example: `  # Stop serve (or copy its directory), then
  pruneguard index verify --data-dir /var/lib/pruneguard`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.dataDir == "" {
				return errors.New("--data-dir is required: the directory of the index to verify")
			}
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to a kubeconfig. Default: the in-cluster service account, then $KUBECONFIG or ~/.kube/config.")
	f.StringVar(&o.dataDir, "data-dir", "", "Directory of the index to verify. Required.")
	f.IntVar(&o.maxLines, "max-differences", 1000, "Print at most this many differences (0: all), then how many more there were.")
	return cmd
}

func (o *indexVerifyOptions) run(ctx context.Context, s Streams) error {
	cfg, err := server.LoadConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	lines, err := server.VerifyDataDir(ctx, cfg, o.dataDir, o.maxLines, logr.Discard())
	if errors.Is(err, server.ErrIndexNotUsable) {
		return &ExitError{Code: 2, Err: err}
	}
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(s.Out, l)
	}
	if len(lines) > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%w: %d differences in %s", tracker.ErrDifferences, len(lines), o.dataDir)}
	}
	fmt.Fprintln(s.Err, "the index matches the cluster")
	return nil
}

// indexStatsOptions are the flags of "index stats".
type indexStatsOptions struct {
	dataDir string
	output  string
}

// statsView is index.Stats as printed: the status by name.
type statsView struct {
	Status string                     `json:"status"`
	Keys   map[string]int64           `json:"keys"`
	Files  map[string]index.DiskUsage `json:"files"`
}

func newIndexStatsCommand(s Streams) *cobra.Command {
	o := &indexStatsOptions{}
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print the size of the index",
		Long: `stats counts the keys of the index in --data-dir by kind (references confirmed and pending,
objects, images, streams, blob counts...) and sums its files by role.`,
		Example: `  pruneguard index stats --data-dir /var/lib/pruneguard -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateOutput(o.output, outputText, outputJSON, outputYAML); err != nil {
				return err
			}
			if o.dataDir == "" {
				return errors.New("--data-dir is required: the directory of the index")
			}
			return o.run(cmd.Context(), s)
		},
	}
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "", "Directory of the index. Required.")
	addOutputFlag(cmd, &o.output, outputText, outputText, outputJSON, outputYAML)
	return cmd
}

func (o *indexStatsOptions) run(ctx context.Context, s Streams) error {
	if _, err := os.Stat(o.dataDir); err != nil {
		return fmt.Errorf("no index in --data-dir %s: %w", o.dataDir, err)
	}
	ix, err := index.Open(index.Options{Dir: o.dataDir, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%w (is serve running with this directory? stop it, or pass a copy)", err)
	}
	defer func() { _ = ix.Close() }()
	st, err := ix.Stats(ctx)
	if err != nil {
		return err
	}
	if o.output != outputText {
		return printStructured(s.Out, o.output, statsView{Status: st.Status.String(), Keys: st.Keys, Files: st.Files})
	}
	for _, l := range st.Lines() {
		fmt.Fprintln(s.Out, l)
	}
	return nil
}
