package charttest

import (
	"io"
	"strings"
	"testing"

	"github.com/pruneguard/pruneguard/internal/cli"
)

// parseWithRealCommand parses args with the pruneguard command they name, without running it,
// so a flag the chart passes but the binary does not know (or a malformed value) fails here
// rather than as a CrashLoopBackOff in the cluster.
func parseWithRealCommand(t *testing.T, args []string) {
	t.Helper()
	root := cli.NewRootCommand(cli.Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatalf("pruneguard has no command for %q: %v", args, err)
	}
	var unknown []string
	for _, a := range rest {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if strings.HasPrefix(a, "--") && cmd.Flags().Lookup(name) == nil {
			unknown = append(unknown, "--"+name)
		}
	}
	if len(unknown) > 0 {
		t.Fatalf("pruneguard %s does not know the flags %v that the chart passes", cmd.Name(), unknown)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("pruneguard %s refuses the chart's arguments %q: %v", cmd.Name(), rest, err)
	}
	if positional := cmd.Flags().Args(); len(positional) > 0 {
		t.Errorf("pruneguard %s: the chart passes stray arguments %q", cmd.Name(), positional)
	}
	if cmd.Flags().Changed("help") {
		t.Error("the chart asks for --help")
	}
}

func TestTheBinaryAcceptsEveryArgumentTheChartPasses(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			for which, tpl := range podTemplates(t, v, render(t, v)) {
				t.Run(which, func(t *testing.T) { parseWithRealCommand(t, tpl.Spec.Containers[0].Args) })
			}
		})
	}
}
