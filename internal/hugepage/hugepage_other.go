//go:build !linux

package hugepage

// Advise does nothing where madvise(MADV_HUGEPAGE) does not exist.
func Advise([]byte) {}
