package pruner

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// ImageAPI deletes through the image.openshift.io API: it removes items from image stream
// statuses and deletes Image objects.
type ImageAPI struct {
	// Client reaches the API server; its scheme must hold the image.openshift.io types.
	Client client.Client
	// Names maps an image digest to the name of its Image object where the two differ. On
	// OpenShift every Image is named by its digest; an API server that serves Images from a
	// CRD (the test environment) names them "sha256.HEX", because a CRD object's name cannot
	// hold ':'. The live listing fills it.
	Names map[string]string
	// Reader, when set, gives the names the index holds (serve's live index).
	Reader model.Reader
	// BeforeStatusUpdate, when set, is called before each status update attempt with the
	// attempt number (1 first). Tests use it to update the stream concurrently.
	BeforeStatusUpdate func(ctx context.Context, namespace, name string, attempt int)
}

var (
	_ ImageStreamDeleter = (*ImageAPI)(nil)
	_ ImageDeleter       = (*ImageAPI)(nil)
)

// UpdateImageStream reads the stream, removes the planned items that are still there, and
// writes the status. On a conflict it reads the stream again and removes the planned items
// from the fresh copy: an item that appeared since the plan (a push, a new tag) is never
// removed, because items are matched by tag, image and creation time, not by position. It
// gives up after client-go's default number of conflicts.
func (a *ImageAPI) UpdateImageStream(ctx context.Context, sp StreamPlan) (StreamUpdate, error) {
	var upd StreamUpdate
	key := client.ObjectKey{Namespace: sp.Namespace, Name: sp.Name}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		upd.Attempts++
		is := &imagev1.ImageStream{}
		if err := a.Client.Get(ctx, key, is); err != nil {
			return err
		}
		upd.Removed = removePlanned(is, sp.Deleted)
		upd.Held = heldByStatus(is)
		if len(upd.Removed) == 0 {
			return nil
		}
		if a.BeforeStatusUpdate != nil {
			a.BeforeStatusUpdate(ctx, sp.Namespace, sp.Name, upd.Attempts)
		}
		return a.Client.Status().Update(ctx, is)
	})
	if apierrors.IsNotFound(err) {
		return StreamUpdate{Attempts: upd.Attempts}, nil
	}
	if err != nil {
		return upd, fmt.Errorf("failed to update image stream %s after %d attempt(s): %w", sp.Repo(), upd.Attempts, err)
	}
	return upd, nil
}

// DeleteImage deletes the Image object of digest with grace period 0, by its name: Names'
// entry, else the name the index holds (model.Image.ObjectName), else the digest itself, as
// OpenShift names Images. NotFound is success.
func (a *ImageAPI) DeleteImage(ctx context.Context, digest string) error {
	name, err := a.objectName(ctx, digest)
	if err != nil {
		return err
	}
	if err := a.deleteImage(ctx, name); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to delete Image %s: %w", name, err)
	}
	return nil
}

func (a *ImageAPI) objectName(ctx context.Context, digest string) (string, error) {
	if n, ok := a.Names[digest]; ok {
		return n, nil
	}
	if a.Reader != nil {
		img, ok, err := a.Reader.Image(ctx, digest)
		if err != nil {
			return "", fmt.Errorf("failed to read image %s from the index: %w", digest, err)
		}
		if ok {
			return img.ObjectName(), nil
		}
	}
	return digest, nil
}

func (a *ImageAPI) deleteImage(ctx context.Context, name string) error {
	return a.Client.Delete(ctx, &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: name}}, client.GracePeriodSeconds(0))
}

// removePlanned removes from is.Status.Tags each planned item still present, matched by tag,
// image and creation time (an item re-tagged later is a different item), drops the tags left
// empty, and returns the planned items it removed.
func removePlanned(is *imagev1.ImageStream, planned []ItemDecision) []ItemDecision {
	var removed []ItemDecision
	for _, d := range planned {
		for ti := range is.Status.Tags {
			tag := &is.Status.Tags[ti]
			if tag.Tag != d.Tag {
				continue
			}
			if i := findItem(tag.Items, d); i >= 0 {
				tag.Items = append(tag.Items[:i], tag.Items[i+1:]...)
				removed = append(removed, d)
			}
			break
		}
	}
	tags := is.Status.Tags[:0]
	for _, t := range is.Status.Tags {
		if len(t.Items) > 0 {
			tags = append(tags, t)
		}
	}
	is.Status.Tags = tags
	return removed
}

// findItem returns the position of the planned item d in items, or -1. Without a planned
// creation time (a reader that does not keep it) the image alone identifies the item.
func findItem(items []imagev1.TagEvent, d ItemDecision) int {
	created := d.Reason.Created
	for i, it := range items {
		if it.Image != d.Image {
			continue
		}
		if created.IsZero() || it.Created.Time.Equal(created) {
			return i
		}
	}
	return -1
}

// heldByStatus returns the images the stream's status names.
func heldByStatus(is *imagev1.ImageStream) map[string]bool {
	held := make(map[string]bool)
	for _, t := range is.Status.Tags {
		for _, it := range t.Items {
			held[it.Image] = true
		}
	}
	return held
}
