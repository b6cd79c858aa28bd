package charttest

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pruneguard/pruneguard/pkg/scheme"
)

// decode converts a rendered object into its Go type, failing on any field the type lacks.
func decode(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
		t.Fatalf("%s %s does not decode strictly: %v", u.GetKind(), u.GetName(), err)
	}
}

func TestEveryBuiltinObjectDecodesStrictlyIntoItsGoType(t *testing.T) {
	s := scheme.New()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			for _, u := range render(t, v) {
				obj, err := s.New(u.GroupVersionKind())
				if err != nil {
					continue // cert-manager, Prometheus Operator and CRDs: checked by the API server
				}
				decode(t, u, obj)
			}
		})
	}
}

// podTemplates returns the serve pod template and, in cronjob mode, the prune job's.
func podTemplates(t *testing.T, v variant, objs []*unstructured.Unstructured) map[string]corev1.PodTemplateSpec {
	t.Helper()
	out := map[string]corev1.PodTemplateSpec{}
	if emptyDirStorage(v) {
		var d appsv1.Deployment
		decode(t, mustFind(t, objs, "Deployment", fullname), &d)
		out["serve"] = d.Spec.Template
	} else {
		var s appsv1.StatefulSet
		decode(t, mustFind(t, objs, "StatefulSet", fullname), &s)
		out["serve"] = s.Spec.Template
	}
	if mode(v) == "cronjob" {
		var cj batchv1.CronJob
		decode(t, mustFind(t, objs, "CronJob", fullname+"-prune-images"), &cj)
		out["prune job"] = cj.Spec.JobTemplate.Spec.Template
	}
	return out
}

func TestPodsMeetTheRestrictedPodSecurityStandard(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			openshift := len(v.apiVersions) > 0
			for which, tpl := range podTemplates(t, v, render(t, v)) {
				pod := tpl.Spec.SecurityContext
				if pod == nil || pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("%s: pod seccomp profile is not RuntimeDefault: %+v", which, pod)
				}
				if pod != nil && (pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot) {
					t.Errorf("%s: pod runAsNonRoot is not true", which)
				}
				fixedIDs := pod != nil && pod.RunAsUser != nil && pod.FSGroup != nil && *pod.RunAsUser == 65532 && *pod.FSGroup == 65532
				if openshift == fixedIDs {
					t.Errorf("%s: fixed user and fsGroup 65532 present = %v, want %v (OpenShift assigns them)", which, fixedIDs, !openshift)
				}
				if tpl.Spec.HostNetwork || tpl.Spec.HostPID || tpl.Spec.HostIPC {
					t.Errorf("%s: uses a host namespace", which)
				}
				for _, c := range tpl.Spec.Containers {
					checkContainerSecurity(t, which+"/"+c.Name, c.SecurityContext, openshift)
				}
			}
		})
	}
}

func checkContainerSecurity(t *testing.T, which string, sc *corev1.SecurityContext, openshift bool) {
	t.Helper()
	if sc == nil {
		t.Fatalf("%s: no security context", which)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: root filesystem is writable", which)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: privilege escalation allowed", which)
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: runAsNonRoot is not true", which)
	}
	if sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities = %+v, want drop [ALL] and nothing added", which, sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccomp profile is not RuntimeDefault", which)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", which)
	}
	if openshift && sc.RunAsUser != nil {
		t.Errorf("%s: fixed runAsUser on OpenShift", which)
	}
}

func TestServePodsAreCriticalSpreadAndDisruptionBudgeted(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			objs := render(t, v)
			tpl := podTemplates(t, v, objs)["serve"]
			if tpl.Spec.PriorityClassName != "system-cluster-critical" {
				t.Errorf("priorityClassName = %q", tpl.Spec.PriorityClassName)
			}
			keys := []string{}
			for _, c := range tpl.Spec.TopologySpreadConstraints {
				keys = append(keys, c.TopologyKey)
				if c.LabelSelector == nil || c.LabelSelector.MatchLabels["app.kubernetes.io/instance"] != releaseName {
					t.Errorf("spread constraint on %s does not select this release's pods", c.TopologyKey)
				}
				if want := valueOr(v, "ScheduleAnyway", "topologySpread", "whenUnsatisfiable"); string(c.WhenUnsatisfiable) != want {
					t.Errorf("whenUnsatisfiable = %s, want %s", c.WhenUnsatisfiable, want)
				}
			}
			if !reflect.DeepEqual(keys, []string{"kubernetes.io/hostname", "topology.kubernetes.io/zone"}) {
				t.Errorf("spread over %v, want hostname and zone", keys)
			}
			pdb := find(objs, "PodDisruptionBudget", fullname)
			if (pdb != nil) != (replicas(v) > 1) {
				t.Errorf("PodDisruptionBudget rendered = %v with %d replicas", pdb != nil, replicas(v))
			}
			res := tpl.Spec.Containers[0].Resources
			if _, ok := res.Limits[corev1.ResourceCPU]; ok {
				t.Error("the serve container has a CPU limit; throttling would show as webhook latency")
			}
			if _, ok := res.Limits[corev1.ResourceMemory]; !ok {
				t.Error("the serve container has no memory limit")
			}
		})
	}
}

// A PVC per replica needs a StatefulSet; emptyDir needs no identity and is a Deployment.
func TestStorageDecidesTheWorkloadKind(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			objs := render(t, v)
			sts, dep := find(objs, "StatefulSet", fullname), find(objs, "Deployment", fullname)
			if emptyDirStorage(v) {
				if dep == nil || sts != nil {
					t.Fatalf("emptyDir storage: Deployment %v, StatefulSet %v; want only a Deployment", dep != nil, sts != nil)
				}
				var d appsv1.Deployment
				decode(t, dep, &d)
				if vol := volume(d.Spec.Template.Spec.Volumes, "data"); vol == nil || vol.EmptyDir == nil {
					t.Errorf("the data volume is not an emptyDir: %+v", vol)
				}
				if d.Spec.Strategy.RollingUpdate == nil || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
					t.Error("a rollout may take a webhook replica away before its replacement is ready")
				}
				return
			}
			if sts == nil || dep != nil {
				t.Fatalf("pvc storage: StatefulSet %v, Deployment %v; want only a StatefulSet", sts != nil, dep != nil)
			}
			var s appsv1.StatefulSet
			decode(t, sts, &s)
			if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Name != "data" {
				t.Errorf("volumeClaimTemplates = %+v, want one named data", s.Spec.VolumeClaimTemplates)
			}
			if s.Spec.ServiceName != fullname+"-headless" || find(objs, "Service", fullname+"-headless") == nil {
				t.Errorf("serviceName %q has no rendered headless Service", s.Spec.ServiceName)
			}
		})
	}
}

func volume(vols []corev1.Volume, name string) *corev1.Volume {
	for i := range vols {
		if vols[i].Name == name {
			return &vols[i]
		}
	}
	return nil
}

func TestServeArgumentsFollowTheModeAndCertificates(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			args := podTemplates(t, v, render(t, v))["serve"].Spec.Containers[0].Args
			if args[0] != "serve" || !slices.Contains(args, "--leader-elect") ||
				!slices.Contains(args, "--leader-election-id="+fullname+"-leader") {
				t.Errorf("args %v do not run serve with leader election on the chart's Lease", args)
			}
			lease := []string{"15s", "10s", "2s"}
			if le, ok := v.values["leaderElection"].(m); ok {
				lease = []string{le["leaseDuration"].(string), le["renewDeadline"].(string), le["retryPeriod"].(string)}
			}
			for i, flag := range []string{"--leader-elect-lease-duration=", "--leader-elect-renew-deadline=", "--leader-elect-retry-period="} {
				if !slices.Contains(args, flag+lease[i]) {
					t.Errorf("args %v lack %s%s", args, flag, lease[i])
				}
			}
			cache := "32Mi"
			if ix, ok := v.values["index"].(m); ok {
				cache = ix["recordCacheSize"].(string)
			}
			if !slices.Contains(args, "--index-record-cache="+cache) {
				t.Errorf("args %v lack --index-record-cache=%s", args, cache)
			}
			continuous := mode(v) == "continuous"
			if slices.Contains(args, "--pruning=continuous") != continuous || slices.Contains(args, "--pruning=off") == continuous {
				t.Errorf("mode %s, args %v", mode(v), args)
			}
			if hasPrefix(args, "--keep-tag-revisions") && !continuous {
				t.Errorf("policy flags passed to serve in mode %s: %v", mode(v), args)
			}
			if slices.Contains(args, "--self-signed-certs") == certManager(v) {
				t.Errorf("--self-signed-certs present = %v with cert-manager enabled = %v", !certManager(v), certManager(v))
			}
		})
	}
}

func hasPrefix(args []string, prefix string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, prefix) })
}

func TestCronJobRunsPruneImagesWithThePolicyFlags(t *testing.T) {
	want := map[string][]string{
		cronJobVariant.name: {"prune", "images", "--confirm", "--keep-tag-revisions=3", "--keep-younger-than=60m",
			"--all=true", "--prune-registry=true", "--ignore-invalid-refs=false", "--num-workers=5"},
		overSizeVariant.name: {"prune", "images", "--prune-over-size-limit", "--all=false", "--namespace=team-a",
			"--prune-registry=false", "--ignore-invalid-refs=true", "--num-workers=2"},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			objs := render(t, v)
			u := find(objs, "CronJob", fullname+"-prune-images")
			if (u != nil) != (mode(v) == "cronjob") {
				t.Fatalf("CronJob rendered = %v in mode %s", u != nil, mode(v))
			}
			if u == nil {
				if find(objs, "ServiceAccount", "pruner") != nil || find(objs, "ClusterRole", fullname+"-pruner") != nil {
					t.Error("the prune job's ServiceAccount or ClusterRole is rendered without the job")
				}
				return
			}
			var cj batchv1.CronJob
			decode(t, u, &cj)
			if got := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args; !reflect.DeepEqual(got, want[v.name]) {
				t.Errorf("args:\n got %q\nwant %q", got, want[v.name])
			}
			spec := cj.Spec
			if spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || *spec.SuccessfulJobsHistoryLimit != 1 ||
				*spec.FailedJobsHistoryLimit != 3 || spec.Schedule != "0 0 * * *" {
				t.Errorf("concurrency %s, history %d/%d, schedule %q; want Forbid, 1/3, nightly",
					spec.ConcurrencyPolicy, *spec.SuccessfulJobsHistoryLimit, *spec.FailedJobsHistoryLimit, spec.Schedule)
			}
			pod := spec.JobTemplate.Spec.Template.Spec
			if pod.ServiceAccountName != "pruner" || pod.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("serviceAccountName %q, restartPolicy %s; want pruner, Never", pod.ServiceAccountName, pod.RestartPolicy)
			}
			checkPrunerBinding(t, objs)
		})
	}
}

func checkPrunerBinding(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	mustFind(t, objs, "ServiceAccount", "pruner")
	crb := mustFind(t, objs, "ClusterRoleBinding", fullname+"-pruner")
	role, _, _ := unstructured.NestedString(crb.Object, "roleRef", "name")
	subjects, _, _ := unstructured.NestedSlice(crb.Object, "subjects")
	if role != fullname+"-pruner" || len(subjects) != 1 ||
		subjects[0].(map[string]any)["name"] != "pruner" || subjects[0].(map[string]any)["namespace"] != namespace {
		t.Errorf("ClusterRoleBinding %s binds %v to %s, want pruner in %s to %s-pruner", crb.GetName(), subjects, role, namespace, fullname)
	}
}
