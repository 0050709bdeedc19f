package proc

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildDiesWithParent: a process started with Start's SysProcAttr is
// killed by the kernel when its parent dies, here a parent killed with
// SIGKILL that had no chance to clean up.
func TestChildDiesWithParent(t *testing.T) {
	parent := startChild(t, "parent", "")
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 {
		for _, line := range strings.Split(parent.LogTail(10), "\n") {
			fmt.Sscanf(line, "grandchild %d", &pid)
		}
		if time.Now().After(deadline) {
			t.Fatalf("parent did not report its child:\n%s", parent.LogTail(10))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := procState(pid); err != nil {
		t.Fatalf("grandchild %d not running: %v", pid, err)
	}
	defer func() {
		// On failure the grandchild is still ours to end.
		if state, err := procState(pid); err == nil && state != 'Z' {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	parent.Kill9()
	for {
		state, err := procState(pid)
		if err != nil || state == 'Z' {
			return // gone, or dead and waiting to be reaped by init
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("grandchild %d still in state %c after its parent was killed", pid, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
