package synth

import "fmt"

// referrers makes every object that references images. Controllers come first with their
// pods; standalone pods fill the pod count up to Shape.Pods.
func (g *gen) referrers(invalid bool) {
	podsLeft := g.c.Shape.Pods
	g.deployments(&podsLeft)
	g.deploymentConfigs(&podsLeft)
	g.statefulSets(&podsLeft)
	g.daemonSets(&podsLeft)
	g.jobs(&podsLeft)
	g.cronJobs()
	g.buildConfigs(&podsLeft)
	g.standalonePods(podsLeft, invalid)
}

// add appends a referrer and returns it for the caller to finish.
func (g *gen) add(r referrer) *referrer {
	g.c.referrers = append(g.c.referrers, r)
	return &g.c.referrers[len(g.c.referrers)-1]
}

// podSuffix gives pods the random-looking suffix controllers give them, unique by counter.
func (g *gen) podSuffix() string {
	return fmt.Sprintf("%05x", len(g.c.referrers)&0xfffff)
}

// pods adds n pods of a controller: same containers, created after it, in phase.
func (g *gen) pods(left *int, owner *referrer, prefix string, n int, phase func() string) {
	for i := range n {
		if *left == 0 {
			return
		}
		*left--
		name := prefix + "-" + g.podSuffix()
		if owner.kind == kindStatefulSet {
			name = fmt.Sprintf("%s-%d", prefix, i)
		}
		g.add(referrer{
			kind: kindPod, ns: owner.ns, name: name, app: owner.app, phase: phase(),
			created:    g.between(owner.created, g.now-60),
			containers: owner.containers,
		})
	}
}

func (g *gen) running() string {
	if g.chance(0.92) {
		return "Running"
	}
	return "Pending"
}

// controllerCreated is when a controller was created: within the last ten months.
func (g *gen) controllerCreated() int64 { return g.now - g.between(2*3600, 300*day) }

// appContainers are a workload's containers: the app from its stream (by digest as a
// trigger resolves it, or by tag) and sometimes a sidecar.
func (g *gen) appContainers(si int32, it item, tagName string) []container {
	ns := g.c.streams[si].ns
	app := container{name: "app", image: g.digestSpec(si, it)}
	if g.chance(0.35) {
		app.image = g.tagSpec(si, tagName)
	}
	cs := []container{app}
	if g.chance(0.25) {
		cs = append(cs, container{name: "sidecar", image: g.appRef(ns)})
	}
	return cs
}

// olderRevision is the containers of a controller's previous revision: the app pinned to an
// older item of the same tag.
func (g *gen) olderRevision(si int32, t *tag, cur []container) []container {
	pos := min(1+g.r.IntN(3), len(t.items)-1)
	old := append([]container(nil), cur...)
	old[0] = container{name: "app", image: g.digestSpec(si, t.items[pos])}
	return old
}

func (g *gen) deployments(left *int) {
	for i := range g.c.Shape.Deployments {
		si := g.appStreams[g.r.IntN(len(g.appStreams))]
		s := &g.c.streams[si]
		t := &s.tags[0]
		name := fmt.Sprintf("%s-%d", s.name, i)
		dep := *g.add(referrer{
			kind: kindDeployment, ns: s.ns, name: name, app: name, created: g.controllerCreated(),
			replicas: int32(1 + g.r.IntN(3)), containers: g.appContainers(si, t.items[0], t.name),
		})
		old := *g.add(referrer{kind: kindReplicaSet, ns: dep.ns, app: dep.app, created: dep.created,
			name: fmt.Sprintf("%s-%08x", dep.name, g.r.Uint32()), containers: g.olderRevision(si, t, dep.containers)})
		rs := *g.add(referrer{kind: kindReplicaSet, ns: dep.ns, app: dep.app, replicas: dep.replicas,
			created: g.between(old.created, g.now-120), name: fmt.Sprintf("%s-%08x", dep.name, g.r.Uint32()),
			containers: dep.containers})
		g.pods(left, &rs, rs.name, int(rs.replicas), g.running)
	}
}

func (g *gen) deploymentConfigs(left *int) {
	for i := range g.c.Shape.DeploymentConfigs {
		si := g.appStreams[g.r.IntN(len(g.appStreams))]
		s := &g.c.streams[si]
		t := &s.tags[0]
		name := fmt.Sprintf("%s-dc-%d", s.name, i)
		dc := *g.add(referrer{
			kind: kindDeploymentConfig, ns: s.ns, name: name, app: name, created: g.controllerCreated(),
			replicas: int32(1 + g.r.IntN(2)), containers: g.appContainers(si, t.items[0], t.name),
			trigger: &objectRef{kind: "ImageStreamTag", name: s.name + ":" + t.name},
		})
		g.add(referrer{kind: kindReplicationController, ns: dc.ns, app: dc.app, created: dc.created,
			name: dc.name + "-1", containers: g.olderRevision(si, t, dc.containers)})
		rc := *g.add(referrer{kind: kindReplicationController, ns: dc.ns, app: dc.app, replicas: dc.replicas,
			created: g.between(dc.created, g.now-120), name: dc.name + "-2", containers: dc.containers})
		g.pods(left, &rc, rc.name, int(rc.replicas), g.running)
	}
}

func (g *gen) statefulSets(left *int) {
	for i := range g.c.Shape.StatefulSets {
		si := g.appStreams[g.r.IntN(len(g.appStreams))]
		s := &g.c.streams[si]
		t, pos := g.pickItem(si)
		name := fmt.Sprintf("%s-db-%d", s.name, i)
		ss := *g.add(referrer{
			kind: kindStatefulSet, ns: s.ns, name: name, app: name, created: g.controllerCreated(),
			replicas: int32(1 + g.r.IntN(3)), containers: g.appContainers(si, t.items[pos], t.name),
		})
		g.pods(left, &ss, ss.name, int(ss.replicas), g.running)
	}
}

// nodes is the number of nodes a DaemonSet runs a pod on.
const nodes = 3

func (g *gen) daemonSets(left *int) {
	for i := range g.c.Shape.DaemonSets {
		ns := int32(1 + g.r.IntN(g.c.Shape.AppNamespaces))
		img := externalImages[2]
		if g.chance(0.5) {
			img = g.appRef(ns)
		}
		ds := *g.add(referrer{kind: kindDaemonSet, ns: ns, name: fmt.Sprintf("agent-%d", i), app: fmt.Sprintf("agent-%d", i),
			created: g.controllerCreated(), containers: []container{{name: "agent", image: img}}})
		g.pods(left, &ds, ds.name, nodes, g.running)
	}
}

func (g *gen) jobs(left *int) {
	for i := range g.c.Shape.Jobs {
		ns := int32(1 + g.r.IntN(g.c.Shape.AppNamespaces))
		j := *g.add(referrer{kind: kindJob, ns: ns, name: fmt.Sprintf("migrate-%d", i), app: fmt.Sprintf("migrate-%d", i),
			created: g.now - g.between(600, 60*day), containers: []container{{name: "job", image: g.appRef(ns)}}})
		g.pods(left, &j, j.name, 1, func() string {
			if g.chance(0.75) {
				return "Succeeded"
			}
			return "Failed"
		})
	}
}

func (g *gen) cronJobs() {
	for i := range g.c.Shape.CronJobs {
		ns := int32(1 + g.r.IntN(g.c.Shape.AppNamespaces))
		g.add(referrer{kind: kindCronJob, ns: ns, name: fmt.Sprintf("report-%d", i), app: fmt.Sprintf("report-%d", i),
			created: g.controllerCreated(), containers: []container{{name: "report", image: g.appRef(ns)}}})
	}
}
