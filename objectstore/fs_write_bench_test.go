//go:build linux

package objectstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
)

// BenchmarkFSPutCPU puts 16 MiB objects (an upload of a full WAL segment)
// with the direct writes and with the buffered copy they replaced, and
// reports the process's CPU seconds (user + system, getrusage) per GB
// stored. "bytes" gives the body as a BytesReader, as the uploader does
// (direct writes from the caller's aligned memory); "direct" as a
// bytes.Reader (direct writes through the aligned staging buffer);
// "buffered" is the write before direct writes.
func BenchmarkFSPutCPU(b *testing.B) {
	body := AlignedBuffer(16 << 20)[:16<<20]
	for i := range body {
		body[i] = byte(i * 131)
	}
	for _, mode := range []string{"bytes", "direct", "buffered"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			bkt, err := newFS(dir)
			if err != nil {
				b.Fatal(err)
			}
			put := func(key string) error {
				switch mode {
				case "bytes":
					return bkt.Put(context.Background(), key, NewBytesReader(body), int64(len(body)))
				case "direct":
					return bkt.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)))
				}
				return bufferedPut(dir, key, body)
			}
			b.SetBytes(int64(len(body)))
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key := fmt.Sprintf("wal/1/%d.obj", i)
				if err := put(key); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.Remove(bkt.path(key))
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric((cpuSeconds()-cpu0)/(float64(b.N)*float64(len(body))/1e9), "CPU-s/GB")
		})
	}
}

// bufferedPut is the fs driver's write before direct writes: io.Copy
// through the page cache, fsync.
func bufferedPut(dir, key string, body []byte) error {
	f, err := os.CreateTemp(dir, "buffered-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, ctxReader{ctx: context.Background(), r: bytes.NewReader(body)}); err != nil {
		return err
	}
	return f.Sync()
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
