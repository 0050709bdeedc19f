package tiering

import (
	"unsafe"

	"github.com/shalelog/shale/internal/hugepage"
)

// A block's buffer is filled whole by its GET before anyone reads it (a
// GET whose body ends early or fails drops its buffer), so zeroing it
// first is wasted work: for a 4 MiB block on reused heap memory, a pass
// over 4 MiB that cost about a tenth of the broker's CPU on a cold replay.
// newBlockBuffer therefore takes the memory from the Go allocator without
// clearing it (runtime.mallocgc with needzero false: the call the
// runtime keeps for packages such as Pebble, go.dev/issue/67401). The
// memory holds no pointers, so the collector never looks inside.

//go:linkname mallocgc runtime.mallocgc
func mallocgc(size uintptr, typ unsafe.Pointer, needzero bool) unsafe.Pointer

// newBlockBuffer returns n bytes of memory that may hold anything: the
// caller overwrites every byte before it reads or hands out any. Buffers
// of 1 MiB or more are advised for huge pages (internal/hugepage).
func newBlockBuffer(n int) []byte {
	if n <= 0 {
		return nil
	}
	b := unsafe.Slice((*byte)(mallocgc(uintptr(n), nil, false)), n)
	hugepage.Advise(b)
	return b
}
