// Package tracker keeps the index equal to the cluster from watches. It runs one
// controller-runtime cache with an informer for every referrer kind (DESIGN.md, "What counts as
// a reference") plus Images, ImageStreams and LimitRanges, each stripped by a transform to the
// fields the index needs, and turns their events into index writes: an add or update replaces
// the object's references (confirming what the webhook recorded as pending), a delete removes
// them, and a sweep expires pending records whose object never appeared.
//
// Start-up: with a persisted index it catches up by comparing the index with the informers'
// first full list and writing only the differences; with none (or one of another schema) it
// rebuilds through a write batch. Synced reports when that is done and every queued event is
// applied; the server's /readyz follows it. A kind whose API the server does not serve (a
// plain Kubernetes cluster has no image.openshift.io) is skipped with one log line and picked
// up by a periodic discovery check when it appears.
//
// Verify lists everything from the API server into a fresh index and compares it with the live
// one, for `pruneguard index verify`.
//
// What it must not do: write pending records (the webhook does), decide anything about
// pruning, or mutate objects it gets from the cache. All its index writes happen on one
// goroutine, so a stale catch-up can never overtake a newer event for long: every cache change
// is followed by its event.
package tracker
