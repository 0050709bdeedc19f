// Command loopback measures how fast this machine copies bytes through a
// loopback TCP connection: one writer, one reader, 1 MiB writes. It is
// the ceiling of any broker benchmark whose client and broker share the
// machine. It prints one JSON object: {"bytes": N, "seconds": S,
// "mb_per_sec": R} with MB = 10^6 bytes.
//
//	go run ./bench/loopback --bytes 4GiB
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/shalelog/shale/loadtest"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("loopback", flag.ContinueOnError)
	size := fs.String("bytes", "2GiB", "bytes to copy")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	total, err := loadtest.ParseByteSize(*size)
	if err != nil || total < 1 {
		fmt.Fprintf(os.Stderr, "loopback: --bytes %q: want a positive byte size\n", *size)
		return 2
	}
	seconds, err := copyLoopback(total)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loopback: %v\n", err)
		return 1
	}
	out := map[string]any{"bytes": total, "seconds": seconds, "mb_per_sec": float64(total) / 1e6 / seconds}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return 1
	}
	return 0
}

// copyLoopback writes total bytes to a loopback connection and returns
// the seconds until the reader has received the last of them.
func copyLoopback(total int64) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	received := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			received <- err
			return
		}
		defer conn.Close()
		n, err := io.CopyBuffer(io.Discard, conn, make([]byte, 1<<20))
		if err == nil && n != total {
			err = fmt.Errorf("received %d of %d bytes", n, total)
		}
		received <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for left := total; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			conn.Close()
			return 0, fmt.Errorf("write: %w", err)
		}
		left -= n
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil && !errors.Is(err, net.ErrClosed) {
		return 0, fmt.Errorf("close write: %w", err)
	}
	if err := <-received; err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	conn.Close()
	return time.Since(start).Seconds(), nil
}
