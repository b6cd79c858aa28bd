package charttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// serviceMonitorCRD is where `make tools` puts the Prometheus Operator's ServiceMonitor CRD.
const serviceMonitorCRD = "crds/prometheus-operator/monitoring.coreos.com_servicemonitors.yaml"

// warnings collects the API server's warnings (deprecated fields, Pod Security violations).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// apiServer is a running test API server with the chart's CRDs, cert-manager's and (when built)
// the ServiceMonitor CRD installed, a client that records warnings, and the release namespace
// labelled to warn about anything the restricted Pod Security Standard forbids.
type apiServer struct {
	client     client.Client
	kubeconfig string
	warnings   *warnings
	// serviceMonitorErr is why the ServiceMonitor CRD is not installed, or nil.
	serviceMonitorErr error
}

// shared is the one API server of this package's tests, started by the first test that needs
// it and stopped by TestMain: starting kube-apiserver and etcd costs seconds on two cores.
var shared struct {
	once sync.Once
	s    *apiServer
	stop func() error
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the test environment:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// startAPIServer returns the shared API server, skipping (or, in CI, failing) the test when a
// tool it needs has not been built.
func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	requireTool(t, "helm")
	requireTool(t, "kube-apiserver")
	requireTool(t, "etcd")
	bin, err := testenv.BinDir()
	if err != nil {
		missing(t, err)
	}
	if _, err := os.Stat(filepath.Join(bin, "crds", "cert-manager")); err != nil {
		missing(t, fmt.Errorf("cert-manager CRDs: %w", testenv.ErrToolMissing))
	}
	shared.once.Do(func() { shared.s, shared.stop, shared.err = newAPIServer(bin) })
	if shared.err != nil {
		t.Fatalf("failed to start the test API server: %v", shared.err)
	}
	return shared.s
}

func newAPIServer(bin string) (*apiServer, func() error, error) {
	s := &apiServer{warnings: &warnings{}}
	paths := []string{filepath.Join("..", "crds")}
	if sm := filepath.Join(bin, serviceMonitorCRD); fileExists(sm) {
		paths = append(paths, sm)
	} else {
		s.serviceMonitorErr = fmt.Errorf("%s not found in %s: %w", serviceMonitorCRD, bin, testenv.ErrToolMissing)
	}
	ctx := context.Background()
	env, stop, err := testenv.Start(ctx, testenv.Options{CertManagerCRDs: true, CRDPaths: paths})
	if err != nil {
		return nil, nil, err
	}
	s.kubeconfig = env.Kubeconfig
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = s.warnings
	if s.client, err = client.New(cfg, client.Options{Scheme: env.Scheme}); err != nil {
		return nil, stop, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest",
	}}}
	if err := s.client.Create(ctx, ns); err != nil {
		return nil, stop, fmt.Errorf("failed to create namespace %s: %w", namespace, err)
	}
	return s, stop, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// dryRun creates obj with a server-side dry run and strict field validation, so an unknown or
// misplaced field, a wrong apiVersion, an invalid value or a Pod Security violation fails.
func (s *apiServer) dryRun(ctx context.Context, obj *unstructured.Unstructured) error {
	s.warnings.take()
	err := s.client.Create(ctx, obj.DeepCopy(), client.DryRunAll, client.FieldValidation("Strict"))
	if err != nil {
		return err
	}
	if w := s.warnings.take(); len(w) > 0 {
		return fmt.Errorf("accepted with warnings: %s", strings.Join(w, "; "))
	}
	return nil
}

func TestRenderedObjectsAreAcceptedByARealAPIServer(t *testing.T) {
	s := startAPIServer(t)
	ctx := context.Background()

	t.Run("a misspelt field is refused, so the check can fail", func(t *testing.T) {
		dep := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "typo", "namespace": namespace},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "typo"}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "typo"}},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "c", "image": "registry.example/ns/app:1", "imagePullPolcy": "Always"}}},
				},
			},
		}}
		if err := s.dryRun(ctx, dep); err == nil || !strings.Contains(err.Error(), "imagePullPolcy") {
			t.Fatalf("a Deployment with a misspelt field was not refused: %v", err)
		}
	})

	t.Run("a pod template the restricted standard forbids is refused, so the check can fail", func(t *testing.T) {
		dep := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "root", "namespace": namespace},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "root"}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "root"}},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "c", "image": "registry.example/ns/app:1"}}},
				},
			},
		}}
		if err := s.dryRun(ctx, dep); err == nil || !strings.Contains(err.Error(), "restricted") {
			t.Fatalf("a Deployment violating the restricted standard was not refused: %v", err)
		}
	})

	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			for _, obj := range render(t, v) {
				what := obj.GetKind() + " " + obj.GetName()
				switch obj.GetKind() {
				case "CustomResourceDefinition":
					s.checkInstalled(t, obj)
					continue
				case "ServiceMonitor":
					if s.serviceMonitorErr != nil {
						t.Run(what, func(t *testing.T) { missing(t, s.serviceMonitorErr) })
						continue
					}
				}
				if err := s.dryRun(ctx, obj); err != nil {
					t.Errorf("%s: %v", what, err)
				}
			}
		})
	}
}

// checkInstalled verifies that a CRD of crds/ is the one the API server established.
func (s *apiServer) checkInstalled(t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := s.client.Get(context.Background(), client.ObjectKey{Name: obj.GetName()}, &crd); err != nil {
		t.Errorf("CRD %s from crds/ is not installed: %v", obj.GetName(), err)
		return
	}
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return
		}
	}
	t.Errorf("CRD %s is not established: %+v", obj.GetName(), crd.Status.Conditions)
}
