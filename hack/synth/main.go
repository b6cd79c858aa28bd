// Command synth writes the dump of a generated cluster (pkg/synth) for
// `pruneguard prune images --from-file`:
//
//	go run ./hack/synth -size S -seed 1 -now 2026-11-27T00:00:00Z -o cluster.json
//	pruneguard prune images --from-file cluster.json --now 2026-11-27T00:00:00Z --ignore-invalid-refs
//
// The same flags give the same bytes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pruneguard/pruneguard/pkg/synth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	size := fs.String("size", "S", "cluster size: S (2,000 images), M (20,000) or L (200,000)")
	images := fs.Int("images", 0, "number of images, instead of -size")
	seed := fs.Int64("seed", 1, "seed of the generation")
	now := fs.String("now", "", "time the cluster's ages are relative to, RFC 3339 (required)")
	out := fs.String("o", "-", "file to write the dump to; - for standard output")
	noInvalid := fs.Bool("no-invalid-refs", false, "leave out the invalid image references (which make a prune abort without --ignore-invalid-refs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *now == "" {
		return errors.New("-now is required, e.g. -now 2026-11-27T00:00:00Z, so that the dump is reproducible")
	}
	t, err := time.Parse(time.RFC3339, *now)
	if err != nil {
		return fmt.Errorf("invalid -now: %w", err)
	}
	o := synth.Options{Seed: *seed, Now: t, Images: *images, NoInvalidRefs: *noInvalid}
	if *images == 0 {
		if o.Size, err = synth.ParseSize(*size); err != nil {
			return err
		}
	}
	c, err := synth.Generate(o)
	if err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("failed to create the dump file: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("failed to write %s: %w", *out, cerr)
			}
		}()
		w = f
	}
	return synth.WriteDump(w, c)
}
