package pruner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pruneguard/pruneguard/pkg/imageref"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// ErrNoRegistryHost is returned by RegistryHost when no image or stream names a registry.
var ErrNoRegistryHost = errors.New("no managed image or image stream item names a registry; pass --registry-url")

// RegistryHost finds the registry to prune as oc does: the registry host in the pull spec of
// the newest image managed by OpenShift (pushed to the integrated registry), or, when there is
// none, of the newest image stream item. oc reads the streams' status.dockerImageRepository;
// the items' dockerImageReference names the same host, and the index keeps it.
func RegistryHost(ctx context.Context, r model.Reader) (string, error) {
	var spec string
	var newest time.Time
	err := r.Images(ctx, func(img model.Image) error {
		if img.Managed && img.DockerImageReference != "" && (spec == "" || img.Created.After(newest)) {
			spec, newest = img.DockerImageReference, img.Created
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("failed to read the images: %w", err)
	}
	if spec == "" {
		err = r.Streams(ctx, "", func(s model.Stream) error {
			for _, t := range s.Tags {
				for _, it := range t.Items {
					if it.DockerImageReference != "" && (spec == "" || it.Created.After(newest)) {
						spec, newest = it.DockerImageReference, it.Created
					}
				}
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("failed to read the image streams: %w", err)
		}
	}
	if spec == "" {
		return "", ErrNoRegistryHost
	}
	ref, err := imageref.Parse(spec)
	if err != nil {
		return "", fmt.Errorf("unable to parse %q to find the registry: %w", spec, err)
	}
	if ref.Registry == "" {
		return "", fmt.Errorf("%s does not include a registry; pass --registry-url", spec)
	}
	return ref.Registry, nil
}
