package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/shalelog/shale/acl"
)

// The principal of a connection is Kafka's: "User:<name>". A connection
// starts as User:ANONYMOUS; on a TLS listener that verified a client
// certificate, the name is the certificate's subject in RFC 2253 form
// ("CN=alice,OU=eng,O=Acme"), as Kafka's default principal builder makes
// it, after the listener's principal mapping rules
// (ssl.principal.mapping.rules). SASL authentication, where a listener
// has it, sets the principal it authenticated.

// principalRule is one ssl.principal.mapping.rules entry: DEFAULT (the
// distinguished name unchanged) or RULE:pattern/replacement/[LU].
type principalRule struct {
	def         bool
	pattern     *regexp.Regexp
	replacement string
	lower       bool
	upper       bool
}

var javaGroupRef = regexp.MustCompile(`\$(\d+)`)

// parsePrincipalRules reads mapping rules in Kafka's syntax, one rule per
// entry: "DEFAULT" or "RULE:pattern/replacement/" with an optional L or U
// (lower or upper case the result) after the last slash. A pattern must
// match the whole distinguished name. No rules means DEFAULT.
func parsePrincipalRules(rules []string) ([]principalRule, error) {
	var out []principalRule
	for _, s := range rules {
		s = strings.TrimSpace(s)
		if s == "DEFAULT" {
			out = append(out, principalRule{def: true})
			continue
		}
		body, ok := strings.CutPrefix(s, "RULE:")
		if !ok {
			return nil, fmt.Errorf("principal mapping rule %q: want DEFAULT or RULE:pattern/replacement/[LU]", s)
		}
		parts := splitUnescaped(body, '/')
		if len(parts) != 3 || len(parts[2]) > 1 || parts[2] != "" && parts[2] != "L" && parts[2] != "U" {
			return nil, fmt.Errorf("principal mapping rule %q: want RULE:pattern/replacement/[LU]", s)
		}
		re, err := regexp.Compile("^(?:" + parts[0] + ")$")
		if err != nil {
			return nil, fmt.Errorf("principal mapping rule %q: %v", s, err)
		}
		out = append(out, principalRule{
			pattern:     re,
			replacement: javaGroupRef.ReplaceAllString(parts[1], "$${$1}"),
			lower:       parts[2] == "L",
			upper:       parts[2] == "U",
		})
	}
	if len(out) == 0 {
		out = []principalRule{{def: true}}
	}
	return out, nil
}

// splitUnescaped splits s at each sep not preceded by a backslash, and
// unescapes "\sep" in the pieces.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == sep:
			cur.WriteByte(sep)
			i++
		case s[i] == sep:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(parts, cur.String())
}

var errNoPrincipalRule = errors.New("no principal mapping rule applies")

// mapPrincipal applies the first rule that matches dn.
func mapPrincipal(rules []principalRule, dn string) (string, error) {
	for _, r := range rules {
		if r.def {
			return dn, nil
		}
		m := r.pattern.FindStringSubmatchIndex(dn)
		if m == nil {
			continue
		}
		name := string(r.pattern.ExpandString(nil, r.replacement, dn, m))
		switch {
		case r.lower:
			name = strings.ToLower(name)
		case r.upper:
			name = strings.ToUpper(name)
		}
		return name, nil
	}
	return "", fmt.Errorf("%w to %q", errNoPrincipalRule, dn)
}

// tlsPrincipal returns the principal of a TLS connection whose handshake
// is done: from its verified client certificate, or User:ANONYMOUS
// without one.
func tlsPrincipal(cs tls.ConnectionState, rules []principalRule) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return acl.Anonymous, nil
	}
	name, err := mapPrincipal(rules, cs.PeerCertificates[0].Subject.String())
	if err != nil {
		return "", err
	}
	return "User:" + name, nil
}
