package proc

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"time"
)

// sysProcAttr makes the kernel kill the child if the test process dies
// first, so no process outlives an interrupted test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// waitState waits until /proc reports the process stopped (state T) or,
// with stopped false, running again, so that a test acts on a process in
// the state it asked for. Signals are delivered asynchronously.
func waitState(pid int, exited <-chan struct{}, stopped bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		state, err := procState(pid)
		if err == nil && (state == 'T') == stopped {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("process %d exited", pid)
		default:
		}
		if err == nil && state == 'Z' {
			return fmt.Errorf("process %d exited", pid)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d: state %q after %v (err %v)", pid, state, timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procState reads the one-letter state from /proc/PID/stat: the field
// after the command name, which is in parentheses and may hold spaces.
func procState(pid int) (byte, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, data)
	}
	return data[i+2], nil
}

// lockDir takes an exclusive lock on dir/.lock, waiting for another
// process that holds it, and returns its release.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(dir+"/.lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}
