package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"golang.org/x/sys/unix"
)

// securityFlags are how an admin command reaches a secured listener: the
// listener's security protocol, the CA that signed its certificate, a
// client certificate for a listener that requires one (mutual TLS: the
// principal is its subject), and the SASL user. The password never comes from a flag (it would show in
// the process list and the shell history): it is read from
// --sasl-password-file or from $SHALE_SASL_PASSWORD.
type securityFlags struct {
	protocol     string
	caFile       string
	certFile     string
	keyFile      string
	mechanism    string
	user         string
	passwordFile string
}

func (f *securityFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&f.protocol, "security-protocol", env("SHALE_SECURITY_PROTOCOL", "PLAINTEXT"), "the listener's `protocol`: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (env SHALE_SECURITY_PROTOCOL)")
	fs.StringVar(&f.caFile, "tls-ca", getenv("SHALE_TLS_CA"), "PEM `file` of the CA that signed the listener's certificate, for SSL and SASL_SSL (env SHALE_TLS_CA; default: the system's)")
	fs.StringVar(&f.certFile, "tls-cert", getenv("SHALE_TLS_CERT"), "PEM client certificate `file`, for SSL and SASL_SSL listeners that require one (mutual TLS; env SHALE_TLS_CERT)")
	fs.StringVar(&f.keyFile, "tls-key", getenv("SHALE_TLS_KEY"), "PEM private key `file` of --tls-cert (env SHALE_TLS_KEY)")
	fs.StringVar(&f.mechanism, "sasl-mechanism", env("SHALE_SASL_MECHANISM", "SCRAM-SHA-512"), "SASL `mechanism`: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env SHALE_SASL_MECHANISM)")
	fs.StringVar(&f.user, "sasl-user", getenv("SHALE_SASL_USER"), "SASL user `name` (env SHALE_SASL_USER)")
	fs.StringVar(&f.passwordFile, "sasl-password-file", "", "`file` whose first line is the SASL password (else env SHALE_SASL_PASSWORD)")
}

// clientOpts turns the flags into franz-go options.
func (f *securityFlags) clientOpts(getenv func(string) string) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	proto := strings.ToUpper(f.protocol)
	switch proto {
	case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
	default:
		return nil, usagef("invalid value %q for --security-protocol: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", f.protocol)
	}
	if proto == "SSL" || proto == "SASL_SSL" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if f.caFile != "" {
			pem, err := os.ReadFile(f.caFile)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", f.caFile)
			}
		}
		if f.certFile != "" || f.keyFile != "" {
			if f.certFile == "" || f.keyFile == "" {
				return nil, usagef("--tls-cert and --tls-key go together")
			}
			cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
			if err != nil {
				return nil, fmt.Errorf("--tls-cert and --tls-key: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	} else if f.certFile != "" || f.keyFile != "" {
		return nil, usagef("--tls-cert needs --security-protocol SSL or SASL_SSL")
	}
	if !strings.HasPrefix(proto, "SASL_") {
		return opts, nil
	}
	if f.user == "" {
		return nil, usagef("--security-protocol %s needs --sasl-user", proto)
	}
	password := getenv("SHALE_SASL_PASSWORD")
	if f.passwordFile != "" {
		var err error
		if password, err = readPasswordFile(f.passwordFile); err != nil {
			return nil, fmt.Errorf("--sasl-password-file: %w", err)
		}
	}
	if password == "" {
		return nil, usagef("--security-protocol %s needs a password: --sasl-password-file or $SHALE_SASL_PASSWORD", proto)
	}
	switch strings.ToUpper(f.mechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: f.user, Pass: password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: f.user, Pass: password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: f.user, Pass: password}.AsSha512Mechanism()))
	default:
		return nil, usagef("invalid value %q for --sasl-mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", f.mechanism)
	}
	return opts, nil
}

// readPasswordFile returns the first line of path.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("the first line is empty")
	}
	return line, nil
}

// readPassword reads a password: from a terminal, after prompt and twice
// when confirm, with echo off; from anything else, its first line.
func readPassword(in io.Reader, prompt io.Writer, confirm bool) (string, error) {
	f, ok := in.(*os.File)
	if ok {
		if t, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios); err == nil {
			read := func(what string) (string, error) {
				fmt.Fprint(prompt, what)
				quiet := *t
				quiet.Lflag &^= unix.ECHO
				quiet.Lflag |= unix.ICANON | unix.ECHONL
				if err := unix.IoctlSetTermios(int(f.Fd()), ioctlSetTermios, &quiet); err != nil {
					return "", fmt.Errorf("turn terminal echo off: %w", err)
				}
				defer unix.IoctlSetTermios(int(f.Fd()), ioctlSetTermios, t)
				return readLine(f)
			}
			p, err := read("Password: ")
			if err != nil || !confirm {
				return p, err
			}
			again, err := read("Again: ")
			if err != nil {
				return "", err
			}
			if again != p {
				return "", errors.New("the passwords differ")
			}
			return p, nil
		}
	}
	return readLine(in)
}

func readLine(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password on stdin")
		}
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("the password is empty")
	}
	return line, nil
}
