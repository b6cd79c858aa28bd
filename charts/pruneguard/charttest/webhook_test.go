package charttest

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
)

func webhookConfiguration(t *testing.T, v variant) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	vwc, err := chart.WebhookConfiguration(context.Background(), options(t, v))
	if err != nil {
		t.Fatalf("failed to render the webhook configuration: %v", err)
	}
	if len(vwc.Webhooks) != 1 {
		t.Fatalf("want one webhook, got %d", len(vwc.Webhooks))
	}
	return vwc
}

func TestWebhookRulesAndPathAreTheEmbeddedFileInEveryVariant(t *testing.T) {
	spec, err := chart.Webhook()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			wh := webhookConfiguration(t, v).Webhooks[0]
			if !reflect.DeepEqual(wh.Rules, spec.Rules) {
				t.Errorf("rendered rules differ from files/webhook-rules.yaml:\n got %+v\nwant %+v", wh.Rules, spec.Rules)
			}
			svc := wh.ClientConfig.Service
			if svc == nil || svc.Path == nil || *svc.Path != spec.Path || svc.Name != fullname || svc.Namespace != namespace {
				t.Errorf("clientConfig.service = %+v, want %s/%s path %s", svc, namespace, fullname, spec.Path)
			}
		})
	}
}

// Every referrer kind of DESIGN.md, plus the image API the fence guards, on CREATE and UPDATE.
func TestWebhookRulesCoverEveryReferrerKindAndTheImageAPI(t *testing.T) {
	spec, err := chart.Webhook()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, r := range spec.Rules {
		if !slices.Contains(r.Operations, admissionregistrationv1.Create) || !slices.Contains(r.Operations, admissionregistrationv1.Update) {
			t.Errorf("rule %v does not match both CREATE and UPDATE", r.Resources)
		}
		if slices.Contains(r.Operations, admissionregistrationv1.Delete) {
			t.Errorf("rule %v matches DELETE, which the webhook never needs", r.Resources)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				covered[g+"/"+res] = true
			}
		}
	}
	for _, want := range []string{
		"/pods", "/pods/ephemeralcontainers", "/replicationcontrollers",
		"apps/replicasets", "apps/deployments", "apps/statefulsets", "apps/daemonsets",
		"batch/jobs", "batch/cronjobs", "apps.openshift.io/deploymentconfigs",
		"build.openshift.io/builds", "build.openshift.io/buildconfigs",
		"image.openshift.io/imagestreams", "image.openshift.io/imagestreams/status",
		"image.openshift.io/imagestreamtags", "image.openshift.io/imagestreammappings",
		"image.openshift.io/images",
	} {
		if !covered[want] {
			t.Errorf("no rule matches %s", want)
		}
	}
	if len(covered) != 17 {
		t.Errorf("rules match %d resources, want exactly the 17 listed: %v", len(covered), covered)
	}
}

func TestWebhookSettingsFollowTheValues(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			vwc := webhookConfiguration(t, v)
			wh := vwc.Webhooks[0]
			if got, want := string(*wh.FailurePolicy), valueOr(v, "Ignore", "webhook", "failurePolicy"); got != want {
				t.Errorf("failurePolicy = %s, want %s", got, want)
			}
			if got, want := int(*wh.TimeoutSeconds), valueOr(v, 5, "webhook", "timeoutSeconds"); got != want {
				t.Errorf("timeoutSeconds = %d, want %d", got, want)
			}
			if *wh.SideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun {
				t.Errorf("sideEffects = %s, want NoneOnDryRun", *wh.SideEffects)
			}
			if !reflect.DeepEqual(wh.AdmissionReviewVersions, []string{"v1"}) {
				t.Errorf("admissionReviewVersions = %v, want [v1]", wh.AdmissionReviewVersions)
			}
			inject, ok := vwc.Annotations["cert-manager.io/inject-ca-from"]
			if certManager(v) != ok || (ok && inject != namespace+"/"+fullname+"-webhook") {
				t.Errorf("cert-manager.io/inject-ca-from = %q (present %v), want %s/%s-webhook exactly when cert-manager is enabled",
					inject, ok, namespace, fullname)
			}
		})
	}
}

func TestKubeSystemAndExtraNamespacesAreExcludedBySelector(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			sel := webhookConfiguration(t, v).Webhooks[0].NamespaceSelector
			want := []string{"kube-system"}
			for _, ns := range valueOr(v, []any{}, "webhook", "excludedNamespaces").([]any) {
				want = append(want, ns.(string))
			}
			if sel == nil || len(sel.MatchExpressions) == 0 {
				t.Fatalf("no namespaceSelector expressions: %+v", sel)
			}
			first := sel.MatchExpressions[0]
			if first.Key != "kubernetes.io/metadata.name" || first.Operator != "NotIn" || !reflect.DeepEqual(first.Values, want) {
				t.Errorf("first namespaceSelector expression = %+v, want kubernetes.io/metadata.name NotIn %v", first, want)
			}
			userExprs := valueOr(v, []any{}, "webhook", "namespaceSelector", "matchExpressions").([]any)
			if len(sel.MatchExpressions) != 1+len(userExprs) {
				t.Errorf("namespaceSelector has %d expressions, want the exclusion plus %d of the values", len(sel.MatchExpressions), len(userExprs))
			}
		})
	}
}

// The match conditions are evaluated here with CEL on the requests that matter; the API
// server compiles them again in the dry-run test.
func TestMatchConditionsSkipTheReleaseNamespaceExceptFenceProbesAndOpenShiftNamespaces(t *testing.T) {
	probe := map[string]any{"pruneguard.io/fence-probe": "true"}
	cases := []struct {
		name      string
		namespace string
		labels    map[string]any
		want      bool
	}{
		{"a pod in a user namespace is sent", "team-a", nil, true},
		{"a labelled pod in a user namespace is sent", "team-a", map[string]any{"app": "web"}, true},
		{"a cluster-scoped Image is sent", "", nil, true},
		{"pruneguard's own pods are not sent", namespace, map[string]any{"app.kubernetes.io/name": "pruneguard"}, false},
		{"an unlabelled object in the release namespace is not sent", namespace, nil, false},
		{"a fence probe in the release namespace is sent", namespace, probe, true},
		{"a probe label with another value is not sent", namespace, map[string]any{"pruneguard.io/fence-probe": "yes"}, false},
		{"an openshift-* namespace is not sent", "openshift-monitoring", nil, false},
		{"the namespace named openshift is sent", "openshift", nil, true},
	}
	wh := webhookConfiguration(t, variants[0]).Webhooks[0]
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := evalMatchConditions(t, wh.MatchConditions, tc.namespace, tc.labels); got != tc.want {
				t.Errorf("sent = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("openshift-* namespaces are sent when excludeOpenShiftNamespaces is false", func(t *testing.T) {
		wh := webhookConfiguration(t, variant{values: m{"webhook": m{"excludeOpenShiftNamespaces": false}}}).Webhooks[0]
		if !evalMatchConditions(t, wh.MatchConditions, "openshift-monitoring", nil) {
			t.Error("an openshift-* namespace was skipped")
		}
	})
	t.Run("user match conditions are appended to the chart's", func(t *testing.T) {
		wh := webhookConfiguration(t, everythingVariant).Webhooks[0]
		if n := len(wh.MatchConditions); n != 3 || wh.MatchConditions[2].Name != "skip-ci-robot" {
			t.Errorf("match conditions = %+v, want the chart's two then skip-ci-robot", wh.MatchConditions)
		}
	})
}

// evalMatchConditions reports whether every condition holds for a CREATE in ns of an object
// with labels (nil: no labels field at all), as the API server decides whether to call.
func evalMatchConditions(t *testing.T, conds []admissionregistrationv1.MatchCondition, ns string, labels map[string]any) bool {
	t.Helper()
	env, err := cel.NewEnv(cel.Variable("request", cel.DynType), cel.Variable("object", cel.DynType))
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{"name": "x"}
	if labels != nil {
		meta["labels"] = labels
	}
	vars := map[string]any{
		"request": map[string]any{"namespace": ns, "operation": "CREATE", "userInfo": map[string]any{"username": "alice"}},
		"object":  map[string]any{"metadata": meta},
	}
	for _, c := range conds {
		ast, iss := env.Compile(c.Expression)
		if iss.Err() != nil {
			t.Fatalf("match condition %s does not compile: %v", c.Name, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := prg.Eval(vars)
		if err != nil {
			t.Fatalf("match condition %s failed on namespace %q: %v", c.Name, ns, err)
		}
		if out.Value() != true {
			return false
		}
	}
	return true
}

func TestPointAtReplacesOnlyTheClientConfig(t *testing.T) {
	vwc := webhookConfiguration(t, variants[0])
	spec, err := chart.Webhook()
	if err != nil {
		t.Fatal(err)
	}
	got := chart.PointAt(vwc, "https://127.0.0.1:9443/", []byte("CA"))
	cc := got.Webhooks[0].ClientConfig
	if cc.URL == nil || *cc.URL != "https://127.0.0.1:9443"+spec.Path || cc.Service != nil || string(cc.CABundle) != "CA" {
		t.Errorf("clientConfig = %+v, want URL https://127.0.0.1:9443%s, no service, the CA", cc, spec.Path)
	}
	got.Webhooks[0].ClientConfig = vwc.Webhooks[0].ClientConfig
	if !reflect.DeepEqual(got, vwc) {
		t.Error("PointAt changed more than the clientConfig")
	}
	if vwc.Webhooks[0].ClientConfig.URL != nil {
		t.Error("PointAt modified its argument")
	}
}
