package tiering

import (
	"github.com/shalelog/shale/internal/hugepage"
	"github.com/shalelog/shale/internal/rawalloc"
)

// newBlockBuffer returns n bytes of memory that may hold anything
// (internal/rawalloc): a block's GET fills its buffer whole before anyone
// reads it, and a GET whose body ends early or fails drops its buffer, so
// clearing it first would be wasted work (for a 4 MiB block on reused heap
// memory, about a tenth of the broker's CPU on a cold replay). Buffers of
// 1 MiB or more are advised for huge pages (internal/hugepage).
func newBlockBuffer(n int) []byte {
	b := rawalloc.Bytes(n)
	hugepage.Advise(b)
	return b
}
