package extract

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pruneguard/pruneguard/pkg/imageref"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// Field path prefixes of the pod specs of each referrer kind.
const (
	podSpecPath      = "spec."
	templateSpecPath = "spec.template.spec."
	cronJobSpecPath  = "spec.jobTemplate.spec.template.spec."
)

// collector accumulates the references of one referrer object.
type collector struct {
	obj     *model.Object
	invalid []*imageref.InvalidReferenceError
}

func newCollector(kind string, meta *metav1.ObjectMeta, capacity int) *collector {
	return &collector{obj: &model.Object{
		Key:             model.ObjectKey{Kind: kind, Namespace: meta.Namespace, Name: meta.Name},
		UID:             string(meta.UID),
		ResourceVersion: meta.ResourceVersion,
		Created:         meta.CreationTimestamp.Time,
		Refs:            make([]model.Ref, 0, capacity),
	}}
}

// result returns the referrer as a Result.
func (c *collector) result() Result {
	return Result{Kind: c.obj.Key.Kind, Referrer: c.obj, Invalid: c.invalid}
}

// image records a container image. Blank images are skipped, as oc skips them.
func (c *collector) image(path, container, spec string, extra bool) {
	if strings.TrimSpace(spec) == "" {
		return
	}
	ref, err := imageref.PullSpec(spec)
	ref.FieldPath, ref.Container, ref.Extra = path, container, extra
	c.add(ref, err)
}

// from records an ObjectReference; kinds oc does not follow are skipped.
func (c *collector) from(path string, from *corev1.ObjectReference, extra bool) {
	if from == nil {
		return
	}
	ref, ok, err := imageref.ObjectReference(*from, c.obj.Key.Namespace)
	if !ok {
		return
	}
	ref.FieldPath, ref.Extra = path, extra
	c.add(ref, err)
}

func (c *collector) add(ref model.Ref, err error) {
	c.obj.Refs = append(c.obj.Refs, ref)
	if err == nil {
		return
	}
	c.invalid = append(c.invalid, &imageref.InvalidReferenceError{
		Object:    c.obj.Key,
		FieldPath: ref.FieldPath,
		Container: ref.Container,
		Kind:      ref.Kind,
		Value:     ref.Raw,
		Err:       err,
	})
}

// podSpec records the images of a pod spec whose fields start at prefix ("spec." for a pod).
// Init containers and containers are what oc counts; ephemeral containers are Extra.
func (c *collector) podSpec(prefix string, spec *corev1.PodSpec) {
	for i := range spec.InitContainers {
		ct := &spec.InitContainers[i]
		c.image(prefix+"initContainers["+ct.Name+"].image", ct.Name, ct.Image, false)
	}
	for i := range spec.Containers {
		ct := &spec.Containers[i]
		c.image(prefix+"containers["+ct.Name+"].image", ct.Name, ct.Image, false)
	}
	for i := range spec.EphemeralContainers {
		ct := &spec.EphemeralContainers[i]
		c.image(prefix+"ephemeralContainers["+ct.Name+"].image", ct.Name, ct.Image, true)
	}
}

func containerCount(spec *corev1.PodSpec) int {
	return len(spec.InitContainers) + len(spec.Containers) + len(spec.EphemeralContainers)
}

// fromTemplate is the Result of a kind whose references are those of one pod template.
func fromTemplate(kind string, meta *metav1.ObjectMeta, prefix string, spec *corev1.PodSpec) Result {
	c := newCollector(kind, meta, containerCount(spec))
	c.podSpec(prefix, spec)
	return c.result()
}
