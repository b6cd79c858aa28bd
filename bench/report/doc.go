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
// Parse reads the output, Build judges it, WriteMarkdown and WriteFiles present it; the
// command bench/cmd/report runs them. The package reads benchmark output and writes files;
// it runs no benchmark and must not import the packages it reports on.
package report
