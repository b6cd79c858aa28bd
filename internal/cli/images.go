package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/audit"
)

// imagesOptions are the flags of "images".
type imagesOptions struct {
	source       auditFlags
	referenced   bool
	unreferenced bool
	namespace    string
	output       string
}

func newImagesCommand(s Streams) *cobra.Command {
	o := &imagesOptions{}
	cmd := &cobra.Command{
		Use:   "images [--unreferenced | --referenced] [-n NAMESPACE]",
		Short: "List images by whether anything references them",
		Long: `images lists the images of the index with the image streams holding them and how many references
reach them (by digest, or through a tag whose current item they are), across the whole cluster.

--unreferenced keeps the images nothing references, --referenced the others. --namespace keeps
the images held by an image stream of that namespace (an image's namespaces are those of the
streams holding it) and needs only get imagestreams there; without it the query is cluster-wide
and needs get images. Reference counts are cluster-wide either way: an image a pod of another
namespace uses is not unreferenced.

` + auditSourceHelp,
		Example: `  # Images nothing uses, in namespace shop
  pruneguard images --unreferenced -n shop

  # The same offline, as JSON
  pruneguard images --unreferenced -n shop --from-file dump.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), s)
		},
	}
	o.source.register(cmd, false)
	f := cmd.Flags()
	f.BoolVar(&o.unreferenced, "unreferenced", false, "List only the images nothing references.")
	f.BoolVar(&o.referenced, "referenced", false, "List only the images something references.")
	f.StringVarP(&o.namespace, "namespace", "n", "", "List only the images held by an image stream of this namespace.")
	addOutputFlag(cmd, &o.output, outputTable, outputTable, outputJSON, outputYAML)
	return cmd
}

func (o *imagesOptions) validate() error {
	if err := validateOutput(o.output, outputTable, outputJSON, outputYAML); err != nil {
		return err
	}
	if o.referenced && o.unreferenced {
		return errors.New("--referenced and --unreferenced exclude each other")
	}
	return o.source.validate()
}

func (o *imagesOptions) filter() string {
	switch {
	case o.referenced:
		return audit.FilterReferenced
	case o.unreferenced:
		return audit.FilterUnreferenced
	}
	return audit.FilterAll
}

func (o *imagesOptions) run(ctx context.Context, s Streams) error {
	src, closeSrc, err := o.source.open(ctx, s)
	if err != nil {
		return err
	}
	defer closeSrc()
	q := audit.ImagesQuery{Filter: o.filter(), Namespace: o.namespace}
	res, err := audit.AllImages(ctx, src, q, 0)
	if err != nil {
		return err
	}
	return printResult(s.Out, o.output, res, len(res.Images), func(w io.Writer) { printImages(w, res) })
}

func printImages(w io.Writer, res *audit.ImageList) {
	fmt.Fprintln(w, "DIGEST\tSTREAMS\tREFERRERS\tSIZE\tCREATED")
	for _, im := range res.Images {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\n", im.Digest, orDash(strings.Join(im.Streams, ",")), im.Referrers,
			im.Size, stampOrDash(im.Created))
	}
}
