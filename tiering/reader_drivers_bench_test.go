//go:build unix

package tiering

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/objectstore"
)

// BenchmarkColdReplayDrivers is the cold replay of BenchmarkColdReadSequential
// (a fresh Reader with the default 4 MiB blocks and read-ahead, 1 MiB
// fetches, every batch's CRC checked) from a real MinIO server, through
// each s3 driver in turn. It reports MB/s and the process's CPU time per GB
// replayed (cpu-s/GB; MinIO's own CPU is not included). The drivers take
// turns, SHALE_BENCH_ROUNDS rounds (default 1) with the order swapped every
// round; later rounds are named driver=aws#01 and so on:
//
//	SHALE_BENCH_ROUNDS=7 go test -run '^$' -bench BenchmarkColdReplayDrivers -benchtime 5x ./tiering/
func BenchmarkColdReplayDrivers(b *testing.B) {
	srv := miniotest.Start(b)
	ctx := context.Background()
	cfg := objectstore.DefaultS3Config()
	cfg.Bucket = srv.Bucket
	cfg.Prefix = "replay"
	cfg.Endpoint = srv.Endpoint
	cfg.Region = miniotest.Region
	cfg.PathStyle = true
	cfg.AccessKey = srv.AccessKey
	cfg.SecretKey = srv.SecretKey
	open := func(d objectstore.S3Driver) objectstore.Bucket {
		bkt, err := objectstore.OpenS3(ctx, d, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { bkt.Close() })
		return bkt
	}

	// Four single-partition objects of about 32 MiB of 16 KiB batches, as
	// compaction leaves them, written once through the AWS driver.
	f := newColdFixtureOn(open(objectstore.DriverAWS))
	rng := rand.New(rand.NewPCG(40, 40))
	shape := coldBatchShape{minValue: 4000, maxValue: 4000, maxRecords: 4}
	var keys []index.Key
	var total int64
	for p := range 4 {
		k := coldKey(9, int32(p))
		var batches []coldBatch
		next := int64(0)
		for range 2048 {
			bs := genColdBatches(b, rng, next, 1, shape)
			batches = append(batches, bs...)
			next = bs[0].last + 1
		}
		f.addObject(b, fmt.Sprintf("bench-%d", p), []coldPart{{key: k, batches: batches}}, index.DefaultSparseInterval, true)
		keys = append(keys, k)
		total += f.cat.extents[k][0].Len
	}

	rcfg := DefaultReaderConfig()
	buckets := map[objectstore.S3Driver]objectstore.Bucket{
		objectstore.DriverAWS:   open(objectstore.DriverAWS),
		objectstore.DriverMinio: open(objectstore.DriverMinio),
	}
	rounds := 1
	if v := os.Getenv("SHALE_BENCH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SHALE_BENCH_ROUNDS=%q is not a positive number", v)
		}
		rounds = n
	}
	var order []objectstore.S3Driver
	for r := range rounds {
		if r%2 == 0 {
			order = append(order, objectstore.DriverAWS, objectstore.DriverMinio)
		} else {
			order = append(order, objectstore.DriverMinio, objectstore.DriverAWS)
		}
	}
	// One untimed pass, so that neither driver pays for a cold page cache
	// or for the garbage of building the fixture.
	for _, k := range keys {
		body, err := f.store.ReadRange(ctx, f.cat.extents[k][0].Object, 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, body)
		body.Close()
	}
	runtime.GC()
	for _, d := range order {
		bkt := buckets[d]
		b.Run("driver="+string(d), func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for b.Loop() {
				r, err := NewReader(bkt, f.cat, rcfg)
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				for _, k := range keys {
					ext := f.cat.extents[k][0]
					for off := ext.BaseOffset; off <= ext.LastOffset; {
						data, err := r.Read(ctx, k, off, ext.LastOffset+1, 1<<20)
						if err != nil || len(data) == 0 {
							b.Fatalf("read %v at %d: %d bytes, %v", k, off, len(data), err)
						}
						n += int64(len(data))
						off = nextOffsetOf(b, data)
					}
				}
				r.Close()
				if n != total {
					b.Fatalf("replayed %d bytes, want %d", n, total)
				}
			}
			b.ReportMetric((processCPU(b)-cpu0).Seconds()/(float64(b.N)*float64(total)/1e9), "cpu-s/GB")
		})
	}
}

// processCPU returns the CPU time (user + system) this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
