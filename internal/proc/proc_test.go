package proc

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv selects what the test binary does when it runs as a child.
const childEnv = "PROC_TEST_CHILD"

// TestMain lets the test binary play the child processes the tests start:
// an echo server, a program ignoring SIGTERM, one that exits at once.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

func child(mode string) int {
	switch mode {
	case "echo", "echo-ignore-term":
		if mode == "echo-ignore-term" {
			signal.Ignore(syscall.SIGTERM)
		} else {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM)
			go func() {
				<-sig
				fmt.Println("terminating")
				os.Exit(0)
			}()
		}
		l, err := net.Listen("tcp", os.Getenv("PROC_TEST_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("listening on", l.Addr())
		for {
			c, err := l.Accept()
			if err != nil {
				return 1
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintln(c, sc.Text())
				}
			}()
		}
	case "exit3":
		for i := range 100 {
			fmt.Println("line", i)
		}
		return 3
	case "parent":
		// Starts a grandchild with the same SysProcAttr Start uses,
		// reports its pid and waits to be killed.
		cmd := childCmd("echo")
		cmd.Env = append(cmd.Env, "PROC_TEST_ADDR=127.0.0.1:0")
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("grandchild", cmd.Process.Pid)
		cmd.Wait()
		return 0
	}
	return 2
}

func childCmd(mode string) *exec.Cmd {
	self, _ := os.Executable()
	c := exec.Command(self)
	c.Env = append(os.Environ(), childEnv+"="+mode)
	return c
}

func startChild(t *testing.T, mode, addr string) *Process {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Start(t, Cmd{Name: mode, Path: self, Env: []string{childEnv + "=" + mode, "PROC_TEST_ADDR=" + addr}})
}

// echo sends line over c and returns the answer, or an error if none comes
// within wait.
func echo(c net.Conn, line string, wait time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(got), err
}

func TestStartWaitTCPKill9(t *testing.T) {
	addr := FreeAddrs(t, 1)[0]
	p := startChild(t, "echo", addr)
	if err := p.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := echo(c, "hello", 10*time.Second); err != nil || got != "hello" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	p.Kill9()
	if !p.Exited() {
		t.Fatal("not exited after Kill9")
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Wait after Kill9: %v, want a killed status", err)
	}
	if _, err := echo(c, "again", 10*time.Second); err == nil {
		t.Fatal("connection to a killed process still answers")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("a killed process still accepts connections")
	}
	p.Kill9() // a second kill does nothing
}

func TestStopCont(t *testing.T) {
	addr := FreeAddrs(t, 1)[0]
	p := startChild(t, "echo", addr)
	if err := p.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := echo(c, "frozen", 300*time.Millisecond); err == nil {
		t.Fatal("a stopped process answered")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("echo to a stopped process: %v, want a timeout", err)
	}
	if err := p.Cont(); err != nil {
		t.Fatal(err)
	}
	// The line sent while frozen is answered now, then the next.
	r := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || strings.TrimSpace(got) != "frozen" {
		t.Fatalf("after Cont: %q, %v", got, err)
	}
}

func TestTerm(t *testing.T) {
	addr := FreeAddrs(t, 1)[0]
	p := startChild(t, "echo", addr)
	if err := p.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Term(10 * time.Second); err != nil {
		t.Fatalf("Term: %v", err)
	}
	if p.ExitCode() != 0 || !strings.Contains(p.LogTail(1), "terminating") {
		t.Fatalf("exit code %d, log %q", p.ExitCode(), p.LogTail(5))
	}
}

func TestTermFrozen(t *testing.T) {
	addr := FreeAddrs(t, 1)[0]
	p := startChild(t, "echo", addr)
	if err := p.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Term(10 * time.Second); err != nil {
		t.Fatalf("Term of a stopped process: %v", err)
	}
}

func TestTermKillsAfterTimeout(t *testing.T) {
	addr := FreeAddrs(t, 1)[0]
	p := startChild(t, "echo-ignore-term", addr)
	if err := p.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	err := p.Term(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Term of a process ignoring SIGTERM: %v, want killed", err)
	}
	if !p.Exited() {
		t.Fatal("still running after Term")
	}
}

func TestWaitTCPProcessExits(t *testing.T) {
	addr := FreeAddrs(t, 1)[0]
	p := startChild(t, "exit3", addr)
	err := p.WaitTCP(addr, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "line 99") {
		t.Fatalf("WaitTCP on an exiting process: %v", err)
	}
	if p.ExitCode() != 3 {
		t.Fatalf("exit code %d, want 3", p.ExitCode())
	}
	if tail := p.LogTail(2); tail != "line 98\nline 99" {
		t.Fatalf("LogTail(2) = %q", tail)
	}
	if err := WaitTCP(addr, 50*time.Millisecond); err == nil {
		t.Fatal("WaitTCP on a closed port succeeded")
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: %d repeated or invalid", ports, p)
		}
		seen[p] = true
	}
}

func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the shale binary")
	}
	bin := Binary(t)
	if again := Binary(t); again != bin {
		t.Fatalf("second Binary call: %s, first %s", again, bin)
	}
	p := Start(t, Cmd{Path: bin, Args: []string{"version"}})
	if err := p.Wait(); err != nil {
		t.Fatalf("shale version: %v\n%s", err, p.LogTail(10))
	}
	if !strings.Contains(p.LogTail(1), "shale ") {
		t.Fatalf("shale version printed %q", p.LogTail(1))
	}
}
