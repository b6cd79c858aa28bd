package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/pruneguard/pruneguard/internal/cli"
	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

const host = "image-registry.openshift-image-registry.svc:5000"

var created = metav1.NewTime(time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC))

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// runCLI runs the pruneguard command line and returns its exit code and outputs.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, args)
	return code, out.String(), errOut.String()
}

func podObject(ns, name string, images map[string]string) *corev1.Pod {
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: created},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, c := range sortedKeys(images) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: images[c]})
	}
	return p
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

func imageObject(digest string) *imagev1.Image {
	return &imagev1.Image{TypeMeta: metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "Image"},
		ObjectMeta:           metav1.ObjectMeta{Name: digest, CreationTimestamp: created},
		DockerImageReference: host + "/shop/web@" + digest}
}

func streamObject(ns, name string, tags map[string][]string) *imagev1.ImageStream {
	is := &imagev1.ImageStream{TypeMeta: metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "ImageStream"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: created}}
	for _, tag := range sortedKeysOfSlices(tags) {
		l := imagev1.NamedTagEventList{Tag: tag}
		for _, d := range tags[tag] {
			l.Items = append(l.Items, imagev1.TagEvent{Image: d, Created: created, DockerImageReference: host + "/" + ns + "/" + name + "@" + d})
		}
		is.Status.Tags = append(is.Status.Tags, l)
	}
	return is
}

func sortedKeysOfSlices(m map[string][]string) []string {
	s := map[string]string{}
	for k := range m {
		s[k] = ""
	}
	return sortedKeys(s)
}

// writeDump writes objects as a v1 List, as `oc get -o yaml` prints it.
func writeDump(t *testing.T, objs ...runtime.Object) string {
	t.Helper()
	list := &corev1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	for _, o := range objs {
		list.Items = append(list.Items, runtime.RawExtension{Object: o})
	}
	data, err := yaml.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dump.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCLIOffline(t *testing.T) {
	web1, web2, unused := sha("web-1"), sha("web-2"), sha("unused")
	dump := writeDump(t,
		imageObject(web1), imageObject(web2), imageObject(unused),
		streamObject("shop", "web", map[string][]string{"v1": {web2, web1}, "old": {unused}}),
		podObject("shop", "front", map[string]string{"app": host + "/shop/web:v1", "log": host + "/shop/web@" + web1}),
		podObject("team", "batch", map[string]string{"run": "quay.io/shop/web:v1"}),
	)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		notWant  []string
	}{
		{"refs of a tag lists its referrers in aligned columns",
			[]string{"refs", "shop/web:v1", "--from-file", dump}, 0,
			[]string{"KIND  NAMESPACE  NAME   CONTAINER/FIELD  VIA", "Pod   shop       front  app              tag shop/web:v1  confirmed",
				"Pod   team       batch  run              tag shop/web:v1"}, []string{"log"}},
		{"refs of an older image lists its digest referrer only",
			[]string{"refs", web1, "--from-file", dump}, 0, []string{"front  log", "digest"}, []string{"batch"}},
		{"refs limited to a namespace",
			[]string{"refs", "shop/web:v1", "-n", "team", "--from-file", dump}, 0, []string{"batch"}, []string{"front"}},
		{"refs of an unreferenced image prints nothing and exits 1",
			[]string{"refs", unused, "--from-file", dump}, 1, nil, []string{"KIND"}},
		{"refs --object resolves tags through the stream",
			[]string{"refs", "--object", "Pod/shop/front", "--from-file", dump}, 0,
			[]string{"app              " + host + "/shop/web:v1", web2 + "  shop/web:v1", web1 + "  digest"}, nil},
		{"refs --object of an unknown object fails naming it",
			[]string{"refs", "--object", "Pod/shop/nope", "--from-file", dump}, 1, nil, nil},
		{"images --unreferenced lists the image nothing uses",
			[]string{"images", "--unreferenced", "--from-file", dump}, 0, []string{unused + "  shop/web  0"}, []string{web1, web2}},
		{"images --referenced -n team has none: team holds no stream",
			[]string{"images", "--referenced", "-n", "team", "--from-file", dump}, 1, nil, nil},
		{"image and object together are refused", []string{"refs", web1, "--object", "Pod/shop/front", "--from-file", dump}, 1, nil, nil},
		{"--referenced and --unreferenced are refused", []string{"images", "--referenced", "--unreferenced", "--from-file", dump}, 1, nil, nil},
		{"--from-file and --server are refused", []string{"images", "--from-file", dump, "--server", "https://x"}, 1, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %q:\n%s", w, out)
				}
			}
		})
	}

	t.Run("-o json is the API document", func(t *testing.T) {
		code, out, _ := runCLI("refs", "shop/web:v1", "--from-file", dump, "-o", "json")
		var res audit.ImageReferrers
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
			t.Fatalf("exit %d, %v:\n%s", code, err, out)
		}
		if res.Image != web2 || len(res.Referrers) != 2 {
			t.Errorf("json answer %+v", res)
		}
	})
	t.Run("-o yaml of nothing still prints the document and exits 1", func(t *testing.T) {
		code, out, _ := runCLI("refs", unused, "--from-file", dump, "-o", "yaml")
		if code != 1 || !strings.Contains(out, "referrers: []") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

func TestCLIHistoryFromDataDir(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := sha("pruned")
	ix, err := index.Open(index.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.PutStream(model.Stream{Namespace: "shop", Name: "web", Tags: []model.Tag{{Name: "v1", Items: []model.TagItem{{Image: d}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := rb.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	trail, err := audit.OpenTrail(audit.TrailOptions{Dir: audit.TrailDir(dir)})
	if err != nil {
		t.Fatal(err)
	}
	rec := audit.NewRecorder(audit.RecorderOptions{Trail: trail, Actor: "pruneguard"})
	for i, a := range []audit.Action{audit.ActionFenced, audit.ActionDeleted, audit.ActionLifted} {
		if err := rec.Record(ctx, audit.Record{Time: created.Add(time.Duration(i) * time.Second), Action: a, Image: d, Rule: "image-unused"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Record(ctx, audit.Record{Time: created.Add(500 * time.Millisecond), Action: audit.ActionDenied, Image: d,
		Actor: "alice", Rule: "fence prune-x"}); err != nil {
		t.Fatal(err)
	}
	if err := trail.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("history", "shop/web:v1", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.Contains(lines[1], "fenced") || !strings.Contains(lines[3], "deleted  image-unused") ||
		!strings.Contains(lines[4], "lifted") || !strings.Contains(lines[4], "pruneguard") {
		t.Errorf("history table:\n%s", out)
	}
	if !strings.Contains(lines[2], "denied") || !strings.Contains(lines[2], "alice (via pruneguard)") {
		t.Errorf("the denial names the user and the replica apart: %q", lines[2])
	}
	if code, _, _ := runCLI("history", sha("other"), "--data-dir", dir); code != 1 {
		t.Errorf("history of an image without records: exit %d, want 1", code)
	}
	if code, _, errOut := runCLI("history", d, "--data-dir", t.TempDir()); code != 1 || !strings.Contains(errOut, "no audit trail") {
		t.Errorf("history from a directory without a trail: exit %d, %s", code, errOut)
	}
}
