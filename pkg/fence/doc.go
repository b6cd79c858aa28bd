// Package fence is where fences live: the Fence API type (pruneguard.io/v1alpha1, the chart's
// CRD), the Watcher that every replica runs to enforce them, and the admission Checker the
// webhook consults (DESIGN.md, "The fence: closing the timing gap").
//
// # Why a CRD
//
// A fence must be seen by every webhook replica and must outlive the pruner that made it, so
// it lives in the Kubernetes API, not in any replica's Badger index. Of the two carriers the
// issue offers, a small cluster-scoped CRD is chosen over annotations on the Image objects:
//
//   - a fence covers what the deletion of one or many images touches: image stream tags and
//     freed blobs too, which have no object of their own to annotate (and the Images of a
//     test cluster, or of a plain registry, may not even be API objects);
//   - one object per batch means one watch event and one observation per replica, however
//     many images it holds, where annotations would mean a write per image;
//   - its spec is immutable (a CEL rule), so "replica R observed fence F" means R enforces
//     all of F; status.observedBy is a list-map keyed by replica, so each replica records its
//     own observation with server-side apply under its own field manager, without conflicts;
//   - RBAC can grant watching fences without granting writes to Images, and a restarted
//     pruner lists its own fences by label, however many images they hold.
//
// # What a replica does
//
// The Watcher watches fences, rebuilds an immutable Set on every change (fences are few: a
// fence is a batch and stands for seconds), swaps it in, and only then records in
// status.observedBy that this replica enforces it. The Checker answers admissions from that
// Set (see Checker). Tombstones are fences in phase Tombstoned: late references by digest are
// refused with "was pruned at T"; pushes of the image again are not. DenialAuditor, set as the
// Checker's OnDeny, counts each denial and writes it to the audit trail against the user who
// sent the refused request (the replica that refused it is recorded apart).
//
// # A pruner that dies
//
// The pruner labels its fences pruneguard.io/owner=pruner and, on start, lists them
// (pruner.FencedPruner.Recover): a fence before Deleting is lifted, since nothing was deleted
// yet (Deleting is written before the first delete); a fence in Deleting is re-verified, not
// blindly resumed: propagation to the replicas serving now, the probe, a fresh barrier and
// re-check, and only then the rest of the deletion, because a half-deleted image must stay
// fenced and a reference may have slipped in through a webhook outage meanwhile; a tombstone
// is lifted once it has expired.
//
// # What it must not do
//
// It never deletes or plans anything, and never refuses a request that names nothing fenced
// (an unreachable webhook, failurePolicy Ignore, is covered by the pruner's verify step, not
// by refusing more here). The protocol that creates, verifies, tombstones and lifts fences is
// the pruner's (pruner/fenced.go).
//
// +groupName=pruneguard.io
package fence
