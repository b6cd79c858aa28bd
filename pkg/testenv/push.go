package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ManagedAnnotation marks images pushed to OpenShift's integrated registry.
const ManagedAnnotation = "openshift.io/image.managed"

// PushOptions describe one image pushed by Env.Push.
type PushOptions struct {
	// Namespace, Stream and Tag name the repository and the ImageStream tag that gets the item.
	Namespace, Stream, Tag string
	// Layers is the number of new random layers (default 2) of LayerSize bytes (default 512).
	Layers    int
	LayerSize int64
	// Shared are extra layers, typically from an earlier push, put first in the image.
	Shared []v1.Layer
	// Platforms > 0 pushes a manifest list with that many child images instead of one image.
	Platforms int
	// Created is the creation time of the Image and of the tag item (default: now).
	Created time.Time
	// Unmanaged leaves out the openshift.io/image.managed annotation.
	Unmanaged bool
	// Seed makes the layers deterministic; 0 picks a random seed.
	Seed int64
}

// Pushed is an image pushed to the registry and recorded in the API.
type Pushed struct {
	// Digest is the manifest (or manifest list) digest, also the Image object's name.
	Digest string
	// PullSpec is HOST/NAMESPACE/STREAM@DIGEST.
	PullSpec string
	// Layers are the image's layers (empty for a manifest list).
	Layers []v1.Layer
	// Config is the config blob digest (empty for a manifest list).
	Config string
	// Children are the images of a manifest list.
	Children []*Pushed
	// Image is the Image object as created.
	Image *imagev1.Image
}

// Push pushes an image to the registry and records it as OpenShift's registry does: it creates
// the Image object and puts a new item at the head of the stream tag's history.
func (e *Env) Push(ctx context.Context, opts PushOptions) (*Pushed, error) {
	if e.Registry == nil {
		return nil, fmt.Errorf("push %s/%s: the environment was started without a registry", opts.Namespace, opts.Stream)
	}
	opts = pushDefaults(opts)
	repo, err := name.NewRepository(e.Registry.Host+"/"+opts.Namespace+"/"+opts.Stream, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("push %s/%s: %w", opts.Namespace, opts.Stream, err)
	}
	rng := rand.New(rand.NewSource(opts.Seed))
	var pushed *Pushed
	if opts.Platforms > 0 {
		pushed, err = e.pushList(ctx, repo, opts, rng)
	} else {
		pushed, err = e.pushImage(ctx, repo, opts, rng)
	}
	if err != nil {
		return nil, err
	}
	if err := e.tagItem(ctx, opts, pushed); err != nil {
		return nil, err
	}
	return pushed, nil
}

func pushDefaults(o PushOptions) PushOptions {
	if o.Tag == "" {
		o.Tag = "latest"
	}
	if o.Layers == 0 && len(o.Shared) == 0 {
		o.Layers = 2
	}
	if o.LayerSize == 0 {
		o.LayerSize = 512
	}
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	o.Created = o.Created.UTC().Truncate(time.Second)
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	return o
}

// buildImage makes a schema 2 image of the shared layers followed by new random ones.
func buildImage(opts PushOptions, rng *rand.Rand) (v1.Image, []v1.Layer, error) {
	layers := append([]v1.Layer(nil), opts.Shared...)
	for range opts.Layers {
		l, err := random.Layer(opts.LayerSize, types.DockerLayer, random.WithSource(rand.NewSource(rng.Int63())))
		if err != nil {
			return nil, nil, err
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, nil, err
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: opts.Created})
	return img, layers, err
}

func (e *Env) pushImage(ctx context.Context, repo name.Repository, opts PushOptions, rng *rand.Rand) (*Pushed, error) {
	img, layers, err := buildImage(opts, rng)
	if err != nil {
		return nil, fmt.Errorf("build image for %s: %w", repo, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	if err := remote.Write(repo.Digest(digest.String()), img, remote.WithContext(ctx)); err != nil {
		return nil, fmt.Errorf("push image to %s: %w", repo, err)
	}
	obj, config, err := imageObject(repo, opts, img)
	if err != nil {
		return nil, err
	}
	if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create Image %s: %w", obj.Name, err)
	}
	return &Pushed{Digest: digest.String(), PullSpec: repo.Name() + "@" + digest.String(), Layers: layers, Config: config, Image: obj}, nil
}

func (e *Env) pushList(ctx context.Context, repo name.Repository, opts PushOptions, rng *rand.Rand) (*Pushed, error) {
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	list := &Pushed{}
	manifests := []imagev1.ImageManifest{}
	for i := range opts.Platforms {
		child, err := e.pushImage(ctx, repo, opts, rng)
		if err != nil {
			return nil, err
		}
		list.Children = append(list.Children, child)
		img, err := childImage(opts, child)
		if err != nil {
			return nil, err
		}
		platform := &v1.Platform{OS: "linux", Architecture: fmt.Sprintf("arch%d", i)}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: platform}})
		size, _ := img.Size()
		manifests = append(manifests, imagev1.ImageManifest{
			Digest: child.Digest, MediaType: string(types.DockerManifestSchema2), ManifestSize: size,
			Architecture: platform.Architecture, OS: platform.OS,
		})
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	if err := remote.WriteIndex(repo.Digest(digest.String()), idx, remote.WithContext(ctx)); err != nil {
		return nil, fmt.Errorf("push manifest list to %s: %w", repo, err)
	}
	list.Digest = digest.String()
	list.PullSpec = repo.Name() + "@" + list.Digest
	list.Image = &imagev1.Image{
		ObjectMeta:                   imageMeta(list.Digest, opts),
		DockerImageReference:         list.PullSpec,
		DockerImageManifestMediaType: string(types.DockerManifestList),
		DockerImageManifests:         manifests,
		DockerImageMetadataVersion:   "1.0",
		DockerImageMetadata:          runtime.RawExtension{Raw: mustJSON(dockerImageMetadata{Kind: "DockerImage", APIVersion: "image.openshift.io/1.0"})},
	}
	if err := e.Client.Create(ctx, list.Image); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create Image %s: %w", list.Digest, err)
	}
	return list, nil
}

// childImage rebuilds the image of child from its layers, so it can be put into an index.
func childImage(opts PushOptions, child *Pushed) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, child.Layers...)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: opts.Created})
}

// dockerImageMetadata is the part of OpenShift's DockerImage metadata the pruner reads.
type dockerImageMetadata struct {
	Kind       string    `json:"kind"`
	APIVersion string    `json:"apiVersion"`
	ID         string    `json:"Id,omitempty"`
	Created    time.Time `json:"Created,omitzero"`
	Size       int64     `json:"Size"`
}

// ImageObjectName is the name of the Image object of digest in the test environment. OpenShift
// names Images by their digest, but a CRD-served kind only takes RFC 1123 subdomain names, so
// the ':' of the digest becomes '.'. pruneguard reads an Image's digest from its
// dockerImageReference when the name is not a digest, and deletes Images by name.
func ImageObjectName(digest string) string { return strings.Replace(digest, ":", ".", 1) }

func imageMeta(digest string, opts PushOptions) metav1.ObjectMeta {
	meta := metav1.ObjectMeta{Name: ImageObjectName(digest)}
	if !opts.Unmanaged {
		meta.Annotations = map[string]string{ManagedAnnotation: "true"}
	}
	return meta
}

func imageObject(repo name.Repository, opts PushOptions, img v1.Image) (*imagev1.Image, string, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, "", err
	}
	config, err := img.ConfigName()
	if err != nil {
		return nil, "", err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, "", err
	}
	obj := &imagev1.Image{
		ObjectMeta:                   imageMeta(digest.String(), opts),
		DockerImageReference:         repo.Name() + "@" + digest.String(),
		DockerImageManifestMediaType: string(types.DockerManifestSchema2),
		DockerImageMetadataVersion:   "1.0",
	}
	var total int64
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, "", err
		}
		size, err := l.Size()
		if err != nil {
			return nil, "", err
		}
		total += size
		obj.DockerImageLayers = append(obj.DockerImageLayers, imagev1.ImageLayer{Name: d.String(), LayerSize: size, MediaType: string(types.DockerLayer)})
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, "", err
	}
	total += int64(len(rawConfig))
	obj.DockerImageMetadata = runtime.RawExtension{Raw: mustJSON(dockerImageMetadata{
		Kind: "DockerImage", APIVersion: "image.openshift.io/1.0", ID: config.String(), Created: opts.Created, Size: total,
	})}
	return obj, config.String(), nil
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// tagItem makes pushed the newest item of the stream tag, creating the stream if needed.
func (e *Env) tagItem(ctx context.Context, opts PushOptions, pushed *Pushed) error {
	key := client.ObjectKey{Namespace: opts.Namespace, Name: opts.Stream}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		is := &imagev1.ImageStream{}
		if err := e.Client.Get(ctx, key, is); apierrors.IsNotFound(err) {
			is = &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: opts.Namespace, Name: opts.Stream}}
			if err := e.Client.Create(ctx, is); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		is.Status.DockerImageRepository = e.Registry.Host + "/" + opts.Namespace + "/" + opts.Stream
		item := imagev1.TagEvent{
			Created: metav1.NewTime(opts.Created), DockerImageReference: pushed.PullSpec,
			Image: pushed.Digest, Generation: is.Generation,
		}
		prependItem(is, opts.Tag, item)
		return e.Client.Status().Update(ctx, is)
	})
	if err != nil {
		return fmt.Errorf("tag %s into image stream %s/%s:%s: %w", pushed.Digest, opts.Namespace, opts.Stream, opts.Tag, err)
	}
	return nil
}

func prependItem(is *imagev1.ImageStream, tag string, item imagev1.TagEvent) {
	for i := range is.Status.Tags {
		if is.Status.Tags[i].Tag == tag {
			is.Status.Tags[i].Items = append([]imagev1.TagEvent{item}, is.Status.Tags[i].Items...)
			return
		}
	}
	is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{item}})
}
