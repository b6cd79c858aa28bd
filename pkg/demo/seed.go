package demo

import (
	"context"
	"fmt"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// cluster is what the demo seeds: the digests it talks about.
type cluster struct {
	// web holds shop/web:latest's history, newest first: web[3] is the oldest revision,
	// used only by the Deployment "legacy" until the demo removes it.
	web [4]*testenv.Pushed
	// api holds shop/api:v1 and shop/api:v2.
	apiV1, apiV2 *testenv.Pushed
}

// seed pushes images with tag histories and creates the workloads that use them: several
// streams, a shared base layer, one image tagged into a second stream, a deployment per app,
// a pod, and a build config.
//
// The continuous pruner must be paused while it runs. A push creates the Image and then adds
// the stream item, as the integrated registry does (an Image, then an ImageStreamMapping);
// in between, the Image is held by no stream item, and the demo's --keep-younger-than=0s
// makes it prunable at once: a running pruner fences it, and the fence refuses the stream
// update ("being pruned"). In a cluster the default --keep-younger-than (60m) keeps a
// freshly pushed Image for an hour, which is what that flag is for; an admin who lowers it
// far below the time a push takes meets the same refusal.
func seed(ctx context.Context, env *testenv.Env, now time.Time) (*cluster, error) {
	c := env.Client
	for _, ns := range []string{"shop", "tools"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
	}
	cl := &cluster{}
	ages := []time.Duration{72 * time.Hour, 48 * time.Hour, 24 * time.Hour, 2 * time.Hour}
	var err error
	for i, age := range ages {
		o := testenv.PushOptions{Namespace: "shop", Stream: "web", Tag: "latest", Created: now.Add(-age), Layers: 1}
		if i > 0 {
			o.Shared = cl.web[3].Layers[:1] // every revision builds on the first one's base layer
		}
		if cl.web[3-i], err = env.Push(ctx, o); err != nil {
			return nil, err
		}
	}
	if cl.apiV1, err = env.Push(ctx, testenv.PushOptions{Namespace: "shop", Stream: "api", Tag: "v1", Created: now.Add(-96 * time.Hour), Shared: cl.web[3].Layers[:1], Layers: 1}); err != nil {
		return nil, err
	}
	if cl.apiV2, err = env.Push(ctx, testenv.PushOptions{Namespace: "shop", Stream: "api", Tag: "v2", Created: now.Add(-3 * time.Hour), Shared: cl.web[3].Layers[:1], Layers: 1}); err != nil {
		return nil, err
	}
	if err := tagInto(ctx, c, "tools", "web-mirror", "stable", cl.web[1], now.Add(-20*time.Hour)); err != nil {
		return nil, err
	}
	objs := []client.Object{
		deployment("shop", "web", cl.web[0].PullSpec),
		deployment("shop", "legacy", cl.web[3].PullSpec),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-debug"}, Spec: podSpec(cl.web[1].PullSpec)},
		&buildv1.BuildConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"},
			Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{Strategy: buildv1.BuildStrategy{
				Type:           buildv1.SourceBuildStrategyType,
				SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Kind: "ImageStreamTag", Name: "api:v2"}},
			}}},
		},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("seed %T %s: %w", o, o.GetName(), err)
		}
	}
	return cl, nil
}

// images are the seeded images.
func (cl *cluster) images() []*testenv.Pushed {
	return []*testenv.Pushed{cl.web[0], cl.web[1], cl.web[2], cl.web[3], cl.apiV1, cl.apiV2}
}

func podSpec(image string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}
}

func deployment(ns, name, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(image)},
		},
	}
}

// tagInto records an existing image as the newest item of another stream's tag, as
// `oc tag` does: the same digest, held by two streams.
func tagInto(ctx context.Context, c client.Client, ns, stream, tag string, img *testenv.Pushed, created time.Time) error {
	is := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: stream}}
	if err := c.Create(ctx, is); err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(is), is); err != nil {
			return err
		}
		is.Status.Tags = []imagev1.NamedTagEventList{{Tag: tag, Items: []imagev1.TagEvent{{
			Created: metav1.NewTime(created), DockerImageReference: img.PullSpec, Image: img.Digest,
		}}}}
		return c.Status().Update(ctx, is)
	})
}
