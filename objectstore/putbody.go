package objectstore

import (
	"bytes"
	"fmt"
	"io"
)

// putBody is the choice both s3 drivers make for a Put: a body of known
// size up to threshold is read whole (exactly size bytes, no more) and
// sent with one request (single); a body of unknown size is read up to
// threshold+1 bytes to see whether one request will do; anything larger
// goes to multi as a stream (what was read ahead first).
func putBody(r io.Reader, size, threshold int64, single func([]byte) error, multi func(io.Reader) error) error {
	if size >= 0 && size <= threshold {
		buf := make([]byte, size)
		if n, err := io.ReadFull(r, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fmt.Errorf("body has %d bytes, want %d", n, size)
			}
			return fmt.Errorf("read body: %w", err)
		}
		if err := expectEOF(r, size); err != nil {
			return err
		}
		return single(buf)
	}
	if size < 0 {
		buf, err := io.ReadAll(io.LimitReader(r, threshold+1))
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		if int64(len(buf)) <= threshold {
			return single(buf)
		}
		r = io.MultiReader(bytes.NewReader(buf), r)
	}
	return multi(r)
}
