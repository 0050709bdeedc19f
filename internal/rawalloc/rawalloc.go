// Package rawalloc hands out byte slices the Go allocator has not cleared,
// for buffers whose every byte the caller overwrites before it reads any:
// a request frame read whole from its connection, a cold block filled
// whole by its GET. Clearing such a buffer is a pass over memory that is
// about to be written anyway; for a 1 MiB produce frame or a 4 MiB block
// on reused heap memory it was several percent of the broker's CPU per
// byte (docs/BENCHMARKS.md).
//
// The rule for callers: a buffer that was not filled whole (a short read,
// an error) is dropped, never read and never handed on, since its unwritten
// bytes may hold anything the process freed before.
//
// It calls runtime.mallocgc with needzero false, the entry point the Go
// runtime keeps for packages that do this (among them Pebble's block
// cache; go.dev/issue/67401). The memory holds no pointers, so the
// collector never looks inside it.
package rawalloc

import "unsafe"

//go:linkname mallocgc runtime.mallocgc
func mallocgc(size uintptr, typ unsafe.Pointer, needzero bool) unsafe.Pointer

// minRaw is the size from which Bytes skips the clearing: below it a
// buffer comes from make, where clearing costs little.
const minRaw = 32 << 10

// Bytes returns a slice of n bytes (len and cap n) whose contents are
// undefined when n >= 32 KiB: the caller must write every byte before it
// reads any. n <= 0 gives nil.
func Bytes(n int) []byte {
	if n <= 0 {
		return nil
	}
	if n < minRaw {
		return make([]byte, n)
	}
	return unsafe.Slice((*byte)(mallocgc(uintptr(n), nil, false)), n)
}
