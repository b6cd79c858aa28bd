package synth

import "fmt"

// buildsPerConfig is how many builds each BuildConfig has run (Shape.Builds counts them).
const buildsPerConfig = 3

// buildConfigs makes BuildConfigs and their builds. Most start from a builder image stream
// tag of the "openshift" namespace (Source strategy), some from a stream of their own
// namespace (Docker), a few from an external image (Custom). Each build resolved its
// strategy image to a digest, as OpenShift does when a build starts; older builds used older
// items of the builder tag.
func (g *gen) buildConfigs(left *int) {
	for i := range g.c.Shape.BuildConfigs {
		si := g.appStreams[g.r.IntN(len(g.appStreams))]
		s := &g.c.streams[si]
		bc := referrer{kind: kindBuildConfig, ns: s.ns, name: fmt.Sprintf("%s-build-%d", s.name, i),
			created: g.controllerCreated(), trigger: &objectRef{kind: "ImageStreamTag", name: s.name + ":latest"}}
		bc.app = bc.name
		var fromStream int32 = -1
		var fromTag *tag
		switch x := g.r.Float64(); {
		case x < 0.7:
			fromStream = int32(g.r.IntN(len(builderStreams)))
			b := &g.c.streams[fromStream]
			fromTag = &b.tags[g.r.IntN(len(b.tags))]
			bc.strategy = "Source"
			bc.from = &objectRef{kind: "ImageStreamTag", namespace: "openshift", name: b.name + ":" + fromTag.name}
		case x < 0.9:
			fromStream = g.pickStream(s.ns)
			fromTag = &g.c.streams[fromStream].tags[0]
			bc.strategy = "Docker"
			bc.from = &objectRef{kind: "ImageStreamTag", name: g.c.streams[fromStream].name + ":" + fromTag.name}
			if g.c.streams[fromStream].ns != s.ns {
				bc.from.namespace = g.c.namespaces[g.c.streams[fromStream].ns].name
			}
		default:
			bc.strategy = "Custom"
			bc.from = &objectRef{kind: "DockerImage", name: "quay.io/buildah/stable:v1.38"}
		}
		g.add(bc)
		for k := range buildsPerConfig {
			g.build(left, bc, k, fromStream, fromTag)
		}
	}
}

// build adds build k (0 is the oldest) of bc and its build pod.
func (g *gen) build(left *int, bc referrer, k int, fromStream int32, fromTag *tag) {
	b := referrer{kind: kindBuild, ns: bc.ns, app: bc.app, name: fmt.Sprintf("%s-%d", bc.name, k+1),
		strategy: bc.strategy, from: bc.from, trigger: bc.trigger, phase: "Complete",
		created: g.between(bc.created, g.now-600)}
	if g.chance(0.2) {
		b.phase = "Failed"
	}
	if fromTag != nil {
		it := fromTag.items[min(buildsPerConfig-1-k, len(fromTag.items)-1)]
		b.from = &objectRef{kind: "DockerImage", name: g.digestSpec(fromStream, it)}
		if g.chance(0.2) {
			fs := &g.c.streams[fromStream]
			b.from = &objectRef{kind: "ImageStreamImage", namespace: g.c.namespaces[fs.ns].name,
				name: fs.name + "@" + g.c.images[it.image].digest.String()}
		}
	}
	g.add(b)
	pod := referrer{kind: kindPod, ns: b.ns, app: b.app, created: b.created,
		containers: []container{{name: "sti-build", image: builderPodImage}}}
	phase := "Succeeded"
	if b.phase == "Failed" {
		phase = "Failed"
	}
	g.pods(left, &pod, b.name+"-build", 1, func() string { return phase })
}

// standalonePods fills the pod count with pods no controller of the cluster owns (run by
// users, by operators, or left behind by deleted jobs), in every phase. The first running
// ones carry the invalid and registry-less references; a few reference a retired image by
// digest under a repository that no stream holds any more.
func (g *gen) standalonePods(n int, invalid bool) {
	sh := g.c.Shape
	odd := sh.RegistrylessRefs
	if invalid {
		odd += sh.InvalidRefs
	}
	phases := []string{"Running", "Pending", "Succeeded", "Failed"}
	weights := []float64{0.40, 0.45, 0.80, 1}
	orphanStart := sh.Images - sh.OrphanImages
	for i := range n {
		ns := int32(1 + g.r.IntN(sh.AppNamespaces))
		p := referrer{kind: kindPod, ns: ns, name: fmt.Sprintf("run-%06d", i), app: "run"}
		x := g.r.Float64()
		for k, w := range weights {
			if x < w {
				p.phase = phases[k]
				break
			}
		}
		p.created = g.now - g.between(60, 90*day)
		if g.chance(0.03) {
			p.created = g.now - g.between(60, 3600)
		}
		p.containers = []container{{name: "main", image: g.appRef(ns)}}
		if g.chance(0.2) {
			p.containers = append(p.containers, container{name: "sidecar", image: g.appRef(ns)})
		}
		if g.chance(0.15) {
			p.containers = append(p.containers, container{name: "init", image: g.appRef(ns), init: true})
		}
		if sh.OrphanImages > 0 && g.chance(0.05) {
			img := &g.c.images[orphanStart+g.r.IntN(sh.OrphanImages)]
			p.containers[0].image = Registry + "/" + img.repo + "@" + img.digest.String()
		}
		if i < odd {
			p.phase = "Running"
			ref := g.registrylessRef(i, ns)
			if i >= sh.RegistrylessRefs {
				ref = g.invalidRef(i-sh.RegistrylessRefs, ns)
			}
			p.containers = append(p.containers, container{name: "legacy", image: ref})
		}
		g.add(p)
	}
}
