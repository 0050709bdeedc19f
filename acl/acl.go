// Package acl is Kafka's authorization model as Shale serves it: ACL
// bindings (a resource pattern and an access control entry), the filters
// of DescribeAcls and DeleteAcls, and the Authorizer that decides whether a
// principal may perform an operation on a resource.
//
// The numeric values of the enumerations are Kafka's wire codes, so a
// binding travels through CreateAcls, the metadata log and DescribeAcls
// without translation. The bindings themselves live in the metadata state
// (replicated through Raft); this package only reads them.
package acl

import (
	"errors"
	"fmt"
	"strings"
)

// ResourceType is what a binding protects (Kafka's ResourceType codes).
type ResourceType int8

const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1 // filters only
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// PatternType says how a binding's resource name matches names.
type PatternType int8

const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1 // filters only: any pattern type
	PatternMatch    PatternType = 2 // filters only: every pattern that matches the name
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operation is an action on a resource (Kafka's AclOperation codes).
type Operation int8

const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1 // filters only
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

// Permission is whether a binding allows or denies.
type Permission int8

const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1 // filters only
	PermissionDeny    Permission = 2
	PermissionAllow   Permission = 3
)

// ClusterName is the only name of the cluster resource, as in Kafka.
const ClusterName = "kafka-cluster"

// Wildcard is the resource name, the principal name and the host that
// match everything.
const Wildcard = "*"

// WildcardPrincipal matches every user principal.
const WildcardPrincipal = "User:*"

// Anonymous is the principal of an unauthenticated connection.
const Anonymous = "User:ANONYMOUS"

// Binding is one ACL: a resource pattern and an access control entry.
type Binding struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType
	Principal    string // "User:alice", or WildcardPrincipal
	Host         string // an IP address, or Wildcard
	Operation    Operation
	Permission   Permission
}

// ErrInvalid marks a binding or filter Kafka refuses (INVALID_REQUEST).
var ErrInvalid = errors.New("invalid ACL")

// Validate reports why Kafka would refuse to create b, or nil.
func (b Binding) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch b.ResourceType {
	case ResourceTopic, ResourceGroup, ResourceCluster, ResourceTransactionalID, ResourceDelegationToken, ResourceUser:
	default:
		return bad("invalid resource type %s", b.ResourceType)
	}
	if b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed {
		return bad("invalid pattern type %s", b.PatternType)
	}
	if !b.Operation.concrete() {
		return bad("invalid operation %s", b.Operation)
	}
	if b.Permission != PermissionAllow && b.Permission != PermissionDeny {
		return bad("invalid permission type %s", b.Permission)
	}
	if b.ResourceName == "" {
		return bad("Invalid empty resource name")
	}
	if b.ResourceType == ResourceCluster && b.ResourceName != ClusterName {
		return bad("The only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if typ, name, ok := strings.Cut(b.Principal, ":"); !ok || typ == "" || name == "" {
		return bad("Could not parse principal from `%s` (no colon is present separating the principal type from the principal name)", b.Principal)
	}
	if b.Host == "" {
		return bad("Invalid empty host")
	}
	return nil
}

func (o Operation) concrete() bool { return o >= OpAll && o <= OpDescribeTokens }

// Filter selects bindings, as DescribeAcls and DeleteAcls filters do. A nil
// name, principal or host matches any value.
type Filter struct {
	ResourceType ResourceType // ResourceAny for any
	ResourceName *string
	PatternType  PatternType // PatternAny, PatternMatch, or an exact type
	Principal    *string
	Host         *string
	Operation    Operation  // OpAny for any
	Permission   Permission // PermissionAny for any
}

// Validate reports why Kafka would refuse f, or nil.
func (f Filter) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if f.ResourceType < ResourceAny || f.ResourceType > ResourceUser {
		return bad("invalid resource type %s", f.ResourceType)
	}
	if f.PatternType < PatternAny || f.PatternType > PatternPrefixed {
		return bad("invalid pattern type %s", f.PatternType)
	}
	if f.Operation < OpAny || f.Operation > OpDescribeTokens {
		return bad("invalid operation %s", f.Operation)
	}
	if f.Permission < PermissionAny || f.Permission > PermissionAllow {
		return bad("invalid permission type %s", f.Permission)
	}
	return nil
}

// Matches reports whether f selects b, with Kafka's filter rules: a MATCH
// pattern type selects the literal binding of the name, the literal
// wildcard and every prefixed binding the name starts with.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	switch f.PatternType {
	case PatternAny:
		if f.ResourceName != nil && *f.ResourceName != b.ResourceName {
			return false
		}
	case PatternMatch:
		if f.ResourceName != nil && !patternMatches(b.PatternType, b.ResourceName, *f.ResourceName) {
			return false
		}
	default:
		if f.PatternType != b.PatternType || f.ResourceName != nil && *f.ResourceName != b.ResourceName {
			return false
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == PermissionAny || f.Permission == b.Permission
}

// patternMatches reports whether a pattern (type and name) covers name.
func patternMatches(pt PatternType, pattern, name string) bool {
	switch pt {
	case PatternLiteral:
		return pattern == name || pattern == Wildcard
	case PatternPrefixed:
		return strings.HasPrefix(name, pattern)
	}
	return false
}

func (t ResourceType) String() string {
	switch t {
	case ResourceAny:
		return "ANY"
	case ResourceTopic:
		return "TOPIC"
	case ResourceGroup:
		return "GROUP"
	case ResourceCluster:
		return "CLUSTER"
	case ResourceTransactionalID:
		return "TRANSACTIONAL_ID"
	case ResourceDelegationToken:
		return "DELEGATION_TOKEN"
	case ResourceUser:
		return "USER"
	}
	return fmt.Sprintf("UNKNOWN(%d)", int8(t))
}

func (p PatternType) String() string {
	switch p {
	case PatternAny:
		return "ANY"
	case PatternMatch:
		return "MATCH"
	case PatternLiteral:
		return "LITERAL"
	case PatternPrefixed:
		return "PREFIXED"
	}
	return fmt.Sprintf("UNKNOWN(%d)", int8(p))
}

var opNames = [...]string{
	OpAny: "ANY", OpAll: "ALL", OpRead: "READ", OpWrite: "WRITE", OpCreate: "CREATE",
	OpDelete: "DELETE", OpAlter: "ALTER", OpDescribe: "DESCRIBE", OpClusterAction: "CLUSTER_ACTION",
	OpDescribeConfigs: "DESCRIBE_CONFIGS", OpAlterConfigs: "ALTER_CONFIGS",
	OpIdempotentWrite: "IDEMPOTENT_WRITE", OpCreateTokens: "CREATE_TOKENS", OpDescribeTokens: "DESCRIBE_TOKENS",
}

func (o Operation) String() string {
	if o >= OpAny && int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("UNKNOWN(%d)", int8(o))
}

func (p Permission) String() string {
	switch p {
	case PermissionAny:
		return "ANY"
	case PermissionDeny:
		return "DENY"
	case PermissionAllow:
		return "ALLOW"
	}
	return fmt.Sprintf("UNKNOWN(%d)", int8(p))
}

// ParseResourceType reads a resource type by its Kafka name
// (case-insensitive; "transactional-id" and "transactionalid" too).
func ParseResourceType(s string) (ResourceType, error) {
	switch strings.ReplaceAll(strings.ReplaceAll(strings.ToUpper(s), "-", "_"), "TRANSACTIONALID", "TRANSACTIONAL_ID") {
	case "ANY":
		return ResourceAny, nil
	case "TOPIC":
		return ResourceTopic, nil
	case "GROUP":
		return ResourceGroup, nil
	case "CLUSTER":
		return ResourceCluster, nil
	case "TRANSACTIONAL_ID":
		return ResourceTransactionalID, nil
	case "DELEGATION_TOKEN":
		return ResourceDelegationToken, nil
	case "USER":
		return ResourceUser, nil
	}
	return ResourceUnknown, fmt.Errorf("unknown resource type %q", s)
}

// ParsePatternType reads a pattern type by its Kafka name.
func ParsePatternType(s string) (PatternType, error) {
	switch strings.ToUpper(s) {
	case "ANY":
		return PatternAny, nil
	case "MATCH":
		return PatternMatch, nil
	case "LITERAL":
		return PatternLiteral, nil
	case "PREFIXED":
		return PatternPrefixed, nil
	}
	return PatternUnknown, fmt.Errorf("unknown pattern type %q", s)
}

// ParseOperation reads an operation by its Kafka name ("Read", "READ",
// "describe-configs", "DescribeConfigs" all work).
func ParseOperation(s string) (Operation, error) {
	norm := strings.ToUpper(strings.NewReplacer("-", "", "_", "").Replace(s))
	for o, name := range opNames {
		if name != "" && strings.ReplaceAll(name, "_", "") == norm {
			return Operation(o), nil
		}
	}
	return OpUnknown, fmt.Errorf("unknown operation %q", s)
}

// ParsePermission reads a permission type by its Kafka name.
func ParsePermission(s string) (Permission, error) {
	switch strings.ToUpper(s) {
	case "ANY":
		return PermissionAny, nil
	case "ALLOW":
		return PermissionAllow, nil
	case "DENY":
		return PermissionDeny, nil
	}
	return PermissionUnknown, fmt.Errorf("unknown permission type %q", s)
}
