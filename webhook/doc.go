// Package webhook is pruneguard's admission endpoint. For every CREATE and UPDATE of a referrer
// kind (DESIGN.md, "What counts as a reference") it extracts the object's image references and
// records them in the index as pending, keyed by the object's identity, before the API server
// persists the object; the tracker later confirms them from the watch, or they expire.
//
// It owns the HTTP handler (decoding the AdmissionReview and its objects, straight into the
// typed object of the request's kind, and answering it), the group-commit writer that batches
// the pending writes of concurrent requests into few index transactions, the Fence seam
// consulted before anything is recorded, and the TLS server that serves the handler from a
// certificate directory reloaded when its files change.
//
// What it must not do:
//   - refuse a request for any reason of its own: malformed reviews, unknown kinds, objects it
//     cannot decode, a slow or failing index all end in an allowed response (logged once per
//     interval, counted, with a warning to the user where one helps). Only the Fence denies.
//   - write anything for a dry-run request (the webhook is registered with
//     sideEffects: NoneOnDryRun, and the fence's end-to-end proof is such a request).
//   - hold a request longer than it takes to commit its pending record: the handler waits for
//     the group commit so that "pending before the create returns" holds, but at most
//     Options.WriteTimeout, and it never blocks on a full queue.
//   - keep package-level state: metrics are registered on the registry it is given.
package webhook
