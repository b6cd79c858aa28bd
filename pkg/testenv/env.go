package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/pruneguard/pruneguard/pkg/scheme"
)

// Options select what Start brings up beyond the API server and the OpenShift CRDs.
type Options struct {
	// Registry starts a distribution registry on loopback.
	Registry bool
	// CertManagerCRDs installs cert-manager's CRDs from bin/crds/cert-manager (`make tools`).
	CertManagerCRDs bool
	// CRDPaths are further CRD files or directories to install, such as the chart's crds/.
	CRDPaths []string
	// Webhooks, when set, makes envtest serve certificates for and register these webhook
	// configurations; see envtest.WebhookInstallOptions.
	Webhooks *envtest.WebhookInstallOptions
	// Output, when set, receives the API server's and etcd's logs.
	Output bool
}

// Env is a running test environment.
type Env struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Client is a controller-runtime client with every pruneguard type registered.
	Client client.Client
	// Scheme is the scheme of Client.
	Scheme *runtime.Scheme
	// Kubeconfig is the path of a kubeconfig file for the admin user, for kubectl or a child
	// process.
	Kubeconfig string
	// Registry is the running registry, or nil when Options.Registry was false.
	Registry *Registry
	// Control is the underlying envtest environment.
	Control *envtest.Environment

	dir string
}

// Start brings up the environment described by opts. The returned stop function stops every
// process Start started and removes their files; it is safe to call more than once. On error,
// whatever was started is stopped before Start returns.
func Start(ctx context.Context, opts Options) (env *Env, stop func() error, err error) {
	bin, err := BinDir()
	if err != nil {
		return nil, nil, err
	}
	for _, tool := range []string{"kube-apiserver", "etcd"} {
		if _, err := Tool(tool); err != nil {
			return nil, nil, err
		}
	}
	crds, err := OpenShiftCRDs()
	if err != nil {
		return nil, nil, err
	}
	paths := append([]string(nil), opts.CRDPaths...)
	if opts.CertManagerCRDs {
		dir := filepath.Join(bin, "crds", "cert-manager")
		if _, err := os.Stat(dir); err != nil {
			return nil, nil, fmt.Errorf("cert-manager CRDs not found in %s: %w", dir, ErrToolMissing)
		}
		paths = append(paths, dir)
	}
	// controller-runtime warns on stderr when its global logger is never set; the test
	// environment's own logs are not interesting, so give it a discarding one.
	ctrllog.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "pruneguard-testenv-")
	if err != nil {
		return nil, nil, err
	}
	env = &Env{Scheme: scheme.New(), dir: dir}
	env.Control = &envtest.Environment{
		BinaryAssetsDirectory:    bin,
		Scheme:                   env.Scheme,
		CRDs:                     crds,
		CRDDirectoryPaths:        paths,
		ErrorIfCRDPathMissing:    true,
		AttachControlPlaneOutput: opts.Output,
		// A loaded 2-core machine needs far longer than envtest's default 20 s to start a
		// kube-apiserver; a generous bound costs nothing when it starts fast.
		ControlPlaneStartTimeout: 3 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	if opts.Webhooks != nil {
		env.Control.WebhookInstallOptions = *opts.Webhooks
	}
	stop = env.stopFunc()
	if err := env.start(ctx, opts); err != nil {
		return nil, nil, errors.Join(err, stop())
	}
	return env, stop, nil
}

// StartT is Start for a test: it fails the test on error and stops everything on cleanup.
func StartT(t testing.TB, opts Options) *Env {
	t.Helper()
	env, stop, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("failed to start the test environment: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("failed to stop the test environment: %v", err)
		}
	})
	return env
}

func (e *Env) start(ctx context.Context, opts Options) error {
	cfg, err := e.Control.Start()
	if err != nil {
		return fmt.Errorf("failed to start kube-apiserver and etcd: %w", err)
	}
	e.Config = cfg
	if e.Client, err = client.New(cfg, client.Options{Scheme: e.Scheme}); err != nil {
		return fmt.Errorf("failed to create a client: %w", err)
	}
	if e.Kubeconfig, err = e.writeKubeconfig(); err != nil {
		return err
	}
	if opts.Registry {
		if e.Registry, err = StartRegistry(ctx, filepath.Join(e.dir, "registry")); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) writeKubeconfig() (string, error) {
	user, err := e.Control.AddUser(envtest.User{Name: "pruneguard-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("failed to provision an admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("failed to build a kubeconfig: %w", err)
	}
	path := filepath.Join(e.dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

func (e *Env) stopFunc() func() error {
	stopped := false
	return func() error {
		if stopped {
			return nil
		}
		stopped = true
		var errs []error
		if e.Registry != nil {
			errs = append(errs, e.Registry.Stop())
		}
		// envtest stops whatever part of the control plane it managed to start.
		errs = append(errs, e.Control.Stop())
		errs = append(errs, os.RemoveAll(e.dir))
		return errors.Join(errs...)
	}
}
