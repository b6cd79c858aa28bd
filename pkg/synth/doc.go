// Package synth generates realistic OpenShift cluster states, deterministically from a seed,
// for the benchmarks (`make bench`) and for equivalence tests: the same state can be written
// as a dump for `pruneguard prune images --from-file` (WriteDump) and created in a real API
// server, through the API (Load: creates and status writes with a pool of writers) or, for
// the test environment, straight into its etcd (LoadEtcd: batched transactions, creation
// times kept, about 40 times faster).
//
// # The model of the shape
//
// A cluster is sized by its number of Image objects N: S = 2,000, M = 20,000, L = 200,000.
// Everything else is proportional to N. Counts marked "exact" are functions of N alone
// (ShapeOf); the others depend on the seed and the tests hold them to the stated range.
//
//	kind / quantity              rule                          S        M         L
//	Image                        N, exact                  2,000   20,000   200,000
//	  held by no stream          N/50, exact                  40      400     4,000
//	  manifest lists             ~2% of pushes, 2 children each (range 0.5-4% of N)
//	  managed (annotated)        ~50% (range 40-60%)
//	Namespace                    N/100 + "openshift", exact   21      201     2,001
//	ImageStream                  N/20, exact                 100    1,000    10,000
//	  status tags                1.8-2.8 per stream         ~230   ~2,400   ~24,000
//	  status items               0.85-1.0 x N              ~1,930  ~19,300  ~193,000
//	Pod                          N/2, exact                1,000   10,000   100,000
//	Deployment                   N/20, exact                 100    1,000    10,000
//	ReplicaSet                   2 per Deployment, exact     200    2,000    20,000
//	DeploymentConfig             N/200, exact                 10      100     1,000
//	ReplicationController        2 per DeploymentConfig       20      200     2,000
//	StatefulSet                  N/400, exact                  5       50       500
//	DaemonSet                    N/1000, exact                 2       20       200
//	Job                          N/200, exact                 10      100     1,000
//	CronJob                      N/400, exact                  5       50       500
//	BuildConfig                  N/100, exact                 20      200     2,000
//	Build                        3 per BuildConfig, exact     60      600     6,000
//	LimitRange (openshift.io/Image) 1 per 10 namespaces        2       20       200
//	invalid references           max(2, N/50,000), exact       2        2         4
//	registry-less references     max(2, N/50,000), exact       2        2         4
//	objects in a dump            all but Namespaces        3,534   35,340   353,400
//
// How the objects look, and why:
//   - Streams: four builder streams in "openshift" (nodejs, python, golang, ubi9) imported
//     from an external registry; the rest in application namespaces, one per namespace and the
//     others spread with a skew (a few namespaces hold many streams). The images of a stream
//     are split by heavy-tailed weights (most streams hold a few revisions, CI streams
//     hundreds), then over 1-6 tags (latest, v1.N) with exponential shares, so some tags
//     hold one item and others ten or more; 15% of streams have a "stable" tag re-pointing
//     at images of their other tags. About half of the streams are imported (unmanaged
//     images, spec tags from quay.io), chosen to keep managed images near 50%.
//   - Times, relative to Options.Now: a tag's newest item is a few minutes old (4%), hours
//     old (21%) or weeks old (the rest); older items go back by gaps of hours, days or weeks
//     per stream, at most about ten months in all. Images are created just before their
//     item; streams before their oldest item.
//   - Layers: each image is one of the shared base images (picked with a Zipf skew, so a few
//     bases are in most images), its stream's dependency layer (rebuilt every few pushes, so
//     consecutive revisions share it) and 1-3 own layers. Sizes run from KiB to tens of MiB,
//     so the LimitRanges (256Mi-1Gi) make some images oversize.
//   - Referrers: each Deployment runs its stream's newest item (by digest as a trigger
//     resolves it, or by tag) with an older ReplicaSet pinned to an older item; the same for
//     DeploymentConfigs (with an ImageChange trigger) and ReplicationControllers.
//     StatefulSets, DaemonSets, Jobs and CronJobs pick any item or an external image.
//     BuildConfigs start from builder stream tags (ImageStreamTag), streams of their own
//     namespace, or an external image; their builds resolved it to a digest pull spec (or an
//     ImageStreamImage). Pods belong to the controllers (Running/Pending) and builds and jobs
//     (Succeeded/Failed); standalone pods in every phase fill up to N/2, a few naming images
//     that no stream holds any more, and the first of them carry the invalid and
//     registry-less references. References point at the integrated registry
//     (image-registry.openshift-image-registry.svc:5000/ns/is@sha256:... or :tag); 15% name
//     external images.
//
// The package holds a cluster compactly and builds typed objects (k8s.io/api and
// github.com/openshift/api types) one at a time in Each, so WriteDump and Load stream even a
// Large cluster. It is test and benchmark support: production code must not import it.
package synth
