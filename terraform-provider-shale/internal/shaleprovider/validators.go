package shaleprovider

import (
	"context"
	"fmt"
	"math"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Validators of attribute values. Each diagnostic names the attribute (the
// framework adds its path), the value and what is accepted, so a plan
// fails before anything is sent to the cluster.

// enum is a closed set of names as Kafka spells them, matched without
// regard to case, '_', '-' or '.' so that "TransactionalID",
// "transactional_id" and "TRANSACTIONAL_ID" are one value.
type enum struct {
	names  []string        // canonical spellings, in the order documented
	values map[string]int8 // normalized spelling → wire value
}

func newEnum(pairs ...any) enum {
	e := enum{values: map[string]int8{}}
	for i := 0; i < len(pairs); i += 2 {
		name := pairs[i].(string)
		e.names = append(e.names, name)
		e.values[normalizeEnum(name)] = int8(pairs[i+1].(int))
	}
	return e
}

func normalizeEnum(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r == '_' || r == '-' || r == '.' || r == ' ' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parse returns the wire value of s.
func (e enum) parse(s string) (int8, bool) {
	v, ok := e.values[normalizeEnum(s)]
	return v, ok
}

// name returns the canonical spelling of a wire value.
func (e enum) name(v int8) string {
	for _, n := range e.names {
		if e.values[normalizeEnum(n)] == v {
			return n
		}
	}
	return fmt.Sprintf("UNKNOWN(%d)", v)
}

// sameValue reports whether a and b spell the same value.
func (e enum) sameValue(a, b string) bool {
	va, oka := e.parse(a)
	vb, okb := e.parse(b)
	return oka && okb && va == vb
}

// oneOf validates that a string is one of an enum's names.
type oneOf struct {
	e enum
}

func (v oneOf) Description(context.Context) string {
	return "one of " + strings.Join(v.e.names, ", ") + " (case and underscores do not matter)"
}

func (v oneOf) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v oneOf) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if _, ok := v.e.parse(req.ConfigValue.ValueString()); !ok {
		resp.Diagnostics.AddAttributeError(req.Path, "Unknown value",
			fmt.Sprintf("%q is not accepted here; use one of %s.", req.ConfigValue.ValueString(), strings.Join(v.e.names, ", ")))
	}
}

func known(v interface {
	IsNull() bool
	IsUnknown() bool
}) bool {
	return !v.IsNull() && !v.IsUnknown()
}

// topicNameValidator applies Kafka's rule for topic names: 1 to 249
// characters of ASCII letters, digits, '.', '_' and '-', and not "." or
// "..".
type topicNameValidator struct{}

var topicNameChars = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

func (topicNameValidator) Description(context.Context) string {
	return "a Kafka topic name: 1 to 249 of the characters a-z, A-Z, 0-9, '.', '_' and '-', not \".\" or \"..\""
}

func (v topicNameValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (topicNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if err := checkTopicName(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid topic name", err.Error())
	}
}

func checkTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a topic name cannot be empty")
	case name == "." || name == "..":
		return fmt.Errorf("%q cannot be a topic name", name)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters long; Kafka allows at most 249", len(name))
	case !topicNameChars.MatchString(name):
		return fmt.Errorf("topic name %q has characters Kafka does not allow; use only a-z, A-Z, 0-9, '.', '_' and '-'", name)
	}
	return nil
}

// notEmpty rejects the empty string (and one of only spaces).
type notEmpty struct{}

func (notEmpty) Description(context.Context) string { return "must not be empty" }

func (v notEmpty) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (notEmpty) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if known(req.ConfigValue) && strings.TrimSpace(req.ConfigValue.ValueString()) == "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Empty value", "This attribute must not be empty.")
	}
}

// durationValidator accepts a positive Go duration such as "30s" or "2m".
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return `a positive duration such as "30s", "2m" or "1m30s"`
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if _, err := parsePositiveDuration(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", err.Error())
	}
}

func parsePositiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write one such as \"30s\", \"2m\" or \"1m30s\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be longer than zero", s)
	}
	return d, nil
}

// principalValidator accepts a Kafka principal, "Type:name" (User:alice,
// User:*, Group:ops).
type principalValidator struct{}

func (principalValidator) Description(context.Context) string {
	return `a Kafka principal "Type:name", such as "User:alice" or "User:*"`
}

func (v principalValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (principalValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if err := checkPrincipal(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid principal", err.Error())
	}
}

func checkPrincipal(p string) error {
	typ, name, ok := strings.Cut(p, ":")
	if !ok || typ == "" || name == "" {
		return fmt.Errorf("%q is not a principal; write \"Type:name\", such as \"User:alice\" or \"User:*\"", p)
	}
	return nil
}

// int64Between accepts min ≤ v ≤ max.
type int64Between struct {
	min, max int64
	why      string // appended to the diagnostic
}

func (v int64Between) Description(context.Context) string {
	if v.max == 0 {
		return fmt.Sprintf("at least %d", v.min)
	}
	return fmt.Sprintf("between %d and %d", v.min, v.max)
}

func (v int64Between) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v int64Between) ValidateInt64(ctx context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if !known(req.ConfigValue) {
		return
	}
	n := req.ConfigValue.ValueInt64()
	if n < v.min || (v.max != 0 && n > v.max) {
		msg := fmt.Sprintf("%d is out of range: the value must be %s.", n, v.Description(ctx))
		if v.why != "" {
			msg += " " + v.why
		}
		resp.Diagnostics.AddAttributeError(req.Path, "Value out of range", msg)
	}
}

// bootstrapServersValidator wants at least one "host:port" with a port in
// 1..65535.
type bootstrapServersValidator struct{}

func (bootstrapServersValidator) Description(context.Context) string {
	return `a non-empty list of "host:port" addresses`
}

func (v bootstrapServersValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (bootstrapServersValidator) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if !known(req.ConfigValue) {
		return
	}
	var servers []types.String
	resp.Diagnostics.Append(req.ConfigValue.ElementsAs(ctx, &servers, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if len(servers) == 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "No bootstrap servers", `Name at least one broker as "host:port".`)
	}
	for i, s := range servers {
		if !known(s) {
			continue
		}
		if err := checkHostPort(s.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Invalid bootstrap server", err.Error())
		}
	}
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not \"host:port\" (write an IPv6 address as \"[::1]:9092\")", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has port %q; a port is a number from 1 to 65535", s, port)
	}
	return nil
}

// topicConfigValidator checks the keys of a topic's config map: Kafka
// config names are lower-case words joined by dots ("retention.ms",
// "cleanup.policy"). Values are left to the broker, which knows what each
// key accepts and answers INVALID_CONFIG with a message.
type topicConfigValidator struct{}

var configKeyPattern = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)

func (topicConfigValidator) Description(context.Context) string {
	return `keys are Kafka topic config names such as "retention.ms" or "cleanup.policy"`
}

func (v topicConfigValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (topicConfigValidator) ValidateMap(_ context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if !known(req.ConfigValue) {
		return
	}
	for k, v := range req.ConfigValue.Elements() {
		if !configKeyPattern.MatchString(k) {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(k), "Invalid config name",
				fmt.Sprintf("%q is not a Kafka config name; names are lower-case words joined by dots, such as \"retention.ms\".", k))
		}
		if v.IsNull() {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(k), "Null config value",
				fmt.Sprintf("Config %q has a null value; remove the key to return to the default.", k))
		}
	}
}

// quotaKeys are the client quota keys Kafka defines for user and client-id
// entities, with the range each accepts.
var quotaKeys = map[string]struct {
	min     float64
	integer bool // Kafka keeps it as a long
	what    string
}{
	"producer_byte_rate":       {1, true, "bytes per second a producer may send"},
	"consumer_byte_rate":       {1, true, "bytes per second a consumer may fetch"},
	"request_percentage":       {0.01, false, "percentage of a request handler thread's time"},
	"controller_mutation_rate": {0.01, false, "partition mutations per second (topic creations, deletions, partition additions)"},
}

func quotaKeyNames() []string {
	names := make([]string, 0, len(quotaKeys))
	for k := range quotaKeys {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// quotasValidator checks a quota map: known keys, values in range.
type quotasValidator struct{}

func (quotasValidator) Description(context.Context) string {
	return "keys are " + strings.Join(quotaKeyNames(), ", ") + "; values are positive numbers"
}

func (v quotasValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (quotasValidator) ValidateMap(_ context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if len(req.ConfigValue.Elements()) == 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "No quotas",
			"Set at least one quota; "+strings.Join(quotaKeyNames(), ", ")+" are accepted.")
	}
	for k, v := range req.ConfigValue.Elements() {
		spec, ok := quotaKeys[k]
		if !ok {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(k), "Unknown quota",
				fmt.Sprintf("%q is not a client quota; use one of %s.", k, strings.Join(quotaKeyNames(), ", ")))
			continue
		}
		f, isFloat := v.(types.Float64)
		if !isFloat || !known(f) {
			continue
		}
		x := f.ValueFloat64()
		if x < spec.min {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(k), "Quota out of range",
				fmt.Sprintf("%s is the %s; it must be at least %g, not %g.", k, spec.what, spec.min, x))
		} else if spec.integer && x != math.Trunc(x) {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(k), "Quota not a whole number",
				fmt.Sprintf("%s is the %s, a whole number; %g is not.", k, spec.what, x))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
