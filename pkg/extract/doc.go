// Package extract turns Kubernetes and OpenShift objects into pruneguard's model: the image
// references of every referrer kind, each with the field path it was found at, and the Image,
// ImageStream and LimitRange data the pruning policy reads.
//
// Object is the one entry point; it dispatches on the Go type of a typed object (and converts
// an *unstructured.Unstructured of a known kind first). Unknown kinds give an empty Result and
// no error, so callers can feed it anything they list or admit. The package also builds the
// scheme of the kinds it reads and decodes raw JSON or YAML into typed objects, for the
// --from-file loader and the webhook.
//
// Which references count follows DESIGN.md "What counts as a reference": what oc counts
// (containers and init containers of pod specs, the strategy `from` of builds and build
// configs) is recorded with Extra false, and what only pruneguard counts (ephemeral
// containers, DeploymentConfig and BuildConfig image change triggers, build source images,
// image stream spec tags) with Extra true, so the pruner can explain every kept image and keep
// oc's abort rule (only non-Extra invalid references abort a prune).
//
// An invalid image string never fails an object: its Ref has Invalid set and the typed
// *imageref.InvalidReferenceError, carrying oc's message, is in Result.Invalid. Blank container
// images are skipped, as oc skips them.
//
// Extraction of typed objects walks struct fields directly, with no reflection, because the
// webhook calls it on every admission. The package does no I/O and keeps no state; it must not
// import the index, the pruner or a Kubernetes client.
package extract
