package metadata

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// TopicID is Kafka's 16-byte topic UUID. The zero value means "no id".
type TopicID [16]byte

// String formats the id in the canonical UUID form,
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower-case hex.
func (id TopicID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], id[10:16])
	return string(b[:])
}

// IsZero reports whether id is the all-zero id, which Kafka reserves.
func (id TopicID) IsZero() bool { return id == TopicID{} }

// ParseTopicID parses the form String produces; the dashes are optional.
func ParseTopicID(s string) (TopicID, error) {
	var id TopicID
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return id, fmt.Errorf("parse topic id %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return id, fmt.Errorf("parse topic id %q: %w", s, err)
	}
	return id, nil
}

// Topic is one topic as the state machine holds it. Values returned by Store
// are copies the caller owns.
type Topic struct {
	Name       string
	ID         TopicID
	Partitions []Partition       // index i == partition i
	Configs    map[string]string // explicit overrides only
}

// Partition is the leadership state of one partition: its leader broker
// (NoLeader when no live broker can lead it) and leader epoch, and a
// graceful handover in progress (Handover) to broker HandoverTo.
type Partition struct {
	Leader      int32
	LeaderEpoch int32
	Handover    bool  `json:",omitempty"`
	HandoverTo  int32 `json:",omitempty"`
}

// Broker is a registered broker and where clients reach it. Incarnation is
// the raft index of its latest registration; a fenced broker's session
// lapsed (or an operator fenced it) and it leads nothing; a draining broker
// hands its partitions over and gets no new ones.
type Broker struct {
	ID          int32
	Host        string
	Port        int32
	Rack        string
	Incarnation int64 `json:",omitempty"`
	Fenced      bool  `json:",omitempty"`
	Draining    bool  `json:",omitempty"`
	// Listeners are the broker's Kafka listeners with their advertised
	// endpoints; Host and Port repeat the first. A broker registered
	// before listeners existed has none and is reached at Host:Port on
	// every listener.
	Listeners []Endpoint `json:",omitempty"`
}

// Endpoint is one listener of a broker as clients reach it: Kafka's
// listener name, advertised host and port, and security protocol
// (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL).
type Endpoint struct {
	Name     string
	Host     string
	Port     int32
	Protocol string `json:",omitempty"`
}

// Endpoint returns where clients of the listener named name reach b: the
// endpoint of that listener, or Host:Port for a broker registered without
// listeners. ok is false when b has listeners but not that one (Kafka then
// leaves the broker out of what that listener's clients see).
func (b Broker) Endpoint(name string) (host string, port int32, ok bool) {
	if len(b.Listeners) == 0 {
		return b.Host, b.Port, true
	}
	for _, e := range b.Listeners {
		if e.Name == name {
			return e.Host, e.Port, true
		}
	}
	return "", 0, false
}

// Equal reports whether a and b are the same registration.
func (b Broker) Equal(o Broker) bool {
	return b.ID == o.ID && b.Host == o.Host && b.Port == o.Port && b.Rack == o.Rack &&
		b.Incarnation == o.Incarnation && b.Fenced == o.Fenced && b.Draining == o.Draining &&
		slices.Equal(b.Listeners, o.Listeners)
}

// Clone returns a deep copy of t.
func (t Topic) Clone() Topic {
	c := t
	c.Partitions = append([]Partition(nil), t.Partitions...)
	c.Configs = make(map[string]string, len(t.Configs))
	for k, v := range t.Configs {
		c.Configs[k] = v
	}
	return c
}

// Config returns the value of a topic config: the explicit override if the
// topic has one, else Kafka's default. An unknown name returns "".
func (t Topic) Config(name string) string {
	if v, ok := t.Configs[name]; ok {
		return v
	}
	if def, ok := LookupTopicConfig(name); ok {
		return def.Default
	}
	return ""
}

// ConfigInt64 returns a long or int config as an int64. Stored values are
// validated, so the parse only fails for an unknown or non-integer name,
// which returns 0.
func (t Topic) ConfigInt64(name string) int64 {
	v, err := strconv.ParseInt(t.Config(name), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// ConfigBool returns a boolean config; false for unknown names.
func (t Topic) ConfigBool(name string) bool {
	return strings.EqualFold(t.Config(name), "true")
}

// ConfigFloat64 returns a double config; 0 for unknown names.
func (t Topic) ConfigFloat64(name string) float64 {
	v, err := strconv.ParseFloat(t.Config(name), 64)
	if err != nil {
		return 0
	}
	return v
}

// ConfigList returns a list config split on commas, blanks trimmed and
// empty items dropped.
func (t Topic) ConfigList(name string) []string {
	return splitList(t.Config(name))
}

// MaxTopicNameLen is Kafka's limit on topic name length.
const MaxTopicNameLen = 249

// ValidateTopicName applies Kafka's rules: 1..249 characters of
// [a-zA-Z0-9._-], and not "." or "..".
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: name is empty", ErrInvalidTopicName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is not allowed", ErrInvalidTopicName, name)
	case len(name) > MaxTopicNameLen:
		return fmt.Errorf("%w: %d characters, the limit is %d", ErrInvalidTopicName, len(name), MaxTopicNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %q has illegal character %q at %d (allowed: a-z A-Z 0-9 . _ -)", ErrInvalidTopicName, name, c, i)
		}
	}
	return nil
}

// MarshalText encodes the id in UUID form, so JSON carries it as a string.
func (id TopicID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the UUID form.
func (id *TopicID) UnmarshalText(b []byte) error {
	v, err := ParseTopicID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
