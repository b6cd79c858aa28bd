package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/audit"
)

// refsOptions are the flags of "refs".
type refsOptions struct {
	source    auditFlags
	object    string
	namespace string
	output    string
}

func newRefsCommand(s Streams) *cobra.Command {
	o := &refsOptions{}
	cmd := &cobra.Command{
		Use:   "refs (IMAGE | --object KIND/NAMESPACE/NAME)",
		Short: "List the objects that reference an image, or the images an object references",
		Long: `refs IMAGE lists every object that references IMAGE, with the container or field holding the
reference, since when the index knows it, and whether it is confirmed (seen by a watch) or pending
(recorded at admission). IMAGE is a digest (sha256:...), a pull spec, or NAMESPACE/STREAM[:TAG]; a
tag stands for itself and for its current image, whose referrers by digest and by every tag
currently pointing at it are listed too. The registry host of a pull spec is ignored, as oc does.

refs --object KIND/NAMESPACE/NAME lists every image the object references, resolved to a digest
where the index knows it (a tag through its image stream's current item): first the references
of the object as a watch saw it (confirmed), then those of a version the webhook admitted and no
watch has shown yet (pending, with the time it was recorded), so an object created a moment ago
is listed too.

` + auditSourceHelp,
		Example: `  # Who runs this image? (through the serve of the current kubeconfig context)
  pruneguard refs sha256:4b1bbf819838193fafe2a73af5f6e8c34ae8ed2cf898199ca55031ec3d16d87d

  # Only the referrers in namespace shop (all a namespace user may ask)
  pruneguard refs shop/web:v1 -n shop

  # What does this deployment pull? Offline, from a dump
  pruneguard refs --object Deployment/shop/web --from-file dump.yaml -o yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (o.object != "") || len(args) > 1 {
				return errors.New("pass either one IMAGE or --object KIND/NAMESPACE/NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), s, args)
		},
	}
	o.source.register(cmd, false)
	cmd.Flags().StringVar(&o.object, "object", "", "List the images this object references: KIND/NAMESPACE/NAME, e.g. Deployment/shop/web.")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", "List only the referrers in this namespace (needs get imagestreams there; without it the query is cluster-wide and needs get images).")
	addOutputFlag(cmd, &o.output, outputTable, outputTable, outputJSON, outputYAML)
	return cmd
}

func (o *refsOptions) validate() error {
	if err := validateOutput(o.output, outputTable, outputJSON, outputYAML); err != nil {
		return err
	}
	if o.object != "" && o.namespace != "" {
		return errors.New("--namespace applies to refs IMAGE; with --object the namespace is part of KIND/NAMESPACE/NAME")
	}
	return o.source.validate()
}

func (o *refsOptions) run(ctx context.Context, s Streams, args []string) error {
	src, closeSrc, err := o.source.open(ctx, s)
	if err != nil {
		return err
	}
	defer closeSrc()
	if o.object != "" {
		res, err := audit.AllObjectImages(ctx, src, audit.ObjectQuery{Object: o.object}, 0)
		if err != nil {
			return err
		}
		return printResult(s.Out, o.output, res, len(res.Images), func(w io.Writer) { printObjectImages(w, res) })
	}
	res, err := audit.AllReferrers(ctx, src, audit.ImageQuery{Image: args[0], Namespace: o.namespace}, 0)
	if err != nil {
		return err
	}
	return printResult(s.Out, o.output, res, len(res.Referrers), func(w io.Writer) { printReferrers(w, res) })
}

// printResult prints res as a table (through table) or structured, then turns an empty
// answer into the silent exit code 1.
func printResult(out io.Writer, format string, res any, n int, table func(io.Writer)) error {
	if format == outputTable {
		if n > 0 {
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			table(tw)
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	} else if err := printStructured(out, format, res); err != nil {
		return err
	}
	if n == 0 {
		return &ExitError{Code: 1, Silent: true}
	}
	return nil
}

func printReferrers(w io.Writer, res *audit.ImageReferrers) {
	fmt.Fprintln(w, "KIND\tNAMESPACE\tNAME\tCONTAINER/FIELD\tVIA\tSTATE\tSINCE")
	for _, r := range res.Referrers {
		via := r.Via
		if r.Tag != "" {
			via += " " + r.Tag
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Object.Kind, orDash(r.Object.Namespace), r.Object.Name,
			containerOrField(r.Container, r.FieldPath), via, r.State, stampOrDash(r.Since))
	}
}

func printObjectImages(w io.Writer, res *audit.ObjectImages) {
	fmt.Fprintln(w, "CONTAINER/FIELD\tREFERENCE\tDIGEST\tRESOLVED-BY\tSTATE\tSINCE\tNOTE")
	for _, im := range res.Images {
		note := im.Note
		if im.Digest != "" && !im.Known {
			note = "no Image object with this digest"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", containerOrField(im.Container, im.FieldPath), im.Reference,
			orDash(im.Digest), orDash(im.ResolvedBy), orDash(im.State), stampOrDash(im.Since), orDash(note))
	}
}

func containerOrField(container, field string) string {
	if container != "" {
		return container
	}
	return field
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stampOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// auditSourceHelp explains, in each audit command's help, where the answers come from.
const auditSourceHelp = `Where answers come from:
  --from-file DUMP   offline, from a dump of cluster objects ("oc get ... -A -o yaml|json").
  --server URL       a running "pruneguard serve" (its audit API, HTTPS), authenticated with
                     --token or the kubeconfig user's bearer token; check its certificate with
                     --certificate-authority (or skip the check with --insecure-skip-tls-verify).
  neither            the same API through the API server of the kubeconfig's current context:
                     the service proxy of Service --service-name in --service-namespace (the
                     chart's defaults: pruneguard/pruneguard), port --service-port (https-api).
                     Needs get on services/proxy there and a bearer token (--token, or the
                     kubeconfig user's).
The API answers only what the token's user may read: a namespace needs get imagestreams in it,
the whole cluster needs get images. Exit code 1 (and no table) means nothing matched.`

// auditFlags say where the audit commands get their answers: a dump, a data directory
// (history only), or a running serve.
type auditFlags struct {
	fromFile    string
	dataDir     string
	withDataDir bool
	conn        audit.ConnectOptions
}

func (a *auditFlags) register(cmd *cobra.Command, withDataDir bool) {
	f := cmd.Flags()
	a.withDataDir = withDataDir
	if withDataDir {
		f.StringVar(&a.dataDir, "data-dir", "", `Read offline from serve's --data-dir (audit trail, and the index to resolve tags); serve must not be running on it.`)
	} else {
		f.StringVar(&a.fromFile, "from-file", "", `Answer offline from a dump of cluster objects: a List or multi-document YAML/JSON as "oc get ... -A -o yaml|json" prints it; "-" reads stdin.`)
	}
	f.StringVar(&a.conn.Server, "server", "", "Base URL of a running serve's audit API, e.g. https://pruneguard.example:8443.")
	f.StringVar(&a.conn.Token, "token", "", "Bearer token for the audit API (default: the kubeconfig user's token).")
	f.StringVar(&a.conn.Kubeconfig, "kubeconfig", "", "Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
	f.StringVar(&a.conn.CertificateAuthority, "certificate-authority", "", "CA bundle (PEM) to verify --server's certificate.")
	f.BoolVar(&a.conn.InsecureSkipTLSVerify, "insecure-skip-tls-verify", false, "Do not verify --server's certificate (the token is still sent; use only for tests).")
	f.StringVar(&a.conn.ServiceNamespace, "service-namespace", audit.DefaultServiceNamespace, "Namespace of the pruneguard Service, when reached through the API server.")
	f.StringVar(&a.conn.ServiceName, "service-name", audit.DefaultServiceName, "Name of the pruneguard Service, when reached through the API server.")
	f.StringVar(&a.conn.ServicePort, "service-port", audit.DefaultServicePort, "Port name of the audit API on the pruneguard Service.")
}

func (a *auditFlags) validate() error {
	offline, what := a.fromFile, "--from-file"
	if a.withDataDir {
		offline, what = a.dataDir, "--data-dir"
	}
	if offline != "" && a.conn.Server != "" {
		return fmt.Errorf("%s and --server exclude each other: answer offline or ask a running serve", what)
	}
	if a.conn.Server == "" && (a.conn.CertificateAuthority != "" || a.conn.InsecureSkipTLSVerify) {
		return errors.New("--certificate-authority and --insecure-skip-tls-verify apply to --server only (the service proxy uses the kubeconfig's TLS settings)")
	}
	return nil
}

// open returns the source the flags name and the function that releases it.
func (a *auditFlags) open(ctx context.Context, s Streams) (audit.Source, func(), error) {
	switch {
	case a.fromFile != "":
		src := &sourceFlags{fromFile: a.fromFile}
		r, closeFn, err := src.open(ctx, s)
		if err != nil {
			return nil, nil, err
		}
		return audit.NewLocal(r, nil), closeFn, nil
	case a.dataDir != "":
		return openDataDir(a.dataDir)
	}
	c, err := audit.Connect(a.conn)
	if err != nil {
		return nil, nil, err
	}
	return c, func() {}, nil
}
