package synth

import (
	"encoding/hex"
	"time"
)

// Cluster is a generated cluster state, held compactly (digests as bytes, times as seconds,
// references as strings) so that a Large cluster costs tens of megabytes, not gigabytes. The
// typed objects are built on demand by Each, so writing a dump or loading an API server never
// holds them all at once. A Cluster is read-only after Generate and safe for concurrent reads.
type Cluster struct {
	// Size is the size the cluster was generated at; empty when Options.Images chose it.
	Size Size
	// Seed and Now are the inputs of the generation; the same pair gives the same cluster.
	Seed int64
	Now  time.Time
	// Shape holds the number of objects of each kind.
	Shape Shape

	namespaces  []namespace
	blobs       []blob
	images      []image
	streams     []stream
	referrers   []referrer
	limitRanges []limitRange
}

type digest [32]byte

func (d digest) String() string { return "sha256:" + hex.EncodeToString(d[:]) }

type namespace struct {
	name    string
	created int64
}

type blob struct {
	digest digest
	size   int64
}

// image is one Image object; a manifest list has children and no layers or config.
type image struct {
	digest  digest
	config  digest
	created int64
	managed bool
	// repo is the "ns/name" the image was pushed to; for images of imported streams the
	// external repository it was imported from.
	repo     string
	external bool
	layers   []int32
	children []int32
	size     int64
}

type stream struct {
	ns      int32
	name    string
	created int64
	// source is the external repository an imported stream's spec tags point at; empty for
	// streams the integrated registry receives pushes for.
	source string
	tags   []tag
}

type tag struct {
	name  string
	items []item
}

type item struct {
	image   int32
	created int64
}

type limitRange struct {
	ns      int32
	maxSize int64
}

// kind enumerates the referrer kinds the generator makes.
type kind uint8

const (
	kindPod kind = iota
	kindReplicaSet
	kindDeployment
	kindReplicationController
	kindDeploymentConfig
	kindStatefulSet
	kindDaemonSet
	kindJob
	kindCronJob
	kindBuildConfig
	kindBuild
	numKinds
)

// referrer is any object that references images: a pod, a controller with a pod template, or
// a build or build config.
type referrer struct {
	kind     kind
	ns       int32
	name     string
	app      string
	created  int64
	replicas int32
	phase    string
	// containers are the pod template's containers; init containers have init set.
	containers []container
	// from is the strategy image of a Build or BuildConfig; trigger is a DeploymentConfig's
	// ImageChange trigger or a BuildConfig's output stream tag.
	from    *objectRef
	trigger *objectRef
	// strategy is Source, Docker or Custom for builds.
	strategy string
}

type container struct {
	name  string
	image string
	init  bool
}

// objectRef is an OpenShift ObjectReference of kind DockerImage, ImageStreamTag or
// ImageStreamImage.
type objectRef struct {
	kind      string
	namespace string
	name      string
}

// Counts returns the number of objects per Kubernetes kind, as Each yields them (Namespace
// included).
func (c *Cluster) Counts() map[string]int {
	counts := map[string]int{
		"Namespace":   len(c.namespaces),
		"Image":       len(c.images),
		"ImageStream": len(c.streams),
		"LimitRange":  len(c.limitRanges),
	}
	for i := range c.referrers {
		counts[c.referrers[i].kind.String()]++
	}
	return counts
}

// Total is the number of objects Each yields, namespaces included.
func (c *Cluster) Total() int {
	return len(c.namespaces) + len(c.images) + len(c.streams) + len(c.limitRanges) + len(c.referrers)
}

// ImageDigests returns every image digest ("sha256:HEX") in generation order, for benchmarks
// that pick images to look up.
func (c *Cluster) ImageDigests() []string {
	out := make([]string, len(c.images))
	for i := range c.images {
		out[i] = c.images[i].digest.String()
	}
	return out
}

// StreamItems returns the number of status tag items over all image streams.
func (c *Cluster) StreamItems() int {
	n := 0
	for i := range c.streams {
		for _, t := range c.streams[i].tags {
			n += len(t.items)
		}
	}
	return n
}

// Tags returns the number of status tags over all image streams.
func (c *Cluster) Tags() int {
	n := 0
	for i := range c.streams {
		n += len(c.streams[i].tags)
	}
	return n
}

func (k kind) String() string {
	switch k {
	case kindPod:
		return "Pod"
	case kindReplicaSet:
		return "ReplicaSet"
	case kindDeployment:
		return "Deployment"
	case kindReplicationController:
		return "ReplicationController"
	case kindDeploymentConfig:
		return "DeploymentConfig"
	case kindStatefulSet:
		return "StatefulSet"
	case kindDaemonSet:
		return "DaemonSet"
	case kindJob:
		return "Job"
	case kindCronJob:
		return "CronJob"
	case kindBuildConfig:
		return "BuildConfig"
	case kindBuild:
		return "Build"
	}
	return "Unknown"
}
