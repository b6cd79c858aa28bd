// Package tracker keeps the index equal to the cluster from watches. It runs its own list and
// watch loop per referrer kind (DESIGN.md, "What counts as a reference") plus Images,
// ImageStreams and LimitRanges, over REST clients that ask for protobuf (built-in kinds) and
// take JSON (kinds served through CRDs). It keeps no copy of the objects: each event is
// extracted at once and queued as the index ops it implies (the index holds the old state, a
// delete event carries the object), coalesced per object, and written in batches by one
// writer goroutine: an add or update replaces the object's references (confirming what the
// webhook recorded as pending), a delete removes them, and a sweep expires pending records
// whose object never appeared.
//
// Watermarks: with every batch the writer also writes, per kind, the resourceVersion up to
// which the index now reflects the kind (pkg/index SetWatermark), in the same transaction as
// the last ops it covers, so a crash leaves a watermark behind the data, never ahead.
// Bookmarks advance it too.
//
// Start-up: an index that needs a rebuild (new, other schema, unfinished rebuild) is filled
// from paged lists, kinds in parallel, streamed into one write batch; each kind's watch starts
// at its list's version. A persisted index resumes each kind's watch from its watermark and
// lists nothing. A kind without a watermark, or whose watermark the API server no longer
// reaches (410 Gone: etcd compacted, or the watch cache's window passed), is listed and
// compared with the index, and only the differences are written, deletes included. A kind
// has caught up once a watch brings a bookmark (sent after every event held for it) or runs
// quiet; Synced reports when every kind served at start-up has and the queue is applied; the
// server's /readyz follows it. A kind whose API the server does not serve (a plain Kubernetes
// cluster has no image.openshift.io) is skipped with one log line, removed from the index,
// and picked up by a periodic discovery check when it appears.
//
// Verify lists everything from the API server into a fresh index and compares it with the
// live one, for `pruneguard index verify`.
//
// What it must not do: write pending records (the webhook does), decide anything about
// pruning, or write the index from more than its one writer goroutine (a rebuild has its own
// single writer), so a stale catch-up can never overtake a newer event: a kind is compared
// only once its queued changes are written.
package tracker
