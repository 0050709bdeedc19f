package mototest

import "syscall"

// sysProcAttr makes the kernel kill moto if the test process dies first,
// so no server outlives an interrupted test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
