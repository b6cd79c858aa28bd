// Package audit answers "who references this image?", "what does this object pull?", "which
// images does nothing use?" and "what did pruneguard do to this image, and why?", for the CLI
// (offline on a dump or a data directory, online through `serve`) and for the HTTPS API that
// `serve` mounts.
//
// # What it owns
//
//   - The query layer (query.go, objects.go, images.go): Local answers the four questions from
//     a model.Reader (the live index, or the temporary index of a dump) and a Trail. The
//     results are the JSON documents of the API and of `-o json|yaml`.
//   - The HTTPS API (handler.go) and its access control (authz.go, kube.go): the caller's
//     bearer token is authenticated with a TokenReview, each query is authorised with
//     SubjectAccessReviews, and both answers are cached briefly. Protect guards /metrics the
//     same way. Client (client.go) is the CLI's side of the API.
//   - The audit trail (trail.go, store.go, recorder.go): a Record per prune decision and
//     action, kept in a small Badger database of its own, logged as one structured line and
//     published as a Kubernetes Event on the Image or ImageStream.
//   - The pruning metrics (metrics.go) that the pruner, the fence and the webhook record into.
//
// # Access rules
//
// A query names a scope: one namespace, or the whole cluster. A namespace scope needs `get`
// on imagestreams.image.openshift.io in that namespace (or the cluster scope's right) and
// answers only with referrers, stream items and trail records of that namespace; the cluster
// scope needs `get` on images.image.openshift.io (cluster-wide) and answers with everything. A query outside the
// caller's rights is refused with 403, never silently narrowed, so an empty answer always
// means "nothing", not "nothing you may see". Resolving NAMESPACE/STREAM:TAG reads that
// stream, so it also needs `get` on imagestreams in NAMESPACE; tags that an object references
// are resolved only in namespaces the caller may read. Whether an image is referenced at all
// is a fact about the whole cluster and is reported as such in namespace scope (without
// naming referrers elsewhere): an image that a pod in another namespace uses is not
// "unreferenced". No token, or a token the API server rejects, is answered with 401.
//
// # What it must not do
//
// It does not write the index, make pruning decisions or import the pruner (the pruner
// imports this package to record its trail and metrics). The trail is not stored in the index
// on purpose: the index is a cache of the API server that a schema change or a rebuild wipes,
// while the trail is history that nothing can rebuild.
package audit
