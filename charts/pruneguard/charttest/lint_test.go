package charttest

import (
	"context"
	"strings"
	"testing"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
)

func TestHelmLintStrictPassesForEveryDocumentedValueSet(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			out, err := chart.Lint(context.Background(), options(t, v))
			if err != nil {
				t.Fatalf("helm lint --strict failed: %v", err)
			}
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Errorf("helm lint did not report a clean lint:\n%s", out)
			}
		})
	}
}

// The schema and the chart's own checks turn mistakes into install errors instead of objects
// that silently do something else.
func TestInvalidValuesAreRefusedAtRenderTime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values m
		want   string
	}{
		{"a misspelt top-level key is refused", m{"replicas": 3}, "replicas"},
		{"a misspelt nested key is refused", m{"webhook": m{"failurePolicyy": "Fail"}}, "failurePolicyy"},
		{"a failurePolicy other than Ignore or Fail is refused", m{"webhook": m{"failurePolicy": "ignore"}}, "failurePolicy"},
		{"a webhook timeout above the API server's 30 s is refused", m{"webhook": m{"timeoutSeconds": 31}}, "timeoutSeconds"},
		{"an unknown pruning mode is refused", m{"pruning": m{"mode": "nightly"}}, "mode"},
		{"an unknown storage type is refused", m{"storage": m{"type": "hostPath"}}, "type"},
		{"a keep-younger-than that is not a duration is refused", m{"pruning": m{"keepYoungerThan": "an hour"}}, "keepYoungerThan"},
		{"a CA bundle together with force-insecure is refused, as oc refuses it",
			m{"pruning": m{"caBundle": testCA, "forceInsecure": true}}, "exclude each other"},
		{"a CA bundle with an http:// registry URL is refused",
			m{"pruning": m{"caBundle": testCA, "registryURL": "http://registry:5000"}}, "http://"},
		{"the prune job may not share the serve ServiceAccount",
			m{"pruning": m{"mode": "cronjob", "cronJob": m{"serviceAccountName": fullname}}}, "must differ"},
		{"a lease duration that is not a duration is refused", m{"leaderElection": m{"leaseDuration": "15 seconds"}}, "leaseDuration"},
		{"a record cache size that is not a quantity is refused", m{"index": m{"recordCacheSize": "32 MB"}}, "recordCacheSize"},
		{"an issuerRef without a name is refused", m{"certManager": m{"issuerRef": m{"kind": "ClusterIssuer"}}}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chart.Render(context.Background(), options(t, variant{values: tc.values}))
			if err == nil {
				t.Fatalf("helm template accepted %v", tc.values)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the error does not mention %q:\n%v", tc.want, err)
			}
		})
	}
}
