package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	imagev1 "github.com/openshift/api/image/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// Command runs one pruneguard command line in-process and returns what it printed on
// standard output and its exit code. The CLI passes itself, so this package does not import
// the command tree.
type Command func(ctx context.Context, args []string) (out string, code int)

// Options configure Run.
type Options struct {
	// Out receives the narration.
	Out io.Writer
	// Run runs pruneguard commands.
	Run Command
	// Keep leaves everything running after the last step until ctx is done (DEMO_KEEP=1).
	Keep bool
	// Logger receives serve's logs (default: discarded, so the narration stays readable).
	Logger logr.Logger
}

// policy is the pruning policy of the demo: oc's defaults, but for --keep-younger-than, since
// every object of a cluster seeded seconds ago is younger than oc's 60m (the API server stamps
// creation times; the image stream items carry the push times of days ago).
var policy = []string{"--keep-tag-revisions=3", "--keep-younger-than=0s"}

// Run plays the demo. It returns an error when any step's outcome is not the expected one.
func Run(ctx context.Context, o Options) (err error) {
	n := &narrator{w: o.Out}
	n.section("Starting a local control plane (kube-apiserver, etcd), a registry and pruneguard serve")
	started := time.Now()
	s, err := startStack(ctx, o.Logger)
	if s != nil {
		defer func() { err = errors.Join(err, s.stop()) }()
	}
	if err != nil {
		return err
	}
	n.ok("control plane, registry and serve up in %s; webhook registered from the chart with a self-signed certificate", time.Since(started).Round(time.Second))

	n.section("Seeding a small cluster: streams with tag histories, deployments, a pod, a build config")
	n.say("(the continuous pruner is paused while seeding: a push creates the Image before its stream")
	n.say(" item, and with --keep-younger-than=0s an Image that no item holds yet would be pruned at once)")
	cl, err := seed(ctx, s.env, time.Now())
	if err != nil {
		return err
	}
	n.say("shop/web:latest has 4 revisions; the oldest (%s) is used only by Deployment shop/legacy", short(cl.web[3].Digest))
	n.say("tools/web-mirror:stable holds the same image as revision 1 of shop/web:latest")
	if err := s.waitIndexed(ctx, cl); err != nil {
		return err
	}
	if err := s.letGo(ctx, cl); err != nil {
		return err
	}
	n.ok("seeded cluster indexed; the continuous pruner's first full round kept every seeded image")
	d := &driver{n: n, s: s, run: o.Run, cl: cl}
	for _, step := range []func(context.Context) error{d.refs, d.explainKept, d.scaleAway, d.confirmed, d.fenced, d.history, d.metrics} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	n.section("Summary")
	n.say("the oldest revision of shop/web was pruned %s after the pruner was let go,", d.pruneLatency.Round(100*time.Millisecond))
	n.say("with the same decision oc adm prune images makes, and a pod that asked for it was refused.")
	if o.Keep {
		d.keep(ctx)
	}
	return nil
}

// driver holds what the steps share.
type driver struct {
	n            *narrator
	s            *stack
	run          Command
	cl           *cluster
	pruneLatency time.Duration
}

// cli runs a pruneguard command, prints it and its output, and checks its exit code.
func (d *driver) cli(ctx context.Context, step string, wantCode int, args ...string) (string, error) {
	out, code := d.run(ctx, args)
	d.n.command(redact(args), out)
	if code != wantCode {
		return out, &CheckError{Step: step, Expect: fmt.Sprintf("exit code %d", wantCode), Got: fmt.Sprintf("exit code %d", code)}
	}
	return out, nil
}

// server returns the flags that reach the running serve's audit API.
func (d *driver) server() []string {
	return []string{"--server", d.s.apiURL, "--token", d.s.token, "--certificate-authority", d.s.caFile}
}

func (d *driver) refs(ctx context.Context) error {
	d.n.section("Who references the oldest web image? (answered from the live index)")
	out, err := d.cli(ctx, "refs", 0, append([]string{"refs", d.cl.web[3].Digest}, d.server()...)...)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "legacy") {
		return &CheckError{Step: "refs", Expect: "Deployment shop/legacy among the referrers", Got: out}
	}
	d.n.ok("Deployment shop/legacy references it")
	return nil
}

func (d *driver) explainKept(ctx context.Context) error {
	d.n.section("Why is it kept? explain names the rule and the referrer")
	args := append([]string{"explain", d.cl.web[3].Digest, "--kubeconfig", d.s.env.Kubeconfig}, policy...)
	out, err := d.cli(ctx, "explain", 0, args...)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "legacy") {
		return &CheckError{Step: "explain", Expect: "the explanation to name Deployment shop/legacy", Got: out}
	}
	d.n.ok("kept because Deployment shop/legacy uses it")
	return nil
}

// scaleAway removes the last user of the oldest image, with the continuous pruner paused, and
// shows with a dry run of the one-shot pruner that the image would now go.
func (d *driver) scaleAway(ctx context.Context) error {
	d.n.section("Deployment shop/legacy goes away; a dry run shows its image would be pruned")
	d.s.paused.Store(true)
	d.n.say("(the continuous pruner is paused for this step)")
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "legacy"}}
	d.n.say("$ kubectl -n shop delete deployment legacy")
	if err := d.s.env.Client.Delete(ctx, dep); err != nil {
		return err
	}
	args := append([]string{"prune", "images", "--kubeconfig", d.s.env.Kubeconfig}, policy...)
	out, err := d.cli(ctx, "dry run", 0, args...)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "Deleting image "+d.cl.web[3].Digest) {
		return &CheckError{Step: "dry run", Expect: "Deleting image " + short(d.cl.web[3].Digest), Got: out}
	}
	for _, kept := range []*testenv.Pushed{d.cl.web[0], d.cl.web[1], d.cl.web[2], d.cl.apiV2} {
		if strings.Contains(out, "Deleting image "+kept.Digest) {
			return &CheckError{Step: "dry run", Expect: "images in use or within 3 revisions to stay", Got: out}
		}
	}
	d.n.ok("the dry run deletes only the image nothing uses any more, as oc adm prune images would")
	return nil
}

// confirmed lets the continuous pruner go and waits for it to delete the image.
func (d *driver) confirmed(ctx context.Context) error {
	d.n.section("Confirmed: the continuous pruner removes it through the fence")
	c := d.s.env.Client
	start := time.Now()
	d.s.paused.Store(false)
	name := testenv.ImageObjectName(d.cl.web[3].Digest)
	err := waitUntil(ctx, time.Minute, "the image to be pruned", func() (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Name: name}, &imagev1.Image{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if err != nil {
		return &CheckError{Step: "continuous prune", Expect: "Image " + short(d.cl.web[3].Digest) + " deleted within a minute", Got: err.Error()}
	}
	d.pruneLatency = time.Since(start)
	served, err := d.s.env.Registry.ManifestExists(ctx, "shop/web", d.cl.web[3].Digest)
	if err != nil {
		return err
	}
	if served {
		return &CheckError{Step: "continuous prune", Expect: "the registry to stop serving the pruned manifest", Got: "still served"}
	}
	d.n.ok("Image and registry manifest deleted %s after the pruner was let go", d.pruneLatency.Round(100*time.Millisecond))
	for _, kept := range []*testenv.Pushed{d.cl.web[0], d.cl.web[1], d.cl.apiV2} {
		if err := c.Get(ctx, client.ObjectKey{Name: testenv.ImageObjectName(kept.Digest)}, &imagev1.Image{}); err != nil {
			return &CheckError{Step: "continuous prune", Expect: "images in use to stay", Got: fmt.Sprintf("%s: %v", short(kept.Digest), err)}
		}
	}
	d.n.ok("the images still in use are all there")
	return nil
}

// fenced tries to start a pod on the image just pruned: the fence's tombstone refuses it.
func (d *driver) fenced(ctx context.Context) error {
	d.n.section("A pod asks for the image just pruned: the webhook refuses it instead of ImagePullBackOff")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "late"}, Spec: podSpec(d.cl.web[3].PullSpec)}
	d.n.say("$ kubectl -n shop run late --image %s", d.cl.web[3].PullSpec)
	err := d.s.env.Client.Create(ctx, pod)
	if err == nil {
		return &CheckError{Step: "fence", Expect: "the pod to be denied", Got: "it was admitted"}
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), d.cl.web[3].Digest) {
		return &CheckError{Step: "fence", Expect: "a denial naming " + d.cl.web[3].Digest, Got: err.Error()}
	}
	d.n.say("  Error from server: %s", err)
	d.n.ok("denied, naming the image")
	return nil
}

func (d *driver) history(ctx context.Context) error {
	d.n.section("The audit trail of the pruned image")
	out, err := d.cli(ctx, "history", 0, append([]string{"history", d.cl.web[3].Digest}, d.server()...)...)
	if err != nil {
		return err
	}
	for _, action := range []string{"fenced", "deleted", "denied"} {
		if !strings.Contains(out, action) {
			return &CheckError{Step: "history", Expect: "a " + action + " record", Got: out}
		}
	}
	d.n.ok("the fence, the deletion and the refused pod are on record")
	return nil
}

func (d *driver) metrics(ctx context.Context) error {
	d.n.section("Metrics (Prometheus, protected by TokenReview and SubjectAccessReview)")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.s.apiURL+"/metrics", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.s.token)
	resp, err := d.s.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	d.n.say("$ curl -H 'Authorization: Bearer ...' %s/metrics | grep ^pruneguard_", d.s.apiURL)
	found := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "pruneguard_images_pruned_total") || strings.HasPrefix(line, "pruneguard_references ") ||
			strings.HasPrefix(line, "pruneguard_fences_active ") ||
			strings.HasPrefix(line, "pruneguard_admissions_denied_total") || strings.HasPrefix(line, "pruneguard_pending_references ") {
			d.n.say("  %s", line)
			found++
		}
	}
	if resp.StatusCode != http.StatusOK || found == 0 {
		return &CheckError{Step: "metrics", Expect: "pruneguard_ metrics", Got: fmt.Sprintf("status %d, %d metric lines", resp.StatusCode, found)}
	}
	d.n.ok("%d pruneguard metrics shown", found)
	return nil
}

// keep leaves the stack running and tells the user how to reach it.
func (d *driver) keep(ctx context.Context) {
	d.n.section("Still running (DEMO_KEEP=1); press Ctrl-C to stop")
	d.n.say("export KUBECONFIG=%s", d.s.env.Kubeconfig)
	d.n.say("pruneguard refs %s --server %s --token %s --certificate-authority %s", d.cl.web[0].Digest, d.s.apiURL, d.s.token, d.s.caFile)
	<-ctx.Done()
}

// redact shortens the token in printed command lines.
func redact(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && out[i-1] == "--token" && len(out[i]) > 12 {
			out[i] = out[i][:8] + "…"
		}
	}
	return out
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
