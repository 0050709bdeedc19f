//go:build !unix

package objectstore

import "errors"

var errNotDirSyscall = errors.New("not a directory")
