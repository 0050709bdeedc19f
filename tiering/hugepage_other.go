//go:build !linux

package tiering

// adviseHugePages does nothing where madvise(MADV_HUGEPAGE) does not exist.
func adviseHugePages([]byte) {}
