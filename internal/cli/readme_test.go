package cli

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeMarker precedes the README code block whose commands this test runs.
const readmeMarker = "<!-- readme-test -->"

// readmeCommands returns the pruneguard command lines of the marked block of README.md.
func readmeCommands(t *testing.T, readme string) [][]string {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(data), readmeMarker)
	if !ok {
		t.Fatalf("README.md has no %s block", readmeMarker)
	}
	var cmds [][]string
	sc := bufio.NewScanner(strings.NewReader(block))
	fences := 0
	for sc.Scan() && fences < 2 {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "```"):
			fences++
		case fences == 1 && strings.HasPrefix(line, "pruneguard "):
			cmds = append(cmds, strings.Fields(line)[1:])
		}
	}
	return cmds
}

// TestREADMEExamples runs the README's CLI examples against the example dump they name.
func TestREADMEExamples(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(t, filepath.Join(root, "README.md"))
	if len(cmds) < 5 {
		t.Fatalf("found %d example commands in README.md, want the documented ones", len(cmds))
	}
	for _, args := range cmds {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			for i, a := range args {
				if strings.HasPrefix(a, "examples/") {
					args[i] = filepath.Join(root, a)
				}
			}
			var out, errOut bytes.Buffer
			code := Main(context.Background(), Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, args)
			if code != 0 || out.Len() == 0 {
				t.Fatalf("exit code %d, %d bytes of output; stderr:\n%s", code, out.Len(), errOut.String())
			}
		})
	}
}
