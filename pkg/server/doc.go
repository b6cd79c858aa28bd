// Package server wires `pruneguard serve`: it opens the index, builds the tracker, the
// admission webhook with its group-commit writer, the metrics and health endpoints and the
// leader election, passes each its dependencies, and runs them all under one context with an
// errgroup, so that the first failure or a cancelled context stops everything and Run returns
// only when every part has stopped and the index is closed.
//
// This is the one place where pruneguard's parts meet. The package must not hold
// package-level state and must not contain logic of the parts it wires: indexing is the
// tracker's, admission the webhook's, pruning the pruner's (run on the leader through
// Options.OnLeader).
package server
