package imageref

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// ErrInvalidImageStreamTag is matched (errors.Is) by the error for an ImageStreamTag name that
// is not "NAME:TAG".
var ErrInvalidImageStreamTag = errors.New("invalid image stream tag name")

// ErrInvalidImageStreamImage is matched (errors.Is) by the error for an ImageStreamImage name
// that is not "NAME@ID".
var ErrInvalidImageStreamImage = errors.New("invalid image stream image name")

// nameError carries oc's wording for a bad stream tag or image name and matches its sentinel.
type nameError struct {
	msg      string
	sentinel error
}

func (e *nameError) Error() string        { return e.msg }
func (e *nameError) Is(target error) bool { return target == e.sentinel }

// PullSpec resolves an image pull spec (a container's image, or the name of a DockerImage
// ObjectReference) into a model.Ref of kind DockerImage with the oc match keys.
//
// On success Raw is spec, Digest the digest if any, Tag the tag (DefaultTag when none) when
// there is no digest, and Repo "NAMESPACE/NAME" only when Reference.Repo allows it. On error the
// Ref still has Kind and Raw, and Invalid holds the error text; the error is the one Parse
// returns.
func PullSpec(spec string) (model.Ref, error) {
	ref := model.Ref{Kind: model.RefDockerImage, Raw: spec}
	r, err := Parse(spec)
	if err != nil {
		ref.Invalid = err.Error()
		return ref, err
	}
	if r.protects() {
		// Parse returns substrings of spec and String() gives spec back, so NAMESPACE/NAME is
		// the part of spec after the registry and its slash; slicing it saves an allocation.
		start := len(r.Registry) + 1
		ref.Repo = spec[start : start+len(r.Namespace)+1+len(r.Name)]
	}
	ref.Digest = r.Digest
	if r.Digest == "" {
		ref.Tag = r.Tag
		if ref.Tag == "" {
			ref.Tag = DefaultTag
		}
	}
	return ref, nil
}

// ObjectReference resolves the `from` of a build strategy, a trigger, a build source image or
// an image stream spec tag. ok is false for kinds oc does not follow (anything but
// DockerImage, ImageStreamTag and ImageStreamImage) and for a DockerImage with a blank name,
// which oc skips; the caller then records no reference.
//
// ImageStreamTag names must be "NAME:TAG" and ImageStreamImage names "NAME@ID"; an empty
// from.Namespace means referrerNamespace. The resolved Raw is "NAMESPACE/NAME:TAG" or
// "NAMESPACE/NAME@ID" and Repo is "NAMESPACE/NAME". The ID is not checked to be a digest, as
// oc does not check it. An invalid name gives a Ref with Raw as written and Invalid set,
// and the error.
func ObjectReference(from corev1.ObjectReference, referrerNamespace string) (ref model.Ref, ok bool, err error) {
	switch from.Kind {
	case string(model.RefDockerImage):
		if strings.TrimSpace(from.Name) == "" {
			return model.Ref{}, false, nil
		}
		ref, err = PullSpec(from.Name)
		return ref, true, err
	case string(model.RefImageStreamTag):
		ref, err = streamTag(from, referrerNamespace)
		return ref, true, err
	case string(model.RefImageStreamImage):
		ref, err = streamImage(from, referrerNamespace)
		return ref, true, err
	}
	return model.Ref{}, false, nil
}

func streamTag(from corev1.ObjectReference, referrerNamespace string) (model.Ref, error) {
	ref := model.Ref{Kind: model.RefImageStreamTag, Raw: from.Name}
	name, tag, err := splitStreamTag(from.Name)
	if err != nil {
		ref.Invalid = err.Error()
		return ref, err
	}
	ns := namespaceOr(from.Namespace, referrerNamespace)
	ref.Repo = ns + "/" + name
	ref.Tag = tag
	ref.Raw = ref.Repo + ":" + tag
	return ref, nil
}

func streamImage(from corev1.ObjectReference, referrerNamespace string) (model.Ref, error) {
	ref := model.Ref{Kind: model.RefImageStreamImage, Raw: from.Name}
	name, id, err := splitStreamImage(from.Name)
	if err != nil {
		ref.Invalid = err.Error()
		return ref, err
	}
	ns := namespaceOr(from.Namespace, referrerNamespace)
	ref.Repo = ns + "/" + name
	ref.Digest = id
	ref.Raw = ref.Repo + "@" + id
	return ref, nil
}

func namespaceOr(ns, fallback string) string {
	if ns == "" {
		return fallback
	}
	return ns
}

// splitStreamTag accepts exactly "NAME:TAG" with both parts non-empty and no "@", the rule
// and wording of library-go's ParseImageStreamTagName that oc uses.
func splitStreamTag(s string) (name, tag string, err error) {
	if strings.Contains(s, "@") {
		return "", "", &nameError{fmt.Sprintf("%q is an image stream image, not an image stream tag", s), ErrInvalidImageStreamTag}
	}
	name, tag, found := strings.Cut(s, ":")
	if !found || strings.Contains(tag, ":") {
		return "", "", &nameError{fmt.Sprintf("expected exactly one : delimiter in the istag %q", s), ErrInvalidImageStreamTag}
	}
	if name == "" || tag == "" {
		return "", "", &nameError{fmt.Sprintf("image stream tag name %q must have a name and a tag", s), ErrInvalidImageStreamTag}
	}
	return name, tag, nil
}

// splitStreamImage accepts exactly "NAME@ID" with both parts non-empty, the rule and wording
// of library-go's ParseImageStreamImageName that oc uses.
func splitStreamImage(s string) (name, id string, err error) {
	name, id, found := strings.Cut(s, "@")
	if !found || strings.Contains(id, "@") {
		return "", "", &nameError{fmt.Sprintf("expected exactly one @ in the isimage name %q", s), ErrInvalidImageStreamImage}
	}
	if name == "" || id == "" {
		return "", "", &nameError{fmt.Sprintf("image stream image name %q must have a name and ID", s), ErrInvalidImageStreamImage}
	}
	return name, id, nil
}
