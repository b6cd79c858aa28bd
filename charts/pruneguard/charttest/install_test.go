package charttest

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
)

// helm install --dry-run=server goes through everything helm does against a real cluster (the
// kubeVersion check, lookups, rendering NOTES.txt) without creating anything; NOTES.txt must
// tell the user how to check the installation for the mode they chose.
func TestHelmInstallDryRunPrintsHowToCheckTheInstallation(t *testing.T) {
	s := startAPIServer(t)
	helm := requireTool(t, "helm")
	dir := t.TempDir()
	if err := chart.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
		not  []string
	}{
		{nil, []string{"rollout status statefulset/" + fullname, "get certificate " + fullname + "-webhook",
			"get endpointslices -l kubernetes.io/service-name=" + fullname, "failurePolicy is Ignore", "openshift-*"},
			[]string{"prune-images", "dry run: nothing is deleted", "self-signed"}},
		{[]string{"--set", "pruning.mode=cronjob,storage.type=emptyDir,certManager.enabled=false,pruning.confirm=false"},
			[]string{"rollout status deployment/" + fullname, "--from=cronjob/" + fullname + "-prune-images",
				"--self-signed-certs", "dry run: nothing is deleted"},
			[]string{"get certificate"}},
	} {
		args := append([]string{"install", releaseName, dir, "--namespace", namespace, "--dry-run=server",
			"--kubeconfig", s.kubeconfig}, tc.args...)
		cmd := exec.Command(helm, args...)
		cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, ".cache"),
			"HELM_CONFIG_HOME="+filepath.Join(dir, ".config"), "HELM_DATA_HOME="+filepath.Join(dir, ".data"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if strings.Contains(out.String(), "incompatible with Kubernetes v0.0.0") {
				missing(t, errors.New("bin/kube-apiserver reports no version: build it with -ldflags "+
					"\"-X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 "+
					"-X k8s.io/component-base/version.gitMinor=37\" so that helm can check the chart's kubeVersion"))
			}
			t.Fatalf("helm %v: %v\n%s", tc.args, err, out.String())
		}
		text := out.String()
		notes := text[strings.Index(text, "NOTES:"):]
		for _, w := range tc.want {
			if !strings.Contains(notes, w) {
				t.Errorf("helm %v: NOTES do not say %q:\n%s", tc.args, w, notes)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(notes, n) {
				t.Errorf("helm %v: NOTES say %q, which does not apply:\n%s", tc.args, n, notes)
			}
		}
	}
}
