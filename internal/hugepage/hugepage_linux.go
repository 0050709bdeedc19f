package hugepage

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the platforms Shale
// runs on (x86-64, arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// Advise asks the kernel to back a new, not yet touched buffer with
// transparent huge pages (madvise MADV_HUGEPAGE). Buffers under 1 MiB are
// left alone.
//
// The advice covers the 2 MiB-aligned stretch around the buffer, so that
// its unaligned ends can be huge pages too: that stretch lies in the same
// Go heap arena (arenas are 64 MiB, aligned), and the advice changes no
// contents, only how the kernel backs memory it faults in later. It is a
// hint: on failure, or where huge pages are off, nothing changes.
func Advise(b []byte) {
	if len(b) < hugePage/2 {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	from := start &^ (hugePage - 1)
	to := (start + uintptr(len(b)) + hugePage - 1) &^ (hugePage - 1)
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, from, to-from, unix.MADV_HUGEPAGE)
}
