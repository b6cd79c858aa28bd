package synth

import (
	"context"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// loaders are the two ways into the test API server, by name.
var loaders = map[string]func(context.Context, *testenv.Env, *Cluster) (LoadStats, error){
	"through the API": func(ctx context.Context, env *testenv.Env, c *Cluster) (LoadStats, error) {
		return Load(ctx, env.Client, c, 8)
	},
	"straight into etcd": func(ctx context.Context, env *testenv.Env, c *Cluster) (LoadStats, error) {
		return LoadEtcd(ctx, etcdEndpoint(env), c, 4)
	},
}

func etcdEndpoint(env *testenv.Env) string { return env.Control.ControlPlane.Etcd.URL.String() }

// TestLoadCreatesEveryObject loads a small cluster into the real API server, each way, and
// counts every kind back through the API.
func TestLoadCreatesEveryObject(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	for name, load := range loaders {
		t.Run(name, func(t *testing.T) { testLoad(t, load, name == "straight into etcd") })
	}
}

// testLoad loads a cluster and checks it through the API; keepsTimes says whether the loader
// keeps creation timestamps (the API server sets its own on a create).
func testLoad(t *testing.T, load func(context.Context, *testenv.Env, *Cluster) (LoadStats, error), keepsTimes bool) {
	ctx := context.Background()
	env := testenv.StartT(t, testenv.Options{})
	c := generate(t, Options{Images: 300, Seed: 5})
	stats, err := load(ctx, env, c)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Objects != c.Total() {
		t.Errorf("Load created %d objects, the cluster has %d", stats.Objects, c.Total())
	}
	t.Logf("loaded %d objects and %d statuses in %s: %.0f objects/s",
		stats.Objects, stats.StatusUpdates, stats.Duration, stats.ObjectsPerSecond())

	lists := map[string]client.ObjectList{
		"Namespace": &corev1.NamespaceList{}, "Image": &imagev1.ImageList{}, "ImageStream": &imagev1.ImageStreamList{},
		"Pod": &corev1.PodList{}, "ReplicationController": &corev1.ReplicationControllerList{},
		"ReplicaSet": &kappsv1.ReplicaSetList{}, "Deployment": &kappsv1.DeploymentList{},
		"DeploymentConfig": &appsv1.DeploymentConfigList{}, "StatefulSet": &kappsv1.StatefulSetList{},
		"DaemonSet": &kappsv1.DaemonSetList{}, "Job": &batchv1.JobList{}, "CronJob": &batchv1.CronJobList{},
		"Build": &buildv1.BuildList{}, "BuildConfig": &buildv1.BuildConfigList{}, "LimitRange": &corev1.LimitRangeList{},
	}
	want := c.Counts()
	for kind, list := range lists {
		// Objects written to etcd reach the API server's watch cache a moment later.
		if err := waitForCount(ctx, env, list, want[kind]); err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
		got := countItems(t, list)
		if kind == "Namespace" {
			got -= systemNamespaces(t, list.(*corev1.NamespaceList))
		}
		if got != want[kind] {
			t.Errorf("%s: %d in the API server, %d generated", kind, got, want[kind])
		}
	}
	checkStatusesSurvived(ctx, t, env, c, keepsTimes)
}

// waitForCount lists until at least want objects are there or five seconds have passed.
func waitForCount(ctx context.Context, env *testenv.Env, list client.ObjectList, want int) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := env.Client.List(ctx, list); err != nil {
			return err
		}
		if meta.LenList(list) >= want || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func countItems(t *testing.T, list client.ObjectList) int {
	t.Helper()
	switch l := list.(type) {
	case *corev1.NamespaceList:
		return len(l.Items)
	case *imagev1.ImageList:
		for _, img := range l.Items {
			if img.Name != testenv.ImageObjectName(img.Name) || len(img.Name) != len("sha256.")+64 {
				t.Errorf("Image named %q, want sha256.HEX", img.Name)
			}
		}
		return len(l.Items)
	case *imagev1.ImageStreamList:
		return len(l.Items)
	case *corev1.PodList:
		return len(l.Items)
	case *corev1.ReplicationControllerList:
		return len(l.Items)
	case *kappsv1.ReplicaSetList:
		return len(l.Items)
	case *kappsv1.DeploymentList:
		return len(l.Items)
	case *appsv1.DeploymentConfigList:
		return len(l.Items)
	case *kappsv1.StatefulSetList:
		return len(l.Items)
	case *kappsv1.DaemonSetList:
		return len(l.Items)
	case *batchv1.JobList:
		return len(l.Items)
	case *batchv1.CronJobList:
		return len(l.Items)
	case *buildv1.BuildList:
		return len(l.Items)
	case *buildv1.BuildConfigList:
		return len(l.Items)
	case *corev1.LimitRangeList:
		return len(l.Items)
	}
	t.Fatalf("no count for %T", list)
	return 0
}

// systemNamespaces counts the namespaces the API server makes itself.
func systemNamespaces(t *testing.T, l *corev1.NamespaceList) int {
	t.Helper()
	n := 0
	for _, ns := range l.Items {
		switch ns.Name {
		case "default", "kube-system", "kube-public", "kube-node-lease":
			n++
		}
	}
	return n
}

// checkStatusesSurvived compares the tag histories and pod phases in the API server with the
// generated ones (a create through the API drops both), and the creation times when the
// loader keeps them.
func checkStatusesSurvived(ctx context.Context, t *testing.T, env *testenv.Env, c *Cluster, keepsTimes bool) {
	t.Helper()
	err := c.Each(EachOptions{}, func(obj client.Object) error {
		switch o := obj.(type) {
		case *imagev1.ImageStream:
			got := &imagev1.ImageStream{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
				return err
			}
			if len(got.Status.Tags) != len(o.Status.Tags) || got.Status.Tags[0].Items[0].Image != o.Status.Tags[0].Items[0].Image {
				t.Errorf("stream %s/%s status = %+v, want %+v", o.Namespace, o.Name, got.Status.Tags, o.Status.Tags)
			}
		case *corev1.Pod:
			got := &corev1.Pod{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
				return err
			}
			if got.Status.Phase != o.Status.Phase {
				t.Errorf("pod %s/%s phase %s, want %s", o.Namespace, o.Name, got.Status.Phase, o.Status.Phase)
			}
			if keepsTimes && !got.CreationTimestamp.Equal(&o.CreationTimestamp) {
				t.Errorf("pod %s/%s created %s, want %s", o.Namespace, o.Name, got.CreationTimestamp, o.CreationTimestamp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
