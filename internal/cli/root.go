package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Streams are the standard streams of one command invocation.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// ExitError carries a process exit code other than 1 out of a command, without a message when
// Silent is true (for example "nothing matched", which prints nothing and exits 1).
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, s Streams, args []string) int {
	cmd := NewRootCommand(s)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if !exit.Silent {
			fmt.Fprintln(s.Err, "error:", exit.Error())
		}
		return exit.Code
	}
	fmt.Fprintln(s.Err, "error:", err)
	return 1
}

// NewRootCommand builds the pruneguard command tree writing to s.
func NewRootCommand(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "pruneguard",
		Short: "Continuous, race-free image pruning for OpenShift and Kubernetes",
		Long: `pruneguard keeps a live index of which object references which container image, prunes
images the moment the oc adm prune images policy allows, and refuses new references to an image
while it is being deleted.

Run it in the cluster with "pruneguard serve" (the Helm chart does this), or use it one-shot as a
drop-in for "oc adm prune images", against the cluster or offline on a dump of cluster objects.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.AddCommand(
		newVersionCommand(s),
		newServeCommand(s),
		newPruneCommand(s),
		newExplainCommand(s),
		newRefsCommand(s),
		newImagesCommand(s),
		newHistoryCommand(s),
		newIndexCommand(s),
		newDemoCommand(s),
	)
	return root
}
