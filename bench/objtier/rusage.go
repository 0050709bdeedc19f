package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// rusageResult is what `objtier rusage` writes to its --out file: the
// child's own user and system CPU time as wait4(2) reports it (all its
// threads, and any children it waited for), and its wall time.
type rusageResult struct {
	UserSeconds   float64 `json:"user_seconds"`
	SystemSeconds float64 `json:"system_seconds"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	WallSeconds   float64 `json:"wall_seconds"`
	MaxRSSKiB     int64   `json:"max_rss_kib"`
	ExitCode      int     `json:"exit_code"`
}

// runRusage is `objtier rusage --out FILE -- CMD [ARGS...]`: it runs CMD
// with this process's stdin, stdout and stderr, forwards SIGINT and SIGTERM
// to it, writes CMD's resource usage to FILE as JSON once it has exited,
// and exits with CMD's exit code. The CPU figure comes from the kernel's
// accounting of the reaped child (the same utime and stime /proc/PID/stat
// shows, summed over the child's whole life), so it needs no sampling and
// includes the child's last moments before exit.
func runRusage(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rusage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file to write the child's resource usage to, as JSON (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: objtier rusage --out FILE -- CMD [ARGS...]")
		return 2
	}
	res, err := runMeasured(fs.Args(), stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "objtier rusage: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(res)
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintf(stderr, "objtier rusage: %v\n", err)
		return 1
	}
	return res.ExitCode
}

// runMeasured runs argv to its end and returns its resource usage. An exit
// with a non-zero code (or by a signal, code 128+signal) is a result, not
// an error; failing to start is an error.
func runMeasured(argv []string, stdin io.Reader, stdout, stderr io.Writer) (rusageResult, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return rusageResult{}, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return rusageResult{}, err
	}
	st := cmd.ProcessState
	res := rusageResult{
		UserSeconds:   st.UserTime().Seconds(),
		SystemSeconds: st.SystemTime().Seconds(),
		WallSeconds:   time.Since(t0).Seconds(),
		ExitCode:      st.ExitCode(),
	}
	res.CPUSeconds = res.UserSeconds + res.SystemSeconds
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSSKiB = int64(ru.Maxrss)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.ExitCode = 128 + int(ws.Signal())
	}
	return res, nil
}
