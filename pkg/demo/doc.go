// Package demo runs pruneguard's whole loop on one machine, for `make demo` and `pruneguard
// demo`: it starts the local control plane and registry of pkg/testenv, runs `serve` in-process
// against them with the webhook registered from the chart and a self-signed certificate, seeds
// a small realistic cluster, and narrates each step with the command a user would type, checking
// every step's outcome. A step whose outcome is wrong fails the demo with an error that says
// what was expected.
//
// The package must not be used by serve or the pruner; it only drives them, and it starts
// nothing that outlives Run.
package demo
