package synth

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/bench/report"
	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// countingWriter counts the bytes of a dump without keeping them.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)

// BenchmarkGenerate generates a cluster of each size report.Sizes selects and writes its dump,
// reporting the time of each step and the size of the dump.
func BenchmarkGenerate(b *testing.B) {
	for _, s := range report.Sizes() {
		size := Size(s)
		b.Run("size="+s, func(b *testing.B) {
			var gen, dump time.Duration
			var bytes int64
			for i := range b.N {
				start := time.Now()
				c, err := Generate(Options{Size: size, Seed: int64(i + 1), Now: testNow})
				if err != nil {
					b.Fatal(err)
				}
				gen += time.Since(start)
				start = time.Now()
				w := &countingWriter{}
				if err := WriteDump(w, c); err != nil {
					b.Fatal(err)
				}
				dump += time.Since(start)
				bytes = w.n
			}
			b.ReportMetric(gen.Seconds()*1000/float64(b.N), "generate-ms/op")
			b.ReportMetric(dump.Seconds()*1000/float64(b.N), "dump-ms/op")
			b.ReportMetric(float64(bytes)/(1<<20), "dump-MiB")
			b.ReportMetric(float64(bytes)/(1<<20)/(dump.Seconds()/float64(b.N)), "dump-MiB/s")
		})
	}
}

// BenchmarkLoad loads a size S cluster into a fresh real API server (kube-apiserver and etcd
// from testenv) per iteration: through the API with two numbers of concurrent writers, and
// straight into etcd.
func BenchmarkLoad(b *testing.B) {
	ways := []struct {
		name string
		load func(context.Context, *testenv.Env, *Cluster) (LoadStats, error)
	}{
		{"api/parallel=8", func(ctx context.Context, env *testenv.Env, c *Cluster) (LoadStats, error) {
			return Load(ctx, env.Client, c, 8)
		}},
		{"api/parallel=32", func(ctx context.Context, env *testenv.Env, c *Cluster) (LoadStats, error) {
			return Load(ctx, env.Client, c, 32)
		}},
		{"etcd/parallel=4", func(ctx context.Context, env *testenv.Env, c *Cluster) (LoadStats, error) {
			return LoadEtcd(ctx, etcdEndpoint(env), c, 4)
		}},
	}
	for _, way := range ways {
		b.Run("size=S/"+way.name, func(b *testing.B) {
			c, err := Generate(Options{Size: Small, Seed: 1, Now: testNow})
			if err != nil {
				b.Fatal(err)
			}
			var total LoadStats
			b.StopTimer()
			for range b.N {
				env, stop, err := testenv.Start(context.Background(), testenv.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				stats, err := way.load(context.Background(), env, c)
				b.StopTimer()
				if err := stop(); err != nil {
					b.Error(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				total.Objects += stats.Objects
				total.StatusUpdates += stats.StatusUpdates
				total.Duration += stats.Duration
			}
			b.ReportMetric(total.ObjectsPerSecond(), "objects/s")
			b.ReportMetric(float64(total.Objects+total.StatusUpdates)/total.Duration.Seconds(), "writes/s")
			b.ReportMetric(float64(total.Objects)/float64(b.N), "objects")
		})
	}
}
