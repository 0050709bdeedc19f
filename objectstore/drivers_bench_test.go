//go:build unix

package objectstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/objectstore"
)

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkColdReadDrivers reads segment-sized objects from a local MinIO
// with ranged GETs of the cold reader's default block size (4 MiB), five
// in flight, through each s3 driver in turn, and checks every byte against
// what was written. Besides MB/s it reports the benchmark process's CPU
// time per GB read (cpu-s/GB: the driver's cost, MinIO's own CPU not
// included). The drivers take turns, SHALE_BENCH_ROUNDS rounds (default
// 1) of one run each, the order swapped every round, so both see the same
// machine load; later rounds are named driver=aws#01 and so on:
//
//	SHALE_BENCH_ROUNDS=7 go test -run '^$' -bench BenchmarkColdReadDrivers -benchtime 3x ./objectstore/
func BenchmarkColdReadDrivers(b *testing.B) {
	const (
		objects  = 4
		objSize  = 64 << 20
		block    = 4 << 20
		inFlight = 5
	)
	srv := miniotest.Start(b)
	ctx := context.Background()
	cfg := s3Config(srv, "cold")
	cfg.PartSize = 16 << 20
	cfg.MultipartThreshold = 16 << 20
	writer := mustS3(b, cfg)
	data := make([][]byte, objects)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range data {
		data[i] = make([]byte, objSize)
		for j := 0; j < objSize; j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				data[i][j+k] = byte(v >> (8 * k))
			}
		}
		if err := writer.Put(ctx, fmt.Sprintf("seg-%d", i), bytes.NewReader(data[i]), objSize); err != nil {
			b.Fatal(err)
		}
	}
	// One untimed pass, so that neither driver pays for a cold page cache.
	for i := range objects {
		body, err := writer.ReadRange(ctx, fmt.Sprintf("seg-%d", i), 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, body)
		body.Close()
	}
	type job struct{ obj, off int }
	buckets := openDrivers(b, cfg)
	for _, d := range driverRounds(b) {
		bkt := buckets[d]
		b.Run("driver="+string(d), func(b *testing.B) {
			b.SetBytes(objects * objSize)
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				jobs := make(chan job)
				errs := make(chan error, inFlight)
				var wg sync.WaitGroup
				for range inFlight {
					wg.Add(1)
					go func() {
						defer wg.Done()
						buf := make([]byte, block)
						for j := range jobs {
							body, err := bkt.ReadRange(ctx, fmt.Sprintf("seg-%d", j.obj), int64(j.off), block)
							if err != nil {
								errs <- err
								return
							}
							n, err := io.ReadFull(body, buf)
							body.Close()
							if err != nil || n != block || !bytes.Equal(buf, data[j.obj][j.off:j.off+block]) {
								errs <- fmt.Errorf("block %d of seg-%d: %d bytes, %v, or bytes differ", j.off, j.obj, n, err)
								return
							}
						}
					}()
				}
			feed:
				for i := range objects {
					for off := 0; off < objSize; off += block {
						select {
						case jobs <- job{i, off}:
						case err := <-errs:
							b.Error(err)
							break feed
						}
					}
				}
				close(jobs)
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
			gb := float64(b.N) * objects * objSize / 1e9
			b.ReportMetric((cpuTime(b)-cpu0).Seconds()/gb, "cpu-s/GB")
		})
	}
}

// BenchmarkPutDrivers uploads WAL-segment-sized objects (8 MiB, one
// PutObject) to a local MinIO through each s3 driver in turn, in rounds as
// BenchmarkColdReadDrivers does, and reports MB/s and the process's CPU
// time per GB written:
//
//	SHALE_BENCH_ROUNDS=7 go test -run '^$' -bench BenchmarkPutDrivers -benchtime 20x ./objectstore/
func BenchmarkPutDrivers(b *testing.B) {
	const size = 8 << 20
	srv := miniotest.Start(b)
	ctx := context.Background()
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	cfg := s3Config(srv, "put")
	def := objectstore.DefaultS3Config()
	cfg.PartSize, cfg.MultipartThreshold = def.PartSize, def.MultipartThreshold
	buckets := openDrivers(b, cfg)
	for _, d := range driverRounds(b) {
		bkt := buckets[d]
		b.Run("driver="+string(d), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			i := 0
			for b.Loop() {
				i++
				if err := bkt.Put(ctx, fmt.Sprintf("obj-%d", i%8), bytes.NewReader(data), size); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime(b)-cpu0).Seconds()/(float64(b.N)*size/1e9), "cpu-s/GB")
		})
	}
}

// openDrivers opens cfg through each s3 driver.
func openDrivers(b *testing.B, cfg objectstore.S3Config) map[objectstore.S3Driver]objectstore.Bucket {
	m := map[objectstore.S3Driver]objectstore.Bucket{}
	for _, d := range []objectstore.S3Driver{objectstore.DriverAWS, objectstore.DriverMinio} {
		bkt, err := objectstore.OpenS3(context.Background(), d, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { bkt.Close() })
		m[d] = bkt
	}
	return m
}

// driverRounds returns the order in which the drivers run:
// SHALE_BENCH_ROUNDS rounds (default 1), aws first in even rounds and
// minio first in odd ones.
func driverRounds(b *testing.B) []objectstore.S3Driver {
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
	return order
}
