package synth

import (
	"fmt"
	"strings"
)

// Size names one of the three cluster sizes the benchmarks compare.
type Size string

// The sizes, by the number of Image objects they hold.
const (
	// Small is about what a team's development cluster holds; `make bench-quick` runs it.
	Small Size = "S"
	// Medium is a busy shared cluster.
	Medium Size = "M"
	// Large is the size at which oc's full scan needs hours and gigabytes, and the size the
	// targets of the other issues are stated at (200,000 images, 100,000 pods).
	Large Size = "L"
)

// Sizes lists every size, smallest first.
var Sizes = []Size{Small, Medium, Large}

// ParseSize accepts S, M or L in either case.
func ParseSize(s string) (Size, error) {
	switch Size(strings.ToUpper(strings.TrimSpace(s))) {
	case Small:
		return Small, nil
	case Medium:
		return Medium, nil
	case Large:
		return Large, nil
	}
	return "", fmt.Errorf("unknown cluster size %q: use S, M or L", s)
}

// Images is the number of Image objects of a cluster of this size; 0 for an unknown size.
func (s Size) Images() int {
	switch s {
	case Small:
		return 2_000
	case Medium:
		return 20_000
	case Large:
		return 200_000
	}
	return 0
}

// Shape is how many objects of each kind a generated cluster holds. Every field except
// the tag and item counts (which depend on the seed) is a function of Images alone; the package
// comment gives the numbers for each size.
type Shape struct {
	Images int
	// AppNamespaces hold the workloads; one more namespace, "openshift", holds the builder
	// image streams every BuildConfig starts from.
	AppNamespaces int
	// Streams counts every ImageStream, the builder streams included.
	Streams int
	// OrphanImages are Image objects held by no stream: pushed to a stream since deleted.
	OrphanImages int
	// BaseImages are the base images whose layers every image starts with.
	BaseImages int
	// Pods is the number of pods, those of controllers and builds included.
	Pods                   int
	Deployments            int
	ReplicaSets            int
	DeploymentConfigs      int
	ReplicationControllers int
	StatefulSets           int
	DaemonSets             int
	Jobs                   int
	CronJobs               int
	BuildConfigs           int
	Builds                 int
	LimitRanges            int
	// InvalidRefs and RegistrylessRefs are references that oc rejects (an invalid image
	// string) or ignores (a pull spec without a registry host); each sits in a running pod.
	InvalidRefs      int
	RegistrylessRefs int
}

// builderStreams are the image streams of the "openshift" namespace, imported from an
// external registry as OpenShift's samples operator does, with the tags BuildConfigs name.
var builderStreams = []struct {
	name string
	tags []string
}{
	{"nodejs", []string{"18", "20", "22"}},
	{"python", []string{"3.9", "3.11", "3.12"}},
	{"golang", []string{"1.22", "1.23"}},
	{"ubi9", []string{"latest"}},
}

// ShapeOf returns the shape of a cluster of images Image objects. Small counts are raised to
// a minimum so that even a tiny cluster (in a unit test) has every kind.
func ShapeOf(images int) Shape {
	images = max(images, 100)
	appNS := max(2, images/100)
	sh := Shape{
		Images:            images,
		AppNamespaces:     appNS,
		Streams:           max(len(builderStreams)+appNS, images/20),
		OrphanImages:      images / 50,
		BaseImages:        max(6, images/500),
		Pods:              images / 2,
		Deployments:       max(2, images/20),
		DeploymentConfigs: max(1, images/200),
		StatefulSets:      max(1, images/400),
		DaemonSets:        max(1, images/1000),
		Jobs:              max(1, images/200),
		CronJobs:          max(1, images/400),
		BuildConfigs:      max(1, images/100),
		LimitRanges:       (appNS + 9) / 10,
		InvalidRefs:       max(2, images/50_000),
		RegistrylessRefs:  max(2, images/50_000),
	}
	// Each Deployment keeps its current ReplicaSet and one older revision scaled to zero;
	// each DeploymentConfig the same with ReplicationControllers; each BuildConfig has run
	// three builds.
	sh.ReplicaSets = 2 * sh.Deployments
	sh.ReplicationControllers = 2 * sh.DeploymentConfigs
	sh.Builds = 3 * sh.BuildConfigs
	return sh
}

// Namespaces is the number of Namespace objects: the application namespaces and "openshift".
func (s Shape) Namespaces() int { return s.AppNamespaces + 1 }
