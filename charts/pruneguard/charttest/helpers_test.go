package charttest

import (
	"context"
	"errors"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// The release every test renders: the chart's full name is then "pg-pruneguard".
const (
	releaseName = "pg"
	namespace   = "pg-system"
	fullname    = "pg-pruneguard"
)

type m = map[string]any

// variant is one documented value set (README.md, "Tests").
type variant struct {
	name        string
	values      m
	apiVersions []string
}

// testCA is a syntactically valid PEM block; the chart only stores it in a ConfigMap.
const testCA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=\n-----END CERTIFICATE-----\n"

// variants are the value sets the chart documents and the tests lint, render and dry-run.
var variants = []variant{
	{name: "default values: cert-manager, continuous pruning, a PVC per replica, two replicas"},
	{name: "cert-manager off: pruneguard manages its own certificate",
		values: m{"certManager": m{"enabled": false}}},
	{name: "cert-manager with a user ClusterIssuer",
		values: m{"certManager": m{"issuerRef": m{"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}}}},
	cronJobVariant,
	{name: "pruning off: index, audit API and webhook only",
		values: m{"pruning": m{"mode": "off"}}},
	{name: "emptyDir storage: a Deployment that rebuilds its index on start",
		values: m{"storage": m{"type": "emptyDir", "emptyDir": m{"medium": "Memory", "sizeLimit": "1Gi"}}}},
	{name: "HA: three replicas, strict spread, failurePolicy Fail",
		values: m{"replicaCount": 3, "topologySpread": m{"whenUnsatisfiable": "DoNotSchedule"},
			"webhook":        m{"failurePolicy": "Fail", "timeoutSeconds": 3},
			"leaderElection": m{"leaseDuration": "30s", "renewDeadline": "20s", "retryPeriod": "4s"},
			"index":          m{"recordCacheSize": "64Mi"}}},
	{name: "a single replica renders no PodDisruptionBudget",
		values: m{"replicaCount": 1}},
	everythingVariant,
	{name: "OpenShift: user and group IDs left to the restricted SCC",
		apiVersions: []string{"security.openshift.io/v1"}},
	overSizeVariant,
}

var cronJobVariant = variant{name: "cronjob mode: the nightly prune job",
	values: m{"pruning": m{"mode": "cronjob", "cronJob": m{"timeZone": "Europe/Paris"}}}}

var everythingVariant = variant{name: "every optional feature on", values: m{
	"image":            m{"digest": "sha256:" + sixtyFourHex},
	"imagePullSecrets": []any{m{"name": "pull"}},
	"podAnnotations":   m{"example.com/team": "platform"},
	"podLabels":        m{"example.com/tier": "infra"},
	"nodeSelector":     m{"node-role.kubernetes.io/infra": ""},
	"tolerations":      []any{m{"key": "node-role.kubernetes.io/infra", "operator": "Exists", "effect": "NoSchedule"}},
	"extraArgs":        []any{"--verbosity=1"},
	"extraEnv":         []any{m{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}},
	"serviceAccount":   m{"annotations": m{"example.com/owner": "platform"}},
	"webhook": m{
		"excludedNamespaces": []any{"monitoring"},
		"namespaceSelector":  m{"matchExpressions": []any{m{"key": "pruneguard.io/ignore", "operator": "DoesNotExist"}}},
		"objectSelector":     m{"matchLabels": m{"example.com/tracked": "true"}},
		"matchConditions":    []any{m{"name": "skip-ci-robot", "expression": "request.userInfo.username != 'system:serviceaccount:ci:robot'"}},
		"annotations":        m{"example.com/owner": "platform"},
	},
	"pruning":        m{"registryURL": "https://image-registry.openshift-image-registry.svc:5000", "caBundle": testCA},
	"serviceMonitor": m{"enabled": true, "labels": m{"release": "kube-prometheus-stack"}},
	"networkPolicy": m{"enabled": true, "apiFrom": []any{
		m{"namespaceSelector": m{"matchLabels": m{"kubernetes.io/metadata.name": "monitoring"}}}}},
	"grafanaDashboard": m{"enabled": true, "annotations": m{"grafana_folder": "Platform"}},
}}

var overSizeVariant = variant{name: "over-size pruning of one namespace, as a dry run, in cronjob mode", values: m{"pruning": m{
	"mode": "cronjob", "confirm": false, "pruneOverSizeLimit": true, "namespace": "team-a",
	"all": false, "pruneRegistry": false, "ignoreInvalidRefs": true, "numWorkers": 2}}}

const sixtyFourHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// requireTool returns the path of a pinned tool from ./bin. A missing tool skips the test with
// the command that builds it, unless CI is set, where it fails the test.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := testenv.Tool(name)
	if err == nil {
		return path
	}
	missing(t, err)
	return ""
}

// missing skips the test for a missing prerequisite outside CI and fails it in CI.
func missing(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and a prerequisite is missing: %v", err)
	}
	if errors.Is(err, testenv.ErrToolMissing) {
		t.Skipf("skipping: %v (run `make tools`; with CI set this fails instead)", err)
	}
	t.Skipf("skipping: %v (with CI set this fails instead)", err)
}

func options(t *testing.T, v variant) chart.Options {
	return chart.Options{
		Helm:        requireTool(t, "helm"),
		ReleaseName: releaseName,
		Namespace:   namespace,
		Values:      v.values,
		APIVersions: v.apiVersions,
	}
}

func render(t *testing.T, v variant) []*unstructured.Unstructured {
	t.Helper()
	objs, err := chart.Render(context.Background(), options(t, v))
	if err != nil {
		t.Fatalf("failed to render the chart for %q: %v", v.name, err)
	}
	return objs
}

// find returns the rendered object of this kind and name, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// mustFind is find that fails the test when the object is missing.
func mustFind(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		t.Fatalf("the chart rendered no %s %q", kind, name)
	}
	return o
}

// valueOr reads a dotted path from a variant's values, or returns def when unset.
func valueOr(v variant, def any, path ...string) any {
	cur := any(v.values)
	for _, p := range path {
		mp, ok := cur.(m)
		if !ok {
			return def
		}
		if cur, ok = mp[p]; !ok {
			return def
		}
	}
	return cur
}

func mode(v variant) string      { return valueOr(v, "continuous", "pruning", "mode").(string) }
func certManager(v variant) bool { return valueOr(v, true, "certManager", "enabled").(bool) }
func replicas(v variant) int     { return valueOr(v, 2, "replicaCount").(int) }
func emptyDirStorage(v variant) bool {
	return valueOr(v, "pvc", "storage", "type").(string) == "emptyDir"
}
