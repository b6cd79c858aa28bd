// Package report turns `go test -bench` output into pruneguard's benchmark report: every
// target of issues 3 to 7 with what was measured and whether it was met, the side-by-side
// figures of the full-scan way of pruning against pruneguard's, how each cost grows from
// cluster size S to M to L, every benchmark line, and PNG plots (gonum/plot).
//
// The contract with the benchmarks is in the names they report:
//   - a target is proved by a b.ReportMetric unit listed in Targets ("lookup-µs/median",
//     "full-plan-s", ...), in whatever package the benchmark lives;
//   - the cluster size is a sub-benchmark element "size=S", "size=M" or "size=L"
//     (pkg/synth's sizes), e.g. BenchmarkPlan/size=M;
//   - a latency distribution is reported with Latencies, as "<name>/median",
//     "<name>/p90", "<name>/p99", "<name>/p99.9" and "<name>/max";
//   - peak memory is read with ResetPeakRSS and PeakRSSMiB.
//
// The growth with the cluster is shown twice: the named costs of Costs (full-scan and index
// plan time and RSS, one decision, apply, lookup, cold and warm start, ...) with their value
// at each size, the factors S→M and M→L and growth-time.png / growth-memory.png against the
// number of images; and every metric measured at two sizes or more, with growth.png.
//
// Parse reads the output, Merge completes it with an earlier report's sizes that this run did
// not measure (so that a run of size L alone keeps the S and M columns, marked as carried),
// Build judges it, WriteMarkdown and WriteFiles present it; the command bench/cmd/report runs
// them. The package reads benchmark output and writes files;
// it runs no benchmark and must not import the packages it reports on.
package report
