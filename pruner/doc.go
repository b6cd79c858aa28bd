// Package pruner makes the decisions of `oc adm prune images` from the reference index: which
// image stream items, layer links, manifest links, blobs and Image objects a prune deletes, and
// for everything it keeps or deletes, the rule that decided it.
//
// The package owns the pruning policy (Options, Policy), the rules (one small function per
// rule, independent of how candidates are found), the planner (Planner: a full plan in oc's
// order, or one stream or one image at a time for the continuous mode), the plan that an
// executor consumes (Plan, StreamPlan, ImagePlan), and its printing in oc's words (WriteText,
// Report). The planner reads only through model.Reader and never deletes anything; it must not
// call the Kubernetes API, the registry, or the wall clock: the time a policy is evaluated at
// is part of the Policy.
//
// The one-shot prune's side of the package is kept apart from the planner: ListCluster loads
// the cluster into a temporary index page by page; the Executor carries out a Plan through
// five small deleter interfaces (ImageAPI for image streams and Images, pkg/registry's Client
// for links and blobs), with the describing decorators printing oc's lines and making the dry
// run. The planner files never import them.
package pruner
