//go:build !linux

package proc

import (
	"syscall"
	"time"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitState cannot observe the state without /proc; signals to a child
// are delivered promptly, so it returns at once.
func waitState(int, <-chan struct{}, bool, time.Duration) error { return nil }

// lockDir does not lock: concurrent builders each build, and the rename
// keeps the result whole.
func lockDir(string) (func(), error) { return func() {}, nil }
