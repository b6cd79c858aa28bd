package extract

import (
	"strconv"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pkg/imageref"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// deploymentConfig records the pod template (what oc counts) and the `from` of every
// ImageChange trigger (Extra: the trigger will roll the image out again, so the image it
// names is in use even when the template was not yet updated).
func deploymentConfig(dc *appsv1.DeploymentConfig) Result {
	n := len(dc.Spec.Triggers)
	if dc.Spec.Template != nil {
		n += containerCount(&dc.Spec.Template.Spec)
	}
	c := newCollector(model.KindDeploymentConfig, &dc.ObjectMeta, n)
	if dc.Spec.Template != nil {
		c.podSpec(templateSpecPath, &dc.Spec.Template.Spec)
	}
	for i := range dc.Spec.Triggers {
		t := &dc.Spec.Triggers[i]
		if t.Type != appsv1.DeploymentTriggerOnImageChange || t.ImageChangeParams == nil {
			continue
		}
		c.from("spec.triggers["+strconv.Itoa(i)+"].imageChangeParams.from", &t.ImageChangeParams.From, true)
	}
	return c.result()
}

// build records a Build's or BuildConfig's references: the strategy `from`, which oc counts,
// then the source images and, for a BuildConfig, the image change triggers (both Extra).
//
// oc reads the `from` of the first strategy set in the order Source, Docker, Custom; the API
// allows only one, but should several be set, the others are recorded as Extra.
func build(kind string, meta *metav1.ObjectMeta, spec *buildv1.CommonSpec, triggers []buildv1.BuildTriggerPolicy) Result {
	c := newCollector(kind, meta, 1+len(spec.Source.Images)+len(triggers))
	seen := false
	if s := spec.Strategy.SourceStrategy; s != nil {
		c.from(imageref.SourceStrategyFromPath, &s.From, seen)
		seen = true
	}
	if s := spec.Strategy.DockerStrategy; s != nil {
		// A Docker strategy without `from` still ends oc's search: it uses the Dockerfile's FROM.
		c.from(imageref.DockerStrategyFromPath, s.From, seen)
		seen = true
	}
	if s := spec.Strategy.CustomStrategy; s != nil {
		c.from(imageref.CustomStrategyFromPath, &s.From, seen)
	}
	for i := range spec.Source.Images {
		c.from("spec.source.images["+strconv.Itoa(i)+"].from", &spec.Source.Images[i].From, true)
	}
	for i := range triggers {
		t := &triggers[i]
		if t.Type != buildv1.ImageChangeBuildTriggerType || t.ImageChange == nil {
			continue
		}
		// A trigger without `from` watches the strategy's `from`, recorded above.
		c.from("spec.triggers["+strconv.Itoa(i)+"].imageChange.from", t.ImageChange.From, true)
	}
	return c.result()
}

// imageStream returns the stream's status (Stream) and its spec tags as a referrer (Extra):
// a spec tag tracking another image keeps that image in use.
//
// In a spec tag, and only there, an ImageStreamTag `from` may name a bare tag of the same
// stream ("v1" for "THIS-STREAM:v1"), as OpenShift's tag resolution follows it.
func imageStream(is *imagev1.ImageStream) Result {
	c := newCollector(model.KindImageStream, &is.ObjectMeta, len(is.Spec.Tags))
	for i := range is.Spec.Tags {
		t := &is.Spec.Tags[i]
		from := t.From
		if from != nil && from.Kind == string(model.RefImageStreamTag) && from.Name != "" && !strings.Contains(from.Name, ":") {
			local := *from
			local.Name = is.Name + ":" + from.Name
			from = &local
		}
		c.from("spec.tags["+t.Name+"].from", from, true)
	}
	s := Stream(is)
	r := c.result()
	r.Stream = &s
	return r
}
