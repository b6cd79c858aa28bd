// Package index is pruneguard's reference index: a Badger database, one per replica, that
// answers in one prefix scan "who references image D?" (any repository or one), "who
// references ns/is:tag?", "what does object X reference?", "which stream items hold image D?",
// "what is image D?" and "how many images still use blob B?" (globally and per repository).
// It implements model.Reader for the pruner and the audit API.
//
// # What it owns
//
//   - The key layout (keys.go; one-byte prefixes, a KEY comment per kind) and the record
//     encoding (records.go). SchemaVersion covers both.
//   - Writes as Ops applied by Apply: each Op replaces or deletes one object, pending record,
//     image, stream or limit range in one transaction, moving its reverse entries and counts
//     with it (old refs out, new refs in). Apply prepares ops in batches (writer.go) and
//     commits each batch as one transaction as soon as it is prepared, without waiting for
//     the one before (apply.go, pipeline), so that Badger's writer and the preparing share
//     the two cores; a commit that fails after later ones committed has those undone; a batch
//     too big for one transaction is split between ops. Badger replays
//     whole transactions or none, so a killed process leaves each object old or new, never
//     half (crash_test.go kills a writer in a loop to prove it).
//   - Reverse entries that carry what a lookup returns of the reference (refvalue.go), and an
//     in-memory table of each object's Created, Since and Phase (objstates.go): "who
//     references D?" is one prefix scan that reads no object record. This departs from "index
//     entries carry no value" on purpose: it is what keeps the lookup within its latency
//     target, and the compact encodings keep the index smaller than it was without it. The
//     object's fields stay out of the entries so that a phase change writes one record, not
//     one entry per reference; the table is loaded from the records at Open (~120 bytes an
//     object) and a lookup uses it only where it matches the lookup's snapshot.
//   - Change feed (changes.go): OnCommit reports what each committed transaction changed, and
//     time-ordered entries (timeline.go) list the images and stream items created in a time
//     range; the continuous pruner builds its candidates from both.
//   - Pending references (pending.go): recorded at admission with an expiry, returned by
//     lookups with Referrer.Pending, confirmed by the watch (PutObject when it carries them,
//     or Confirm), swept by ExpirePending.
//   - Rebuilds (rebuild.go) through WriteBatch, Check and Diff (the self-check and `pruneguard
//     index verify`), Stats (`pruneguard index stats`), and the value-log GC loop (RunGC).
//   - Temporary indexes (temporary.go, Options.Temporary) for the one-shot prune: no
//     compaction while a rebuild loads them, one merge when it finishes.
//   - An in-memory filter of the object keys written (objfilter.go), so that PutObject of an
//     object the index never held reads nothing from Badger, and a cache of committed object
//     records (reccache.go, Options.RecordCacheBytes), so that an update of an object it holds
//     reads its previous record from memory instead.
//
// # Schema versions and rebuilds
//
// Open never fails because of what the directory holds. It reports a Status: StatusReady, or
// one that needs a rebuild — StatusNew (empty directory), StatusSchemaChanged (another
// SchemaVersion; Open has wiped it) or StatusIncomplete (a rebuild did not finish). The caller
// then runs BeginRebuild, puts a full list from the API server, and Finish marks the index
// complete. The index is a cache of the API server: losing it costs a rebuild, never a wrong
// decision, which is why writes are not synced to disk (see badgerOptions).
//
// # What it must not do
//
// It does not talk to the API server or the registry, parse image references (pkg/imageref)
// or extract them from objects (pkg/extract), and it makes no pruning decision: it stores and
// counts what it is given. Fences live in the API server, not here. Values read from Badger
// are decoded into fresh Go values before a transaction ends; nothing returned aliases Badger
// memory. Writers are serialised inside the index; callers need no locking.
package index
