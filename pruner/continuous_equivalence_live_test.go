package pruner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/internal/cli"
	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pkg/synth"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/pruner"
	"github.com/pruneguard/pruneguard/tracker"
)

// equivalencePolicy makes every kind of decision happen on a synth state replayed at its own
// now: items of the last 12 hours are kept as young, the first two of each tag as revisions,
// items referenced by digest or tag are kept, the rest go with their images.
var equivalencePolicy = []string{"--keep-tag-revisions=2", "--keep-younger-than=12h"}

// equivalenceImages is the size of each generated state: enough streams, shared layers,
// manifest lists and referrers for every rule, small enough to load in a couple of seconds.
const equivalenceImages = 60

// TestLiveContinuousEqualsOneShot is the randomised equivalence of issue 5 on real control
// planes. For each seed, a generated cluster state is loaded into two fresh API servers (the
// generator reuses namespace names, and Images are cluster-scoped, so a copy needs its own):
//
//  1. on copy A, `prune images --from-file` on a dump of the state prints the same plan
//     (-o json) as the live dry run, and then one `prune images --confirm` runs;
//  2. on copy B, serve prunes continuously: its first full round sees an empty cluster, the
//     pruner is paused while the state loads, then let go, so that passes decide every
//     candidate from the index's change feed;
//
// and at quiescence both copies hold the same Images and the same image stream status items.
// The API server stamps creation times at load, so the state is replayed 48 hours after the
// load (--now, the generator's now), where everything loaded is older than the 12h cutoff
// and the generated tag item times decide.
func TestLiveContinuousEqualsOneShot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two control planes per seed")
	}
	for _, seed := range []int64{11, 12, 13} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			now := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
			cl, err := synth.Generate(synth.Options{Images: equivalenceImages, Seed: seed, Now: now, NoInvalidRefs: true})
			if err != nil {
				t.Fatal(err)
			}
			oneShot := oneShotCopy(t, cl, now)
			continuous := continuousCopy(t, cl, now, oneShot)
			sameSet(t, "Images", continuous.images, oneShot.images)
			sameSet(t, "image stream items", continuous.items, oneShot.items)
			t.Logf("%d Images and %d stream items left by both", len(oneShot.images), len(oneShot.items))
		})
	}
}

// clusterState is what a prune leaves: Image digests and "ns/stream:tag#position@digest".
type clusterState struct {
	images, items []string
}

// oneShotCopy loads cl into a fresh API server, checks that the dump's plan equals the live
// dry run's, runs one confirmed prune and returns what is left.
func oneShotCopy(t *testing.T, cl *synth.Cluster, now time.Time) clusterState {
	t.Helper()
	ctx := context.Background()
	env, stop, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stop() }()
	stats, err := synth.Load(ctx, env.Client, cl, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copy A: loaded %d objects in %s", stats.Objects, stats.Duration.Round(time.Millisecond))
	dump := dumpCluster(t, env)
	checkDecisionsHappen(t, dump, now)
	base := append([]string{"prune", "images", "--now", now.Format(time.RFC3339)}, equivalencePolicy...)
	live := runPlan(t, append(base, "--kubeconfig", env.Kubeconfig, "-o", "json")...)
	offline := runPlan(t, append(base, "--from-file", dump, "-o", "json")...)
	if len(live.Images) == 0 || len(live.ImageStreamItems) == 0 || len(live.LayerLinks) == 0 {
		t.Fatalf("the live dry run prunes %+v; the test needs items, images and links", live.Summary)
	}
	sameSet(t, "imageStreamItems", offline.ImageStreamItems, live.ImageStreamItems)
	sameSet(t, "images", offline.Images, live.Images)
	sameSet(t, "layerLinks", offline.LayerLinks, live.LayerLinks)
	sameSet(t, "manifestLinks", offline.ManifestLinks, live.ManifestLinks)
	sameSet(t, "blobs", offline.Blobs, live.Blobs)
	if offline.Summary != live.Summary {
		t.Errorf("summary from the dump %+v, live %+v", offline.Summary, live.Summary)
	}
	confirm := runPlan(t, append(base, "--kubeconfig", env.Kubeconfig, "--confirm", "--prune-registry=false", "-o", "json")...)
	if len(confirm.Images) != len(live.Images) || len(confirm.ImageStreamItems) != len(live.ImageStreamItems) {
		t.Errorf("the confirmed prune deleted %+v, the dry run planned %+v", confirm.Summary, live.Summary)
	}
	return readState(t, env.Client)
}

// runPlan runs a pruneguard command line printing a JSON report and returns the report.
func runPlan(t *testing.T, args ...string) pruner.Report {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Main(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, args); code != 0 {
		t.Fatalf("pruneguard %s exited %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	var r pruner.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("pruneguard %s printed no JSON report (%v): %s", strings.Join(args, " "), err, out.String())
	}
	return r
}

// dumpCluster writes every object of the kinds pruneguard reads as one List, as
// `oc get pods,rc,...,images,limitranges -A -o json` prints it, and returns the file.
func dumpCluster(t *testing.T, env *testenv.Env) string {
	t.Helper()
	var items []client.Object
	for _, k := range tracker.Kinds() {
		list := k.NewList()
		if err := env.Client.List(context.Background(), list); err != nil {
			t.Fatalf("list %s: %v", k.Name, err)
		}
		objs, err := meta.ExtractList(list)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			obj := o.(client.Object)
			obj.GetObjectKind().SetGroupVersionKind(k.GVK)
			items = append(items, obj)
		}
	}
	data, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkDecisionsHappen fails unless the policy, on the dumped state, keeps items for each of
// the keep rules it is meant to exercise and deletes items and Images.
func checkDecisionsHappen(t *testing.T, dump string, now time.Time) {
	t.Helper()
	f, err := os.Open(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, closeFn, err := pruner.OpenDump(context.Background(), f, pruner.DumpOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closeFn() }()
	opts := pruner.NewOptions()
	revisions, younger := 2, 12*time.Hour
	opts.KeepTagRevisions, opts.KeepYoungerThan = &revisions, &younger
	rules := map[pruner.Rule]int{}
	pl := pruner.NewPlanner(r, opts.Policy(now))
	pl.SetTrace(func(r pruner.Reason) { rules[r.Rule]++ })
	if _, err := pl.Plan(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, rule := range []pruner.Rule{pruner.RuleItemYoung, pruner.RuleTagRevisions, pruner.RuleItemPrunable, pruner.RuleHeldByStream, pruner.RuleImageUnused} {
		if rules[rule] == 0 {
			t.Fatalf("no decision by rule %s on this state (%v): the policy does not exercise it", rule, rules)
		}
	}
}

func sameState(a, b clusterState) bool {
	return slices.Equal(sorted(a.images), sorted(b.images)) && slices.Equal(sorted(a.items), sorted(b.items))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// readState lists what is left: every Image and every status item of every image stream.
func readState(t *testing.T, c client.Client) clusterState {
	t.Helper()
	ctx := context.Background()
	var st clusterState
	var images imagev1.ImageList
	if err := c.List(ctx, &images); err != nil {
		t.Fatal(err)
	}
	for _, img := range images.Items {
		st.images = append(st.images, img.Name)
	}
	var streams imagev1.ImageStreamList
	if err := c.List(ctx, &streams); err != nil {
		t.Fatal(err)
	}
	for _, s := range streams.Items {
		for _, tag := range s.Status.Tags {
			for i, it := range tag.Items {
				st.items = append(st.items, fmt.Sprintf("%s/%s:%s#%d@%s", s.Namespace, s.Name, tag.Tag, i, it.Image))
			}
		}
	}
	return st
}

// continuousCopy loads cl into a fresh API server watched by serve with continuous pruning,
// as described on TestLiveContinuousEqualsOneShot, and returns what is left at quiescence
// (waiting a little longer for want, the one-shot's state).
func continuousCopy(t *testing.T, cl *synth.Cluster, now time.Time, want clusterState) clusterState {
	t.Helper()
	ctx := context.Background()
	env := startWebhookEnv(t)
	var paused atomic.Bool
	opts := pruner.NewOptions()
	revisions, younger := 2, 12*time.Hour
	opts.KeepTagRevisions, opts.KeepYoungerThan = &revisions, &younger
	opts.Confirm, opts.PruneRegistry = true, false
	srv := startServe(t, env, &server.Pruning{
		Options: opts, Namespace: probeNamespace, Now: func() time.Time { return now },
		Paused: func(context.Context) bool { return paused.Load() },
	})
	waitUntil(t, time.Minute, "the first full round", func() bool {
		c := srv.Continuous()
		return c != nil && c.Stats().Finished > 0
	})
	paused.Store(true)
	stats, err := synth.Load(ctx, env.Client, cl, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copy B: loaded %d objects in %s", stats.Objects, stats.Duration.Round(time.Millisecond))
	var last string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var ok bool
		if ok, last = indexHolds(t, env.Client, srv.Index()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index does not hold the loaded state after a minute: %s", last)
		}
	}
	start := time.Now()
	paused.Store(false)
	c := srv.Continuous()
	waitQuiet(t, c)
	st := c.Stats()
	if st.FullRounds != 1 || st.Images == 0 || st.Streams == 0 {
		t.Fatalf("stats %+v: want every candidate decided by passes after the one full round of the empty cluster", st)
	}
	t.Logf("copy B: quiet %s after the pruner was let go; %+v", time.Since(start).Round(10*time.Millisecond), st)
	// A late pass (a watch event slower than waitQuiet's second) may still be due: the state
	// must reach the one-shot's, and a state that went further never comes back.
	got := readState(t, env.Client)
	for deadline := time.Now().Add(20 * time.Second); !sameState(got, want) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		got = readState(t, env.Client)
	}
	plan, err := pruner.NewPlanner(c.Reader(), opts.Policy(now)).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := plan.Summary(); s != (pruner.Summary{}) {
		t.Errorf("at quiescence a full plan of the live index still deletes %+v: passes left candidates behind", s)
	}
	return got
}

// indexHolds reports whether idx holds every Image, image stream item and referrer of the
// API server, and the counts it compared.
func indexHolds(t *testing.T, c client.Client, idx model.Reader) (bool, string) {
	t.Helper()
	api := readState(t, c)
	ctx := context.Background()
	images, items, objects := 0, 0, 0
	if err := idx.Images(ctx, func(model.Image) error { images++; return nil }); err != nil {
		t.Fatal(err)
	}
	err := idx.Streams(ctx, "", func(s model.Stream) error {
		for _, tag := range s.Tags {
			items += len(tag.Items)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Objects(ctx, func(model.Object) error { objects++; return nil }); err != nil {
		t.Fatal(err)
	}
	referrers := 0
	for _, k := range tracker.Kinds() {
		if k.Name == model.KindImage || k.Name == model.KindLimitRange { // image streams refer through spec.tags
			continue
		}
		list := k.NewList()
		if err := c.List(ctx, list); err != nil {
			t.Fatal(err)
		}
		referrers += meta.LenList(list)
	}
	counts := fmt.Sprintf("index/API: %d/%d Images, %d/%d stream items, %d/%d referrers",
		images, len(api.images), items, len(api.items), objects, referrers)
	return images == len(api.images) && items == len(api.items) && objects == referrers, counts
}

// startWebhookEnv starts a control plane of its own with the chart's Fence CRD and webhook
// configuration registered (pointed at envtest's local serving address) and pruneguard's
// namespace, as the shared fence environment does.
func startWebhookEnv(t *testing.T) *testenv.Env {
	t.Helper()
	ctx := context.Background()
	env, stop, err := testenv.Start(ctx, testenv.Options{
		CRDPaths: []string{filepath.Join(moduleRoot(t), "charts", "pruneguard", "crds")},
		Webhooks: &envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	helm, err := testenv.Tool("helm")
	if err != nil {
		t.Fatal(err)
	}
	vwc, err := chart.WebhookConfiguration(ctx, chart.Options{Helm: helm})
	if err != nil {
		t.Fatal(err)
	}
	wio := env.Control.WebhookInstallOptions
	url := "https://" + net.JoinHostPort(wio.LocalServingHost, fmt.Sprint(wio.LocalServingPort))
	if err := env.Client.Create(ctx, chart.PointAt(vwc, url, wio.LocalServingCAData)); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probeNamespace}}); err != nil {
		t.Fatal(err)
	}
	return env
}

// startServe runs one replica of serve (webhook with the fence, tracker, Badger index and,
// with pruning, the continuous pruner) against env until the test ends.
func startServe(t *testing.T, env *testenv.Env, pruning *server.Pruning) *server.Server {
	t.Helper()
	w, err := fence.NewWatcher(fence.WatcherOptions{Config: env.Config, Replica: replicaName})
	if err != nil {
		t.Fatal(err)
	}
	wio := env.Control.WebhookInstallOptions
	srv, err := server.New(server.Options{
		Config: env.Config, DataDir: t.TempDir(),
		WebhookHost: wio.LocalServingHost, WebhookPort: wio.LocalServingPort, CertDir: wio.LocalServingCertDir,
		MetricsBindAddress: server.Disabled, HealthProbeBindAddress: server.Disabled,
		Registry: prometheus.NewRegistry(), Fence: &fence.Checker{Source: w}, Fences: w,
		Pruning: pruning, Identity: replicaName,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }() // runs the fence watcher too (Fences)
	t.Cleanup(func() { cancel(); <-done })
	waitUntil(t, 2*time.Minute, "serve to be in sync", func() bool { return srv.Synced() && w.Synced() })
	return srv
}
