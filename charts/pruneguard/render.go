package chart

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// DefaultKubeVersion is the Kubernetes version charts are rendered for when Options.KubeVersion
// is empty: the version of the test control plane (KUBE_VERSION in the Makefile). helm template
// otherwise assumes an old default that the chart's kubeVersion constraint refuses.
const DefaultKubeVersion = "1.37.2"

// Default release name and namespace of Options.
const (
	DefaultReleaseName = "pruneguard"
	DefaultNamespace   = "pruneguard"
)

// Options say how to render or lint the chart.
type Options struct {
	// Helm is the path of the helm binary (testenv.Tool("helm") in tests). Required.
	Helm string
	// ReleaseName defaults to DefaultReleaseName.
	ReleaseName string
	// Namespace is the release namespace; it defaults to DefaultNamespace. The webhook
	// configuration excludes it, so tests that exercise the webhook must install elsewhere.
	Namespace string
	// Values are merged over values.yaml, as `helm -f` would.
	Values map[string]any
	// APIVersions are extra API versions the cluster is assumed to serve, for example
	// "security.openshift.io/v1" to render for OpenShift.
	APIVersions []string
	// KubeVersion defaults to DefaultKubeVersion.
	KubeVersion string
}

func (o Options) withDefaults() (Options, error) {
	if o.Helm == "" {
		return o, errors.New("chart options: Helm (the path of the helm binary) is required")
	}
	if o.ReleaseName == "" {
		o.ReleaseName = DefaultReleaseName
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.KubeVersion == "" {
		o.KubeVersion = DefaultKubeVersion
	}
	return o, nil
}

// Render runs `helm template` on the embedded chart and returns every rendered object, the
// CRDs of crds/ included, in helm's order. A document with a duplicated key or that is not an
// object is an error: both are template bugs that the API server would otherwise hide.
func Render(ctx context.Context, o Options) ([]*unstructured.Unstructured, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	args := []string{"template", o.ReleaseName, "", "--namespace", o.Namespace,
		"--kube-version", o.KubeVersion, "--include-crds"}
	for _, v := range o.APIVersions {
		args = append(args, "--api-versions", v)
	}
	out, err := run(ctx, o, args)
	if err != nil {
		return nil, err
	}
	return decode(out)
}

// Lint runs `helm lint --strict` on the embedded chart with o's values and returns helm's
// output; the error includes the output when the chart fails.
func Lint(ctx context.Context, o Options) (string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return "", err
	}
	args := []string{"lint", "", "--strict", "--namespace", o.Namespace, "--kube-version", o.KubeVersion}
	out, err := run(ctx, o, args)
	return string(out), err
}

// run writes the chart and o.Values to a temporary directory and runs helm with args, whose
// empty element is replaced by the chart directory.
func run(ctx context.Context, o Options, args []string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "pruneguard-chart-")
	if err != nil {
		return nil, fmt.Errorf("failed to create a directory for the chart: %w", err)
	}
	defer os.RemoveAll(dir)
	chartDir := filepath.Join(dir, "pruneguard")
	if err := os.Mkdir(chartDir, 0o755); err != nil {
		return nil, fmt.Errorf("failed to create %s: %w", chartDir, err)
	}
	if err := Write(chartDir); err != nil {
		return nil, err
	}
	for i, a := range args {
		if a == "" {
			args[i] = chartDir
		}
	}
	if o.Values != nil {
		data, err := yaml.Marshal(o.Values)
		if err != nil {
			return nil, fmt.Errorf("failed to encode chart values: %w", err)
		}
		valuesFile := filepath.Join(dir, "values.yaml")
		if err := os.WriteFile(valuesFile, data, 0o644); err != nil {
			return nil, fmt.Errorf("failed to write chart values: %w", err)
		}
		args = append(args, "--values", valuesFile)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, o.Helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// helm reads its own configuration from the environment; keep it out of the user's.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s failed: %w\n%s%s", args[0], err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

func decode(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("failed to split rendered document %d: %w", i, err)
		}
		var obj map[string]any
		if err := yaml.UnmarshalStrict(doc, &obj); err != nil {
			return nil, fmt.Errorf("rendered document %d is not valid YAML: %w\n%s", i, err, doc)
		}
		if len(obj) == 0 {
			continue // only comments, or a template that rendered nothing
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("rendered document %d has no apiVersion or kind:\n%s", i, doc)
		}
		objs = append(objs, u)
	}
}
