package pruner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/pruner"
	"github.com/pruneguard/pruneguard/tracker"
	"github.com/pruneguard/pruneguard/webhook"
)

// fenceEnv is one control plane shared by the fence tests: the chart's Fence CRD installed and
// the chart's webhook configuration registered (rendered by helm, clientConfig pointed at the
// in-process replica), started by the first test that needs it and stopped by TestMain.
var fenceEnv struct {
	once sync.Once
	env  *testenv.Env
	stop func() error
	err  error
	vwc  client.Object
}

const (
	probeNamespace = chart.DefaultNamespace
	replicaName    = "pruneguard-0"
	registryHost   = "image-registry.openshift-image-registry.svc:5000"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fenceEnv.stop != nil {
		if err := fenceEnv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the test environment:", err)
		}
	}
	os.Exit(code)
}

func moduleRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func startFenceEnv(t testing.TB) *testenv.Env {
	t.Helper()
	fenceEnv.once.Do(func() {
		ctx := context.Background()
		env, stop, err := testenv.Start(ctx, testenv.Options{
			CRDPaths: []string{filepath.Join(moduleRoot(t), "charts", "pruneguard", "crds")},
			Webhooks: &envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"},
		})
		if err != nil {
			fenceEnv.err = err
			return
		}
		fenceEnv.env, fenceEnv.stop = env, stop
		fenceEnv.err = registerWebhook(ctx, env)
		if fenceEnv.err == nil {
			fenceEnv.err = client.IgnoreAlreadyExists(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probeNamespace}}))
		}
	})
	if fenceEnv.err != nil {
		if errors.Is(fenceEnv.err, testenv.ErrToolMissing) && os.Getenv("CI") == "" {
			t.Skip(fenceEnv.err)
		}
		t.Fatal(fenceEnv.err)
	}
	return fenceEnv.env
}

// registerWebhook registers the chart's webhook configuration, pointed at the test replica.
func registerWebhook(ctx context.Context, env *testenv.Env) error {
	helm, err := testenv.Tool("helm")
	if err != nil {
		return err
	}
	vwc, err := chart.WebhookConfiguration(ctx, chart.Options{Helm: helm})
	if err != nil {
		return err
	}
	wio := env.Control.WebhookInstallOptions
	url := "https://" + net.JoinHostPort(wio.LocalServingHost, fmt.Sprint(wio.LocalServingPort))
	reg := chart.PointAt(vwc, url, wio.LocalServingCAData)
	fenceEnv.vwc = reg.DeepCopy()
	return env.Client.Create(ctx, reg)
}

// rig is one replica (webhook with the fence, tracker, index) and a fenced pruner.
type rig struct {
	env     *testenv.Env
	srv     *server.Server
	watcher *fence.Watcher
	client  client.Client // with the fence types
	pruner  *pruner.FencedPruner
	opts    pruner.FencedOptions
}

type rigOptions struct {
	noFence   bool // the webhook fences nothing (the gap test)
	tombstone time.Duration
	hook      func(pruner.Step) error
	// pruning, when set, makes the replica's server prune continuously as serve does.
	pruning *server.Pruning
	// leaseID, when set, makes the server run its leader's work under leader election
	// (Lease leaseID in probeNamespace), so that the Lease's pause switch is read.
	leaseID string
}

func newClient(t testing.TB, env *testenv.Env) client.Client {
	s := scheme.New()
	if err := fence.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	env := startFenceEnv(t)
	r := &rig{env: env, client: newClient(t, env)}
	var err error
	r.watcher, err = fence.NewWatcher(fence.WatcherOptions{Config: env.Config, Replica: replicaName})
	if err != nil {
		t.Fatal(err)
	}
	var f webhook.Fence = &fence.Checker{Source: r.watcher}
	if o.noFence {
		f = webhook.AllowAll{}
	}
	wio := env.Control.WebhookInstallOptions
	r.srv, err = server.New(server.Options{
		Config: env.Config, DataDir: t.TempDir(),
		WebhookHost: wio.LocalServingHost, WebhookPort: wio.LocalServingPort, CertDir: wio.LocalServingCertDir,
		MetricsBindAddress: server.Disabled, HealthProbeBindAddress: server.Disabled,
		Registry: prometheus.NewRegistry(), Fence: f, SweepInterval: time.Second, DiscoveryInterval: 5 * time.Second,
		Pruning: o.pruning, Identity: replicaName,
		LeaderElect: o.leaseID != "", LeaderElectionNamespace: probeNamespace, LeaderElectionID: o.leaseID,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = r.srv.Run(ctx) }()
	go func() { defer wg.Done(); _ = r.watcher.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitUntil(t, 2*time.Minute, "the replica to be in sync", func() bool { return r.srv.Synced() && r.watcher.Synced() })
	waitUntil(t, 30*time.Second, "the webhook to listen", func() bool {
		return testenv.Listening(net.JoinHostPort(wio.LocalServingHost, fmt.Sprint(wio.LocalServingPort)))
	})
	r.opts = r.fencedOptions(t, o)
	r.pruner = pruner.NewFencedPruner(r.opts)
	return r
}

func (r *rig) fencedOptions(t testing.TB, o rigOptions) pruner.FencedOptions {
	cfg := rest.CopyConfig(r.env.Config)
	cfg.QPS, cfg.Burst = 100, 200
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []pruner.BarrierKind
	for _, k := range tracker.Kinds() {
		if k.Name != model.KindImage && k.Name != model.KindLimitRange {
			kinds = append(kinds, pruner.BarrierKind{Kind: k.Name, GVK: k.GVK})
		}
	}
	ix := r.srv.Index()
	return pruner.FencedOptions{
		Client: r.client, Replicas: pruner.StaticReplicas{replicaName},
		Prober:  pruner.PodProbe{Client: r.client, Namespace: probeNamespace},
		Barrier: &pruner.WatchBarrier{Metadata: md, Mapper: r.env.Client.RESTMapper(), Index: ix, Kinds: kinds},
		Reader:  ix,
		Executor: &pruner.Executor{Workers: 2, Reader: ix, Deleters: pruner.Deleters{
			Streams: &pruner.ImageAPI{Client: r.env.Client}, Images: imageNamer{r.env.Client},
		}},
		Tombstone: o.tombstone, Hook: o.hook,
	}
}

// imageNamer deletes Images by the name the test environment gives them (sha256.HEX).
type imageNamer struct{ c client.Client }

func (d imageNamer) DeleteImage(ctx context.Context, digest string) error {
	img := &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: testenv.ImageObjectName(digest)}}
	if err := d.c.Delete(ctx, img, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seedDigest(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// createImage creates a managed Image object with one layer and a config blob.
func createImage(ctx context.Context, c client.Client, seed string) (string, error) {
	d := seedDigest(seed)
	img := &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: testenv.ImageObjectName(d), Annotations: map[string]string{testenv.ManagedAnnotation: "true"}},
		DockerImageReference:         registryHost + "/pool/app@" + d,
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		DockerImageLayers:            []imagev1.ImageLayer{{Name: seedDigest(seed + "-layer"), LayerSize: 1000, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"}},
	}
	return d, c.Create(ctx, img)
}

// fencedImageExists reports whether the Image object of digest exists.
func fencedImageExists(ctx context.Context, c client.Client, digest string) (bool, error) {
	err := c.Get(ctx, client.ObjectKey{Name: testenv.ImageObjectName(digest)}, &imagev1.Image{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// pullSpec is a reference by digest that protects the image (host, namespace, name).
func pullSpec(digest string) string { return registryHost + "/pool/app@" + digest }

// remainingFences lists the fences left in the cluster.
func remainingFences(t testing.TB, c client.Client) []string {
	var list fence.FenceList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range list.Items {
		names = append(names, f.Name+"("+string(f.CurrentPhase())+")")
	}
	return names
}

// liftAll removes every fence, so that one test's tombstones do not deny the next test.
func liftAll(t testing.TB, c client.Client) {
	if err := c.DeleteAllOf(context.Background(), &fence.Fence{}); err != nil {
		t.Fatal(err)
	}
}

type clientObject = client.Object

// fenceNamespace creates a namespace for one test.
func fenceNamespace(t testing.TB, r *rig, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := r.env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}
