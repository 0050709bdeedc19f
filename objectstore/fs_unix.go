//go:build unix

package objectstore

import "syscall"

// errNotDirSyscall is what the OS reports when a key's parent is a file:
// for a Bucket that simply means the key does not exist.
var errNotDirSyscall error = syscall.ENOTDIR
