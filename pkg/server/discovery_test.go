package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/tracker"
)

// plainControlPlane starts a second API server without the OpenShift CRDs: a plain Kubernetes
// cluster, as pruneguard meets one before OpenShift's APIs are installed.
func plainControlPlane(t *testing.T) (*envtest.Environment, client.Client) {
	t.Helper()
	bin, err := testenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	ctl := &envtest.Environment{BinaryAssetsDirectory: bin, ControlPlaneStartTimeout: 3 * time.Minute, ControlPlaneStopTimeout: time.Minute}
	cfg, err := ctl.Start()
	if err != nil {
		t.Fatalf("failed to start a second control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := ctl.Stop(); err != nil {
			t.Errorf("failed to stop the second control plane: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	return ctl, c
}

func TestKindsServedAfterStartAreIndexed(t *testing.T) {
	ctl, c := plainControlPlane(t)
	ctx := context.Background()
	srv, _ := launch(t, server.Options{Config: ctl.Config, WebhookPort: -1, DiscoveryInterval: time.Second, SweepInterval: time.Second})
	waitFor(t, 2*time.Minute, "the index to be in sync without the OpenShift kinds", func() (bool, error) { return srv.Synced(), nil })

	crds, err := testenv.OpenShiftCRDs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtest.InstallCRDs(ctl.Config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		t.Fatalf("failed to install the OpenShift CRDs: %v", err)
	}
	const ns = "late"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	digest := digestOf("late")
	image := registryHost + "/" + ns + "/app@" + digest
	want := map[string]bool{}
	for _, f := range fixtures() {
		switch f.kind {
		case model.KindDeploymentConfig, model.KindBuild, model.KindBuildConfig, model.KindImageStream:
			if err := c.Create(ctx, f.build(ns, "late-"+strings.ToLower(f.kind), image)); err != nil {
				t.Fatalf("create %s: %v", f.kind, err)
			}
			want[f.kind] = true
		}
	}
	img := newImage("late")
	if err := c.Create(ctx, img); err != nil {
		t.Fatal(err)
	}

	waitFor(t, time.Minute, "the new kinds' objects in the index", func() (bool, error) {
		refs, err := srv.Index().ReferrersOfDigest(ctx, ns+"/app", digest)
		if err != nil {
			return false, err
		}
		got := map[string]bool{}
		for _, r := range refs {
			if !r.Pending {
				got[r.Object.Kind] = true
			}
		}
		for kind := range want {
			if !got[kind] {
				return false, nil
			}
		}
		_, haveImage, err := srv.Index().Image(ctx, digestOf("late"))
		return haveImage, err
	})
	disc, err := discovery.NewDiscoveryClientForConfig(ctl.Config)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := tracker.Verify(ctx, tracker.VerifyOptions{Client: c, Discovery: disc, Index: srv.Index(),
		ScratchDir: filepath.Join(t.TempDir(), "verify"), MaxLines: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 0 {
		t.Errorf("verify after the kinds appeared found differences:\n%s", joinLines(lines))
	}
}
