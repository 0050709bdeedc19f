// Package proc starts and controls child processes for fault tests: the
// shale binary built once per test binary (Binary), processes whose output
// goes to a log file printed when the test fails, readiness by TCP
// (WaitTCP), and the faults a machine can suffer: kill -9 (Kill9), a freeze
// (Stop, SIGSTOP, and Cont) and an orderly stop (Term).
//
// Every process is bound to the test that started it: t.Cleanup kills it
// by its pid (never by name) and waits for it, and on Linux the kernel
// kills it if the test binary dies first (Pdeathsig), so no process
// outlives an interrupted run (the kernel sends it when the thread that
// started the child ends; Go keeps its threads unless a goroutine exits
// while locked to one). A test that restarts a process starts it
// again with the same Cmd: proc.Start(t, p.Cmd).
//
// Cleanups run last-in first-out: a directory a process writes to must be
// created (t.TempDir) before the process is started, so that the process
// is gone before the directory is removed.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logTailLines is how many lines of a process's log a failing test prints.
const logTailLines = 60

// Cmd describes a process to start.
type Cmd struct {
	Name string   // label in logs and errors, e.g. "broker-1"; default: the base of Path
	Path string   // the program
	Args []string // its arguments, without the program name
	Env  []string // KEY=VALUE added to the test process's environment
	Dir  string   // working directory; default: the test's
}

// Process is a running (or exited) child process owned by one test. Its
// methods are safe for concurrent use.
type Process struct {
	Cmd Cmd // what was started; start it again to restart

	t       testing.TB
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // the exit status; set before done is closed
}

// Start launches c with stdout and stderr appended to a log file under
// t.TempDir(), and registers a cleanup that kills it (SIGKILL, by pid) if
// it still runs and prints the end of its log if the test failed. It fails
// the test if the program cannot be started.
func Start(t testing.TB, c Cmd) *Process {
	t.Helper()
	if c.Name == "" {
		c.Name = filepath.Base(c.Path)
	}
	logPath := filepath.Join(t.TempDir(), c.Name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("proc: %s: %v", c.Name, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	fmt.Fprintf(logFile, "=== proc: %s %s\n", c.Path, strings.Join(c.Args, " "))

	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("proc: start %s: %v", c.Name, err)
	}
	p := &Process{Cmd: c, t: t, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill9()
		if t.Failed() {
			t.Logf("proc: last lines of %s (pid %d, %s):\n%s", c.Name, p.Pid(), p.exitDescription(), p.LogTail(logTailLines))
		}
	})
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// LogPath is the file holding the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// LogTail returns the last n lines of the process's output.
func (p *Process) LogTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns its status: nil for exit
// code 0, else an *exec.ExitError.
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// ExitCode is the exit code once the process has exited: -1 when a signal
// ended it or it still runs.
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *Process) exitDescription() string {
	if !p.Exited() {
		return "running"
	}
	return p.cmd.ProcessState.String()
}

// Kill9 sends SIGKILL and waits until the process is gone. Killing an
// exited process does nothing.
func (p *Process) Kill9() {
	if !p.Exited() {
		p.cmd.Process.Signal(syscall.SIGKILL) // fails only if it has just exited
	}
	<-p.done
}

// Stop freezes the process with SIGSTOP and waits until the kernel reports
// it stopped: its sockets stay open and nothing answers, like a machine
// that hangs. Cont resumes it.
func (p *Process) Stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("stop %s: %w", p.Cmd.Name, err)
	}
	return waitState(p.Pid(), p.done, true, 10*time.Second)
}

// Cont resumes a process frozen by Stop.
func (p *Process) Cont() error {
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("continue %s: %w", p.Cmd.Name, err)
	}
	return waitState(p.Pid(), p.done, false, 10*time.Second)
}

// Term asks the process to stop with SIGTERM (and SIGCONT, in case it is
// frozen) and waits up to timeout for it to exit, then kills it with
// SIGKILL. It returns an error if the process had to be killed or exited
// with a code other than 0.
func (p *Process) Term(timeout time.Duration) error {
	if !p.Exited() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill9()
		return fmt.Errorf("%s did not exit within %v of SIGTERM; killed", p.Cmd.Name, timeout)
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w", p.Cmd.Name, p.waitErr)
	}
	return nil
}

// WaitTCP waits until addr accepts a TCP connection, as WaitTCP does, but
// gives up at once, with the end of the log, if the process exits first.
func (p *Process) WaitTCP(addr string, timeout time.Duration) error {
	err := waitTCP(addr, timeout, p.done)
	if err != nil && p.Exited() {
		return fmt.Errorf("%s exited (%s) before %s accepted connections; last lines:\n%s",
			p.Cmd.Name, p.exitDescription(), addr, p.LogTail(logTailLines))
	}
	return err
}

// WaitTCP waits until addr accepts a TCP connection or timeout passes.
func WaitTCP(addr string, timeout time.Duration) error {
	return waitTCP(addr, timeout, nil)
}

func waitTCP(addr string, timeout time.Duration, abort <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting connections after %v: %w", addr, timeout, err)
		}
		select {
		case <-abort:
			return errors.New("process exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago. All n are held open together while they are chosen, so they differ;
// another program may still take one before it is used, which a test sees
// as a failure to listen.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreeAddrs is FreePorts as "127.0.0.1:PORT" addresses; it fails the test
// on error.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	ports, err := FreePorts(n)
	if err != nil {
		t.Fatalf("proc: %v", err)
	}
	addrs := make([]string, n)
	for i, port := range ports {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return addrs
}

// Buffer collects output written by one goroutine (a child's stderr, a
// logger) while another reads it: a strings.Builder behind a mutex.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
