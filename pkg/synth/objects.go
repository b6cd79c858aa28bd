package synth

import (
	"fmt"
	"strconv"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ManagedAnnotation marks images pushed to OpenShift's integrated registry.
const ManagedAnnotation = "openshift.io/image.managed"

// Media types of the manifests the generated images have.
const (
	mediaTypeManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// EachOptions choose what Each yields.
type EachOptions struct {
	// Namespaces includes the Namespace objects first (a dump leaves them out, as
	// `oc get` of the pruned kinds does; an API server needs them first).
	Namespaces bool
	// ImageName names Image objects by digest; nil keeps OpenShift's name, the digest itself.
	ImageName func(digest string) string
}

// Each calls fn with every object of the cluster as a new typed object with its apiVersion
// and kind set, in a fixed order: namespaces (if asked), Images, ImageStreams, then the
// referrer kinds in the order of `oc get pods,rc,rs,deploy,dc,sts,ds,jobs,cronjobs,builds,bc`,
// then LimitRanges. It stops at the first error fn returns and returns it. The objects are
// fn's to keep or change.
func (c *Cluster) Each(o EachOptions, fn func(client.Object) error) error {
	name := o.ImageName
	if name == nil {
		name = func(d string) string { return d }
	}
	if o.Namespaces {
		for i := range c.namespaces {
			if err := fn(c.namespaceObject(i)); err != nil {
				return err
			}
		}
	}
	for i := range c.images {
		if err := fn(c.imageObject(i, name)); err != nil {
			return err
		}
	}
	for i := range c.streams {
		if err := fn(c.streamObject(i)); err != nil {
			return err
		}
	}
	for _, k := range kindOrder {
		for i := range c.referrers {
			if c.referrers[i].kind != k {
				continue
			}
			if err := fn(c.referrerObject(i)); err != nil {
				return err
			}
		}
	}
	for i := range c.limitRanges {
		if err := fn(c.limitRangeObject(i)); err != nil {
			return err
		}
	}
	return nil
}

var kindOrder = []kind{kindPod, kindReplicationController, kindReplicaSet, kindDeployment, kindDeploymentConfig,
	kindStatefulSet, kindDaemonSet, kindJob, kindCronJob, kindBuild, kindBuildConfig}

func (c *Cluster) time(sec int64) metav1.Time { return metav1.NewTime(time.Unix(sec, 0).UTC()) }

// meta is the ObjectMeta of object number i of kind k.
func (c *Cluster) meta(k string, i int, ns, name string, created int64) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: ns, CreationTimestamp: c.time(created), UID: types.UID(uid(c.Seed, k, i)),
	}
}

func (c *Cluster) namespaceObject(i int) *corev1.Namespace {
	n := c.namespaces[i]
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: c.meta("Namespace", i, "", n.name, n.created),
	}
}

func (c *Cluster) imageObject(i int, name func(string) string) *imagev1.Image {
	img := &c.images[i]
	d := img.digest.String()
	obj := &imagev1.Image{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "Image"},
		ObjectMeta:                   c.meta("Image", i, "", name(d), img.created),
		DockerImageReference:         c.imageReference(img.repo, img.external, d),
		DockerImageMetadataVersion:   "1.0",
		DockerImageManifestMediaType: mediaTypeManifest,
	}
	if img.managed {
		obj.Annotations = map[string]string{ManagedAnnotation: "true"}
	}
	meta := []byte(`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0"`)
	if len(img.children) > 0 {
		obj.DockerImageManifestMediaType = mediaTypeList
		for k, ch := range img.children {
			obj.DockerImageManifests = append(obj.DockerImageManifests, imagev1.ImageManifest{
				Digest: c.images[ch].digest.String(), MediaType: mediaTypeManifest, ManifestSize: 1200,
				Architecture: []string{"amd64", "arm64"}[k%2], OS: "linux",
			})
		}
	} else {
		for _, l := range img.layers {
			obj.DockerImageLayers = append(obj.DockerImageLayers, imagev1.ImageLayer{
				Name: c.blobs[l].digest.String(), LayerSize: c.blobs[l].size, MediaType: mediaTypeLayer,
			})
		}
		meta = fmt.Appendf(meta, `,"Id":%q,"Created":%q,"Architecture":"amd64"`,
			img.config.String(), time.Unix(img.created, 0).UTC().Format(time.RFC3339))
	}
	meta = append(append(append(meta, `,"Size":`...), strconv.FormatInt(img.size, 10)...), '}')
	obj.DockerImageMetadata = runtime.RawExtension{Raw: meta}
	return obj
}

// imageReference is where an image can be pulled from: the integrated registry for pushed
// images, the external repository for imported ones.
func (c *Cluster) imageReference(repo string, external bool, d string) string {
	if external {
		return repo + "@" + d
	}
	return Registry + "/" + repo + "@" + d
}

func (c *Cluster) streamObject(i int) *imagev1.ImageStream {
	s := &c.streams[i]
	ns := c.namespaces[s.ns].name
	obj := &imagev1.ImageStream{
		TypeMeta:   metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "ImageStream"},
		ObjectMeta: c.meta("ImageStream", i, ns, s.name, s.created),
		Status:     imagev1.ImageStreamStatus{DockerImageRepository: Registry + "/" + ns + "/" + s.name},
	}
	for _, t := range s.tags {
		if s.source != "" {
			obj.Spec.Tags = append(obj.Spec.Tags, imagev1.TagReference{
				Name:            t.name,
				From:            &corev1.ObjectReference{Kind: "DockerImage", Name: s.source + ":" + t.name},
				ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
			})
		}
		st := imagev1.NamedTagEventList{Tag: t.name}
		for _, it := range t.items {
			img := &c.images[it.image]
			st.Items = append(st.Items, imagev1.TagEvent{
				Created:              c.time(it.created),
				DockerImageReference: c.imageReference(img.repo, img.external, img.digest.String()),
				Image:                img.digest.String(),
				Generation:           1,
			})
		}
		obj.Status.Tags = append(obj.Status.Tags, st)
	}
	return obj
}

func (c *Cluster) limitRangeObject(i int) *corev1.LimitRange {
	lr := c.limitRanges[i]
	ns := c.namespaces[lr.ns]
	return &corev1.LimitRange{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: c.meta("LimitRange", i, ns.name, "image-limits", ns.created+3600),
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: "openshift.io/Image",
			Max:  corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(lr.maxSize, resource.BinarySI)},
		}}},
	}
}
