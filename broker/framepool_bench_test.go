package broker

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkReadFrame reads 1 MiB produce frames as the connection does,
// with the frame given back after each request (pooled) and left to the
// collector (fresh), as before the frame pools.
func BenchmarkReadFrame(b *testing.B) {
	src := make([]byte, 1<<20)
	for _, mode := range []string{"pooled", "fresh"} {
		b.Run(mode, func(b *testing.B) {
			r := bytes.NewReader(src)
			b.SetBytes(int64(len(src)))
			for i := 0; i < b.N; i++ {
				r.Reset(src)
				var f []byte
				if mode == "pooled" {
					var err error
					if f, err = readFrame(r, len(src)); err != nil {
						b.Fatal(err)
					}
					putFrame(f)
					continue
				}
				f = make([]byte, len(src))
				if _, err := io.ReadFull(r, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
