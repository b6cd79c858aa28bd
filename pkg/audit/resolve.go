package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/pruneguard/pruneguard/pkg/imageref"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// imageArg is a parsed image argument: a digest, a tag of an image stream, or both (a pull
// spec with a tag and a digest names the digest).
type imageArg struct {
	Digest string
	// Repo and Tag are set when the argument names a tag ("NAMESPACE/STREAM", "TAG").
	Repo, Tag string
}

// StreamNamespace is the namespace whose image stream resolving the argument reads, or "".
func (a imageArg) StreamNamespace() string {
	if a.Digest != "" || a.Repo == "" {
		return ""
	}
	ns, _, _ := strings.Cut(a.Repo, "/")
	return ns
}

// parseImageArg parses a digest, a pull spec or NAMESPACE/STREAM[:TAG]. As in oc's matching,
// the registry host of a pull spec is ignored: "any.host/ns/app:v1" names the tag ns/app:v1.
func parseImageArg(arg string) (imageArg, error) {
	if strings.HasPrefix(arg, "sha256:") {
		if _, err := imageref.Parse("x@" + arg); err != nil {
			return imageArg{}, fmt.Errorf("image %q is not a valid digest: %w", arg, ErrInvalidArgument)
		}
		return imageArg{Digest: arg}, nil
	}
	ref, err := imageref.Parse(arg)
	if err != nil {
		return imageArg{}, fmt.Errorf("image %q: %w: %w", arg, err, ErrInvalidArgument)
	}
	if ref.Digest != "" {
		return imageArg{Digest: ref.Digest}, nil
	}
	if ref.Namespace == "" || ref.Name == "" || strings.Contains(ref.Name, "/") {
		return imageArg{}, fmt.Errorf("image %q names no image stream (want a digest, a pull spec with a digest, REGISTRY/NAMESPACE/STREAM[:TAG] or NAMESPACE/STREAM[:TAG]): %w", arg, ErrInvalidArgument)
	}
	tag := ref.Tag
	if tag == "" {
		tag = imageref.DefaultTag
	}
	return imageArg{Repo: ref.Namespace + "/" + ref.Name, Tag: tag}, nil
}

// resolve fills Digest of a tag argument with the image of the tag's item 0, if any.
func (a imageArg) resolve(ctx context.Context, r model.Reader) (imageArg, error) {
	if a.Digest != "" {
		return a, nil
	}
	d, err := currentImage(ctx, r, a.Repo, a.Tag)
	a.Digest = d
	return a, err
}

// currentImage returns the image of item 0 of repo:tag, or "" when the stream or the tag is
// unknown or empty.
func currentImage(ctx context.Context, r model.Reader, repo, tag string) (string, error) {
	ns, name, ok := strings.Cut(repo, "/")
	if !ok {
		return "", nil
	}
	s, found, err := r.Stream(ctx, ns, name)
	if err != nil || !found {
		return "", err
	}
	for _, t := range s.Tags {
		if t.Name == tag && len(t.Items) > 0 {
			return t.Items[0].Image, nil
		}
	}
	return "", nil
}

// ParseObjectKey parses "KIND/NAMESPACE/NAME", or "KIND/NAME" for a cluster-scoped object.
// The kind is matched without regard to case against pruneguard's kinds ("pod" is Pod); an
// unknown kind is kept as written.
func ParseObjectKey(s string) (model.ObjectKey, error) {
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" {
			parts = nil
			break
		}
	}
	var k model.ObjectKey
	switch len(parts) {
	case 2:
		k = model.ObjectKey{Kind: parts[0], Name: parts[1]}
	case 3:
		k = model.ObjectKey{Kind: parts[0], Namespace: parts[1], Name: parts[2]}
	default:
		return k, fmt.Errorf("object %q: want KIND/NAMESPACE/NAME, e.g. Deployment/shop/web: %w", s, ErrInvalidArgument)
	}
	for _, known := range knownKinds {
		if strings.EqualFold(k.Kind, known) {
			k.Kind = known
		}
	}
	return k, nil
}

var knownKinds = []string{
	model.KindPod, model.KindReplicationController, model.KindReplicaSet, model.KindDeployment,
	model.KindStatefulSet, model.KindDaemonSet, model.KindJob, model.KindCronJob,
	model.KindDeploymentConfig, model.KindBuild, model.KindBuildConfig, model.KindImageStream,
}

// repoNamespace returns the namespace of "NAMESPACE/NAME".
func repoNamespace(repo string) string {
	ns, _, _ := strings.Cut(repo, "/")
	return ns
}
