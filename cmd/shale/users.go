package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// runUsers is `shale users ...`: SASL/SCRAM users through
// DescribeUserScramCredentials and AlterUserScramCredentials, as Kafka's
// kafka-configs.sh --entity-type users manages them. The password is read
// from --password-file, from a prompt without echo on a terminal, or from
// the first line of stdin; never from a flag. The client salts it; the
// broker stores only the derived keys.
func runUsers(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runAdminIO("users", "manage SASL/SCRAM users (SCRAM-SHA-256, SCRAM-SHA-512; PLAIN checks against them)", usersCommands(), args, stdin, stdout, stderr)
}

func usersCommands() []adminSpec {
	const pw = `The password is read from --password-file (its first line), else from a
prompt without echo when stdin is a terminal, else from the first line of
stdin. It is salted by this command (PBKDF2); the brokers store only the
salt, the iterations and the keys derived from it.`
	return []adminSpec{
		{name: "create", synopsis: "NAME [--mechanism SCRAM-SHA-256|SCRAM-SHA-512|both] [--iterations N] [--password-file FILE]",
			summary: "create a user with a password (refused if it exists)", details: pw, run: usersCreate},
		{name: "passwd", synopsis: "NAME [--mechanism ...] [--iterations N] [--password-file FILE]",
			summary: "set an existing user's password", details: pw, run: usersPasswd},
		{name: "list", synopsis: "[--output table|json]", summary: "list users with their mechanisms and iterations (USER MECHANISM ITERATIONS)", run: usersList},
		{name: "delete", synopsis: "NAME...", summary: "delete users (every mechanism's credential)", run: usersDelete},
	}
}

// userFlags are the flags of create and passwd.
type userFlags struct {
	mechanism    string
	iterations   int32
	passwordFile string
}

func (c *adminCmd) userFlags(args []string, u *userFlags) (string, error) {
	fs := c.flags()
	fs.StringVar(&u.mechanism, "mechanism", "both", "`mechanism`: SCRAM-SHA-256, SCRAM-SHA-512 or both (PLAIN logins check against either)")
	u.iterations = 8192
	fs.Func("iterations", "PBKDF2 `iterations`, 4096 to 16384 (default 8192)", intFlag(&u.iterations, 32, 1))
	fs.StringVar(&u.passwordFile, "password-file", "", "read the password from the first line of `file`")
	pos, err := c.parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("want exactly one user NAME, got %d arguments", len(pos))
	}
	if pos[0] == "" {
		return "", usagef("the user name is empty")
	}
	if u.iterations < 4096 || u.iterations > 16384 {
		return "", usagef("invalid value %d for --iterations: must be from 4096 to 16384", u.iterations)
	}
	return pos[0], nil
}

func (u userFlags) mechanisms(existing []kadm.ScramMechanism) ([]kadm.ScramMechanism, error) {
	switch strings.ToUpper(u.mechanism) {
	case "SCRAM-SHA-256":
		return []kadm.ScramMechanism{kadm.ScramSha256}, nil
	case "SCRAM-SHA-512":
		return []kadm.ScramMechanism{kadm.ScramSha512}, nil
	case "BOTH":
		if len(existing) > 0 {
			return existing, nil
		}
		return []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512}, nil
	}
	return nil, usagef("invalid value %q for --mechanism: want SCRAM-SHA-256, SCRAM-SHA-512 or both", u.mechanism)
}

func (c *adminCmd) password(u userFlags, confirm bool) (string, error) {
	if u.passwordFile != "" {
		p, err := readPasswordFile(u.passwordFile)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		return p, nil
	}
	return readPassword(c.stdin, c.stderr, confirm)
}

func usersCreate(c *adminCmd, args []string) error { return usersSet(c, args, true) }
func usersPasswd(c *adminCmd, args []string) error { return usersSet(c, args, false) }

func usersSet(c *adminCmd, args []string, create bool) error {
	var u userFlags
	name, err := c.userFlags(args, &u)
	if err != nil {
		return err
	}
	if _, err := u.mechanisms(nil); err != nil {
		return err
	}
	password, err := c.password(u, isStdinTerminal(c.stdin))
	if err != nil {
		return fmt.Errorf("read the password: %w", err)
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	described, err := adm.DescribeUserSCRAMs(ctx, name)
	if err != nil && !isShardErr(err) {
		return c.requestErr("describe user "+name, err)
	}
	d := described[name]
	exists := err == nil && d.Err == nil && len(d.CredInfos) > 0
	var existing []kadm.ScramMechanism
	for _, ci := range d.CredInfos {
		existing = append(existing, ci.Mechanism)
	}
	switch {
	case create && exists:
		return fmt.Errorf("user %s already exists; use 'shale users passwd %s' to change its password", name, name)
	case !create && !exists:
		return fmt.Errorf("user %s does not exist; use 'shale users create %s'", name, name)
	}
	mechs, _ := u.mechanisms(existing)
	var ups []kadm.UpsertSCRAM
	for _, m := range mechs {
		ups = append(ups, kadm.UpsertSCRAM{User: name, Mechanism: m, Iterations: u.iterations, Password: password})
	}
	// Kafka alters a user at most once per request: one request per
	// mechanism.
	for _, up := range ups {
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{up})
		if err != nil {
			return c.requestErr("alter user "+name, err)
		}
		if r := res[name]; r.Err != nil {
			return fmt.Errorf("set %s of %s: %s", up.Mechanism, name, kafkaErrorText(r.Err, r.ErrMessage))
		}
	}
	verb := "created"
	if !create {
		verb = "password changed for"
	}
	fmt.Fprintf(c.stdout, "%s user %s (%s, %d iterations)\n", verb, name, mechList(mechs), u.iterations)
	return nil
}

func mechList(ms []kadm.ScramMechanism) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.String())
	}
	return strings.Join(s, ", ")
}

// userListing is one credential in `users list --output json`.
type userListing struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Iterations int32  `json:"iterations"`
}

func usersList(c *adminCmd, args []string) error {
	fs := c.flags()
	c.outputFlag(fs)
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	all, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		return c.requestErr("describe users", err)
	}
	out := []userListing{}
	for name, u := range all {
		if u.Err != nil {
			return fmt.Errorf("describe user %s: %s", name, kafkaErrorText(u.Err, u.ErrMessage))
		}
		for _, ci := range u.CredInfos {
			out = append(out, userListing{User: name, Mechanism: ci.Mechanism.String(), Iterations: ci.Iterations})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Mechanism < out[j].Mechanism
	})
	if c.output == "json" {
		return writeJSON(c.stdout, out)
	}
	t := newTable("USER", "MECHANISM", "ITERATIONS")
	for _, l := range out {
		t.addRow(l.User, l.Mechanism, l.Iterations)
	}
	return t.render(c.stdout)
}

func usersDelete(c *adminCmd, args []string) error {
	fs := c.flags()
	names, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usagef("name at least one user")
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	described, err := adm.DescribeUserSCRAMs(ctx, names...)
	if err != nil && !isShardErr(err) {
		return c.requestErr("describe users", err)
	}
	var failed []string
	for _, name := range names {
		d := described[name]
		if d.Err != nil || len(d.CredInfos) == 0 {
			fmt.Fprintf(c.stderr, "%s: no such user\n", name)
			failed = append(failed, name)
			continue
		}
		for _, ci := range d.CredInfos {
			res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: name, Mechanism: ci.Mechanism}}, nil)
			if err == nil {
				err = res[name].Err
			}
			if err != nil {
				return c.requestErr("delete user "+name, err)
			}
		}
		fmt.Fprintf(c.stdout, "deleted user %s\n", name)
	}
	if len(failed) > 0 {
		return &errReported{summary: fmt.Sprintf("%d of %d users not found", len(failed), len(names))}
	}
	return nil
}

func isStdinTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
