package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The admin commands (`shale topics ...`, `shale groups ...`) speak the
// Kafka protocol through kadm, so they work against any broker that serves
// the admin APIs. Each command parses its own flags (given before or after
// the positional arguments), connects, prints a table or JSON to stdout and
// returns an exit code:
//
//	0  the operation succeeded
//	1  the operation failed (the Kafka error is shown by name and message)
//	2  bad arguments (a one-line message naming the argument, then usage)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const defaultBrokers = "127.0.0.1:9092"

// adminSpec describes one admin subcommand.
type adminSpec struct {
	name     string // "create"
	synopsis string // "NAME... [--partitions N] ..."
	summary  string // one line for the command list
	details  string // what --help prints above the flags
	run      func(c *adminCmd, args []string) error
}

// adminCmd is one run of an admin subcommand: where it writes, the options
// every command shares, and the connection once made.
type adminCmd struct {
	spec   adminSpec
	path   string // "shale topics create"
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	stdin    io.Reader
	brokers  string
	security securityFlags
	timeout  time.Duration
	output   string // "table" or "json", for commands that register --output
	progress bool   // for commands that register --progress

	lastDialErr dialErrorRecorder
	kcl         *kgo.Client // set by connect, for requests kadm does not make
}

// usageError is a bad argument: exit code 2 with the command's usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelpShown ends a command whose --help text was printed.
var errHelpShown = errors.New("help shown")

// errReported ends a command that already printed its failures (in its
// table) and only needs exit code 1 and a closing summary.
type errReported struct{ summary string }

func (e *errReported) Error() string { return e.summary }

func runAdmin(group, about string, specs []adminSpec, args []string, stdout, stderr io.Writer) int {
	return runAdminIO(group, about, specs, args, os.Stdin, stdout, stderr)
}

// runAdminIO is runAdmin for commands that read stdin.
func runAdminIO(group, about string, specs []adminSpec, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	groupUsage := func(w io.Writer) {
		fmt.Fprintf(w, "shale %s: %s\n\nUsage:\n", group, about)
		for _, s := range specs {
			fmt.Fprintf(w, "  shale %s %-13s %s\n", group, s.name, s.summary)
		}
		fmt.Fprintf(w, "\nEvery command takes --brokers host:port[,host:port] (default %s, or $SHALE_BROKERS).\n", defaultBrokers)
		fmt.Fprintf(w, "Run 'shale %s COMMAND --help' for its flags.\n", group)
	}
	if len(args) == 0 {
		fmt.Fprintf(stderr, "shale %s: missing command\n\n", group)
		groupUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		groupUsage(stdout)
		return exitOK
	}
	for _, s := range specs {
		if s.name != args[0] {
			continue
		}
		c := &adminCmd{
			spec:   s,
			path:   "shale " + group + " " + s.name,
			stdin:  stdin,
			stdout: stdout,
			stderr: stderr,
			getenv: os.Getenv,
		}
		return c.exitCode(s.run(c, args[1:]))
	}
	fmt.Fprintf(stderr, "shale %s: unknown command %q\n\n", group, args[0])
	groupUsage(stderr)
	return exitUsage
}

// exitCode reports err on stderr and maps it to the exit code.
func (c *adminCmd) exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "%s: %s\nusage: %s %s\nRun '%s --help' for details.\n", c.path, ue.msg, c.path, c.spec.synopsis, c.path)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "%s: %v\n", c.path, err)
	return exitFailed
}

// flags returns a flag set with the options every admin command takes.
// Parsing errors are returned, never printed by the flag package.
func (c *adminCmd) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	brokers := c.getenv("SHALE_BROKERS")
	if brokers == "" {
		brokers = defaultBrokers
	}
	fs.StringVar(&c.brokers, "brokers", brokers, "`host:port[,host:port]` of brokers to bootstrap from (env SHALE_BROKERS; default "+defaultBrokers+")")
	fs.StringVar(&c.brokers, "bootstrap-server", brokers, "`host:port[,host:port]`: the same as --brokers, as Kafka's tools name it")
	c.security.register(fs, c.getenv)
	c.timeout = 30 * time.Second
	fs.Func("timeout", "give up after this `duration`, such as 10s (default 30s)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return errors.New("want a positive duration such as 10s")
		}
		c.timeout = d
		return nil
	})
	return fs
}

// outputFlag registers --output (-o) table|json.
func (c *adminCmd) outputFlag(fs *flag.FlagSet) {
	c.output = "table"
	set := func(s string) error {
		if s != "table" && s != "json" {
			return errors.New("want table or json")
		}
		c.output = s
		return nil
	}
	fs.Func("output", "output `format`: table or json (default table)", set)
	fs.Func("o", "short for --output", set)
}

// progressFlag registers --progress.
func (c *adminCmd) progressFlag(fs *flag.FlagSet) {
	fs.BoolVar(&c.progress, "progress", false, "show a progress line on stderr even when it is not a terminal")
}

// parse parses flags given anywhere among the positional arguments (as rpk
// does; "--" ends the flags) and returns the positional arguments. A bad
// flag is a usageError; -h/--help prints the help and returns errHelpShown.
func (c *adminCmd) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.printHelp(fs)
			return nil, errHelpShown
		}
		if err != nil {
			return nil, &usageError{msg: flagErrorText(err)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagErrorText rewrites the flag package's messages to name flags the way
// users type them (--name, or -n for one letter).
func flagErrorText(err error) string {
	msg := err.Error()
	dashed := func(name string) string {
		if len(name) == 1 {
			return "-" + name
		}
		return "--" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag " + dashed(name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "flag " + dashed(name) + " needs a value"
	}
	for _, sep := range []string{" for flag -", " for -"} {
		if i := strings.Index(msg, sep); i >= 0 && strings.HasPrefix(msg, "invalid ") {
			rest := msg[i+len(sep):]
			name, tail, _ := strings.Cut(rest, ":")
			return msg[:i] + " for " + dashed(name) + ":" + tail
		}
	}
	return msg
}

// printHelp writes the command's synopsis, details and flags to stdout.
func (c *adminCmd) printHelp(fs *flag.FlagSet) {
	w := c.stdout
	fmt.Fprintf(w, "usage: %s %s\n\n%s: %s\n", c.path, c.spec.synopsis, c.path, c.spec.summary)
	if c.spec.details != "" {
		fmt.Fprintf(w, "\n%s\n", c.spec.details)
	}
	fmt.Fprintln(w, "\nFlags:")
	// A one-letter flag whose usage is "short for --NAME" is shown on
	// NAME's line rather than its own.
	shortFor := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, "short for --"); ok && len(f.Name) == 1 {
			shortFor[long] = f.Name
		}
	})
	t := newTable()
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := strings.CutPrefix(f.Usage, "short for --"); ok && len(f.Name) == 1 {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		left := "      --" + f.Name
		if short, ok := shortFor[f.Name]; ok {
			left = "  -" + short + ", --" + f.Name
		}
		if name != "" {
			left += " " + name
		}
		t.addRow(left, usage)
	})
	t.render(w)
	fmt.Fprintf(w, "\nExit codes: 0 ok, 1 the operation failed, 2 bad arguments.\n")
}

// dialErrorRecorder keeps the most recent failure to connect to a broker, so
// a request that times out can say why.
type dialErrorRecorder struct {
	mu  sync.Mutex
	err error
}

func (r *dialErrorRecorder) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

func (r *dialErrorRecorder) last() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// seedBrokers checks --brokers and splits it into addresses.
func (c *adminCmd) seedBrokers() ([]string, error) {
	var seeds []string
	for _, b := range strings.Split(c.brokers, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return nil, usagef("invalid value %q for --brokers: want host:port", b)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, usagef("invalid value %q for --brokers: port must be a number from 1 to 65535", b)
		}
		seeds = append(seeds, b)
	}
	if len(seeds) == 0 {
		return nil, usagef("--brokers is empty: want host:port[,host:port]")
	}
	return seeds, nil
}

// connect returns an admin client and a context bounded by --timeout. The
// caller closes the client and cancels the context.
func (c *adminCmd) connect() (*kadm.Client, context.Context, context.CancelFunc, error) {
	seeds, err := c.seedBrokers()
	if err != nil {
		return nil, nil, nil, err
	}
	secOpts, err := c.security.clientOpts(c.getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("shale-cli"),
		kgo.DialTimeout(min(c.timeout, 10*time.Second)),
		kgo.WithHooks(&c.lastDialErr),
	}, secOpts...)...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	c.kcl = cl
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(c.timeout, time.Minute) / time.Millisecond))
	return adm, ctx, func() { cancel(); adm.Close() }, nil
}

// requestErr explains an error from a request that got no answer: the
// brokers were unreachable, slower than --timeout, or do not serve the
// request at all.
func (c *adminCmd) requestErr(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		if dial := c.lastDialErr.last(); dial != nil {
			return fmt.Errorf("%s: cannot reach brokers %s: %v", what, c.brokers, dial)
		}
		return fmt.Errorf("%s: no answer from brokers %s within %s (see --timeout)", what, c.brokers, c.timeout)
	}
	request := ""
	var se *kadm.ShardErrors
	if errors.As(err, &se) && len(se.Errs) > 0 {
		// One failure explains the others well enough.
		err = se.Errs[0].Err
		if se.Errs[0].Req != nil {
			request = kmsg.NameForKey(se.Errs[0].Req.Key()) + " "
		}
	}
	if strings.Contains(err.Error(), "broker is too old") {
		return fmt.Errorf("%s: the brokers do not serve this %srequest (the API is not implemented by this broker version)", what, request)
	}
	if dial := c.lastDialErr.last(); dial != nil && !isKafkaError(err) {
		return fmt.Errorf("%s: cannot reach brokers %s: %v", what, c.brokers, dial)
	}
	return fmt.Errorf("%s: %s", what, kafkaErrorText(err, errMessage(err)))
}

func isKafkaError(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke)
}

// kafkaErrorText shows a Kafka error by name and message: the broker's own
// message when it sent one, otherwise the protocol's description.
func kafkaErrorText(err error, brokerMsg string) string {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		if brokerMsg != "" {
			return err.Error() + ": " + brokerMsg
		}
		return err.Error()
	}
	switch {
	case brokerMsg == "":
		return ke.Message + ": " + ke.Description
	case strings.HasPrefix(brokerMsg, ke.Message):
		return brokerMsg
	}
	return ke.Message + ": " + brokerMsg
}

// keyValueFlag collects repeated k=v values into m, refusing
// malformed pairs and repeated keys.
func keyValueFlag(m map[string]string) func(string) error {
	return func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return errors.New("want key=value")
		}
		if _, dup := m[k]; dup {
			return fmt.Errorf("%s is given twice", k)
		}
		m[k] = v
		return nil
	}
}

// intFlag parses a decimal integer of the given bit size into *dst and
// checks it is at least lowest.
func intFlag[T int16 | int32 | int64](dst *T, bits int, lowest T) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
				return errors.New("out of range")
			}
			return errors.New("not an integer")
		}
		if T(v) < lowest {
			return fmt.Errorf("must be at least %d", lowest)
		}
		*dst = T(v)
		return nil
	}
}

// checkTopicName applies Kafka's topic naming rules so a bad name is
// reported as a bad argument before anything is sent.
func checkTopicName(name string) error {
	switch {
	case name == "":
		return usagef("topic name is empty")
	case name == "." || name == "..":
		return usagef("topic name %q is not allowed", name)
	case len(name) > 249:
		return usagef("topic name %.20q... is %d characters; the limit is 249", name, len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return usagef("topic name %q has %q; use letters, digits, '.', '_' and '-'", name, r)
		}
	}
	return nil
}

// topicIDText formats a topic id as Kafka does: URL-safe base64, no padding.
func topicIDText(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return "-"
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// runChunked calls fn for consecutive chunks of n items of at most size
// each, updating a progress line between them.
func (c *adminCmd) runChunked(label string, n, size int, fn func(lo, hi int) error) error {
	p := newProgressLine(c.stderr, c.progress, label, n)
	defer p.finish()
	if n <= size {
		// One request: nothing to report progress on.
		p.enabled = false
	}
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		if err := fn(lo, hi); err != nil {
			return err
		}
		p.update(hi)
	}
	return nil
}

// topicsCreate is `shale topics create`.

// namesAndConnect is the start every multi-name command shares: parse the
// flags and the positional names, refuse none ("missing <what> name") and
// bad ones (check), then connect. done must be called when err is nil.
func (c *adminCmd) namesAndConnect(fs *flag.FlagSet, args []string, what string, check func([]string) error) ([]string, *kadm.Client, context.Context, context.CancelFunc, error) {
	names, err := c.parse(fs, args)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if len(names) == 0 {
		return nil, nil, nil, nil, usagef("missing %s name", what)
	}
	if err := check(names); err != nil {
		return nil, nil, nil, nil, err
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return names, adm, ctx, done, nil
}
