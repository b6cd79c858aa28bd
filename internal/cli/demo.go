package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/demo"
)

const demoLong = `demo plays pruneguard's whole loop on this machine, with nothing but the tools that
"make tools" builds into ./bin: it starts a kube-apiserver with etcd and a registry on
127.0.0.1, runs "pruneguard serve" against them with the chart's webhook registered and a
self-signed certificate, seeds a small cluster, and narrates each step with the command a user
would type: who references an image, why it is kept, a dry run, a deployment removed and its
image pruned within seconds, a pod refused because its image was pruned, the audit trail and the
metrics. Every step checks its outcome; the demo exits non-zero if one is wrong.

With --keep (or DEMO_KEEP=1) everything keeps running after the last step, until Ctrl-C, and
the demo prints how to point kubectl and "pruneguard refs" at it.`

func newDemoCommand(s Streams) *cobra.Command {
	var keep bool
	var logFile string
	cmd := &cobra.Command{
		Use:     "demo",
		Short:   "Play the whole pruneguard loop on a local control plane and registry",
		Long:    demoLong,
		Example: "  make demo\n  DEMO_KEEP=1 pruneguard demo\n  pruneguard demo --log-file /tmp/serve.log",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := logr.Discard()
			if logFile != "" {
				f, err := os.Create(logFile)
				if err != nil {
					return fmt.Errorf("invalid --log-file: %w", err)
				}
				defer f.Close()
				log = newLogger(Streams{Err: f}, 0)
			}
			return demo.Run(cmd.Context(), demo.Options{
				Out: s.Out, Keep: keep || os.Getenv("DEMO_KEEP") == "1", Logger: log,
				Run: runInProcess,
			})
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "Keep everything running after the last step, until interrupted (also DEMO_KEEP=1).")
	cmd.Flags().StringVar(&logFile, "log-file", "", "Write serve's JSON logs to this file (default: discarded).")
	return cmd
}

// runInProcess runs a pruneguard command line with its own command tree and returns what it
// printed (standard output and errors together, as a terminal shows them) and its exit code.
func runInProcess(ctx context.Context, args []string) (string, int) {
	var out bytes.Buffer
	code := Main(ctx, Streams{In: bytes.NewReader(nil), Out: &out, Err: &out}, args)
	return out.String(), code
}
