package tiering

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/objectstore"
)

// BenchmarkKeyCompaction compacts a dirty log of 64 MiB (100-byte values
// over 100,000 keys, each updated about five times, in objects of about 4
// MiB as uploaded WAL segments are) with a 1 MiB offset map (32,768 keys a
// pass, so several passes) and an 8 MiB one (262,144 keys: one pass), on
// the local filesystem store and on MinIO (skipped without the binary). It reports MB/s of dirty log (SetBytes),
// the peak Go heap above the heap before the run, and PUTs and GETs per
// GiB of dirty log.
//
//	go test ./tiering -run '^$' -bench KeyCompaction -benchtime 3x
func BenchmarkKeyCompaction(b *testing.B) {
	for _, mapBytes := range []int64{1 << 20, 8 << 20} {
		b.Run(fmt.Sprintf("fs/map=%dMiB", mapBytes>>20), func(b *testing.B) {
			benchKeyCompaction(b, mapBytes, func(b *testing.B) objectstore.Bucket {
				fs, err := objectstore.NewFS(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { fs.Close() })
				return fs
			})
		})
	}
	for _, mapBytes := range []int64{1 << 20, 8 << 20} {
		b.Run(fmt.Sprintf("minio/map=%dMiB", mapBytes>>20), func(b *testing.B) {
			benchKeyCompactionMinIO(b, mapBytes)
		})
	}
}

func benchKeyCompactionMinIO(b *testing.B, mapBytes int64) {
	{
		srv := miniotest.Start(b)
		n := 0
		benchKeyCompaction(b, mapBytes, func(b *testing.B) objectstore.Bucket {
			n++
			cfg := objectstore.DefaultS3Config()
			cfg.Bucket, cfg.Prefix = srv.Bucket, fmt.Sprintf("keybench-%d", n)
			cfg.Endpoint, cfg.Region, cfg.PathStyle = srv.Endpoint, miniotest.Region, true
			cfg.AccessKey, cfg.SecretKey = srv.AccessKey, srv.SecretKey
			s3, err := objectstore.NewS3(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s3.Close() })
			return s3
		})
	}
}

const (
	benchDirtyBytes = 64 << 20
	benchKeys       = 100_000
	benchValue      = 100
	benchObject     = 4 << 20
)

func benchKeyCompaction(b *testing.B, mapBytes int64, bucket func(*testing.B) objectstore.Bucket) {
	ctx := context.Background()
	var dirty, gets, puts, passes int64
	var peak uint64
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		f := newKeyFixtureOn(b, bucket(b), map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"})
		rng := rand.New(rand.NewPCG(3, 4))
		old := time.Now().Add(-time.Hour).UnixMilli()
		value := make([]byte, benchValue+8)
		var size int64
		for size < benchDirtyBytes {
			recs := make([]kv, benchObject/(benchValue+20))
			for i := range recs {
				for j := 0; j < benchValue; j += 8 {
					binary.LittleEndian.PutUint64(value[j:], rng.Uint64())
				}
				recs[i] = kv{key: fmt.Appendf(nil, "key-%06d", rng.IntN(benchKeys)), value: append([]byte(nil), value[:benchValue]...)}
			}
			f.commit(b, old, 200, recs)
			pl, _ := f.meta.PartitionLog(f.topic.ID, 0)
			size = pl.Bytes
		}
		cfg := DefaultKeyCompactorConfig()
		cfg.MapBytes, cfg.TempDir = mapBytes, b.TempDir()
		c, err := NewKeyCompactor(cfg, f.bucket, f.meta, nil)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var top atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > base.HeapInuse && ms.HeapInuse-base.HeapInuse > top.Load() {
					top.Store(ms.HeapInuse - base.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		b.StartTimer()
		start := time.Now()
		res, err := c.RunOnce(ctx)
		elapsed += time.Since(start)
		b.StopTimer()
		close(stop)
		<-done
		if err != nil {
			b.Fatal(err)
		}
		st := c.Stats()
		dirty += size
		gets += st.Gets
		puts += st.Puts
		passes += int64(res.Passes)
		peak = max(peak, top.Load())
	}
	b.SetBytes(dirty / int64(b.N))
	gib := float64(dirty) / (1 << 30)
	b.ReportMetric(float64(dirty)/(1<<20)/elapsed.Seconds(), "dirtyMB/s")
	b.ReportMetric(float64(peak)/(1<<20), "peakHeapMiB")
	b.ReportMetric(float64(puts)/gib, "PUTs/GiB")
	b.ReportMetric(float64(gets)/gib, "GETs/GiB")
	b.ReportMetric(float64(passes)/float64(b.N), "passes")
}
