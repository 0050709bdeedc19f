package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runACLs is `shale acls ...`, in the manner of kafka-acls.sh, over
// CreateAcls, DescribeAcls and DeleteAcls.
func runACLs(args []string, stdout, stderr io.Writer) int {
	return runAdmin("acls", "manage ACLs (who may do what to topics, groups, transactional ids, the cluster)", aclsCommands(), args, stdout, stderr)
}

const aclResourceHelp = `The resource is one of --topic NAME, --group NAME, --transactional-id NAME
or --cluster; NAME "*" is every resource of that type, and with
--prefixed NAME is a prefix of the names it covers.`

func aclsCommands() []adminSpec {
	return []adminSpec{
		{
			name:     "add",
			synopsis: "--principal User:NAME --operation OP[,OP] (--topic N | --group N | --transactional-id N | --cluster) [--prefixed] [--host IP] [--deny]",
			summary:  "allow (or with --deny, deny) principals operations on a resource",
			details: aclResourceHelp + `

Operations: All, Read, Write, Create, Delete, Alter, Describe,
ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite. Read, Write,
Delete and Alter imply Describe; AlterConfigs implies DescribeConfigs. A
deny wins over every allow. The principal User:* is everyone, the host *
(the default) every client address.`,
			run: aclsAdd,
		},
		{
			name:     "list",
			synopsis: "[--principal P] [--topic N | --group N | --transactional-id N | --cluster] [--pattern literal|prefixed|match|any] [--output table|json]",
			summary:  "list ACLs (TYPE NAME PATTERN PRINCIPAL HOST OPERATION PERMISSION)",
			details: `Without flags, every ACL. With a resource, the ACLs of that resource
only; --pattern match lists every ACL that applies to the name (its
literal ACLs, the wildcard "*" and the prefixed ACLs it starts with).`,
			run: aclsList,
		},
		{
			name:     "remove",
			synopsis: "[--principal P] [--operation OP] (--topic N | --group N | --transactional-id N | --cluster | --all) [--prefixed] [--host IP] [--deny | --allow]",
			summary:  "remove the ACLs that match, and list them",
			details: `Removes every ACL matching all the flags given: a flag not given matches
any value. Without a resource, --all is required, so that a bare remove
cannot delete every ACL by mistake.`,
			run: aclsRemove,
		},
	}
}

// aclFlags are the flags of the acls commands.
type aclFlags struct {
	principal, host  string
	operations       string
	topic, group     string
	txnID, pattern   string
	cluster, deny    bool
	allow, prefixed  bool
	all              bool
	hasTopic, hasGrp bool
	hasTxn           bool
}

func (c *adminCmd) aclFlagSet(f *aclFlags, remove bool) *flag.FlagSet {
	fs := c.flags()
	fs.StringVar(&f.principal, "principal", "", "the `principal`, such as User:alice or User:* (everyone)")
	fs.StringVar(&f.host, "host", "", "the client `address` the ACL applies to (* for any; add's default)")
	fs.StringVar(&f.operations, "operation", "", "`operations`, comma-separated: Read, Write, Describe, All, ...")
	fs.Func("topic", "a topic `name` (or prefix with --prefixed; * for every topic)", func(s string) error { f.topic, f.hasTopic = s, true; return nil })
	fs.Func("group", "a consumer group `name`", func(s string) error { f.group, f.hasGrp = s, true; return nil })
	fs.Func("transactional-id", "a transactional `id`", func(s string) error { f.txnID, f.hasTxn = s, true; return nil })
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster resource")
	fs.BoolVar(&f.prefixed, "prefixed", false, "the name is a prefix (a PREFIXED pattern)")
	fs.BoolVar(&f.deny, "deny", false, "a DENY ACL (add: deny instead of allow)")
	if remove {
		fs.BoolVar(&f.allow, "allow", false, "only ALLOW ACLs")
		fs.BoolVar(&f.all, "all", false, "remove ACLs of every resource")
	}
	return fs
}

// resource returns the one resource the flags name, or ResourceAny.
func (f *aclFlags) resource() (acl.ResourceType, *string, error) {
	var rt acl.ResourceType
	var name string
	n := 0
	if f.hasTopic {
		rt, name, n = acl.ResourceTopic, f.topic, n+1
	}
	if f.hasGrp {
		rt, name, n = acl.ResourceGroup, f.group, n+1
	}
	if f.hasTxn {
		rt, name, n = acl.ResourceTransactionalID, f.txnID, n+1
	}
	if f.cluster {
		rt, name, n = acl.ResourceCluster, acl.ClusterName, n+1
	}
	switch {
	case n > 1:
		return 0, nil, usagef("give one of --topic, --group, --transactional-id and --cluster")
	case n == 0:
		return acl.ResourceAny, nil, nil
	case name == "":
		return 0, nil, usagef("the resource name is empty")
	}
	return rt, &name, nil
}

func parseOperations(s string) ([]acl.Operation, error) {
	var ops []acl.Operation
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		op, err := acl.ParseOperation(part)
		if err != nil || op == acl.OpAny {
			return nil, usagef("invalid value %q for --operation: want Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All", part)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func checkPrincipal(p string) error {
	if typ, name, ok := strings.Cut(p, ":"); !ok || typ == "" || name == "" {
		return usagef("invalid value %q for --principal: want TYPE:NAME such as User:alice", p)
	}
	return nil
}

func aclsAdd(c *adminCmd, args []string) error {
	var f aclFlags
	fs := c.aclFlagSet(&f, false)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if f.principal == "" {
		return usagef("missing --principal")
	}
	if err := checkPrincipal(f.principal); err != nil {
		return err
	}
	rt, name, err := f.resource()
	if err != nil {
		return err
	}
	if rt == acl.ResourceAny {
		return usagef("missing resource: give --topic, --group, --transactional-id or --cluster")
	}
	if f.operations == "" {
		return usagef("missing --operation")
	}
	ops, err := parseOperations(f.operations)
	if err != nil {
		return err
	}
	host := f.host
	if host == "" {
		host = acl.Wildcard
	}
	pt, perm := acl.PatternLiteral, acl.PermissionAllow
	if f.prefixed {
		pt = acl.PatternPrefixed
	}
	if f.deny {
		perm = acl.PermissionDeny
	}
	req := kmsg.NewPtrCreateACLsRequest()
	for _, op := range ops {
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = kmsg.ACLResourceType(rt), *name, kmsg.ACLResourcePatternType(pt)
		cr.Principal, cr.Host = f.principal, host
		cr.Operation, cr.PermissionType = kmsg.ACLOperation(op), kmsg.ACLPermissionType(perm)
		req.Creations = append(req.Creations, cr)
	}
	_, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	resp, err := req.RequestWith(ctx, c.kcl)
	if err != nil {
		return c.requestErr("create ACLs", err)
	}
	var failed []string
	for i, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", ops[i], kafkaErrorText(err, derefString(r.ErrorMessage))))
		}
	}
	if len(failed) > 0 {
		return errors.New("create ACLs: " + strings.Join(failed, "; "))
	}
	t := newTable("TYPE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION")
	for _, op := range ops {
		t.addRow(rt, *name, pt, f.principal, host, op, perm)
	}
	return t.render(c.stdout)
}

// aclListing is one ACL as `acls list` and `acls remove` print it.
type aclListing struct {
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  string `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

func (c *adminCmd) printACLs(out []aclListing) error {
	if c.output == "json" {
		return writeJSON(c.stdout, out)
	}
	t := newTable("TYPE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION")
	for _, a := range out {
		t.addRow(a.ResourceType, a.ResourceName, a.PatternType, a.Principal, a.Host, a.Operation, a.Permission)
	}
	return t.render(c.stdout)
}

func aclsList(c *adminCmd, args []string) error {
	var f aclFlags
	fs := c.aclFlagSet(&f, false)
	fs.StringVar(&f.pattern, "pattern", "", "`pattern` type to match: literal, prefixed, match or any (default any; literal or prefixed with --prefixed)")
	c.outputFlag(fs)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	rt, name, err := f.resource()
	if err != nil {
		return err
	}
	pt := acl.PatternAny
	switch {
	case f.pattern != "":
		if pt, err = acl.ParsePatternType(f.pattern); err != nil {
			return usagef("invalid value %q for --pattern: want literal, prefixed, match or any", f.pattern)
		}
	case f.prefixed:
		pt = acl.PatternPrefixed
	}
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourceName, req.ResourcePatternType = kmsg.ACLResourceType(rt), name, kmsg.ACLResourcePatternType(pt)
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	if f.principal != "" {
		req.Principal = &f.principal
	}
	if f.host != "" {
		req.Host = &f.host
	}
	if f.deny {
		req.PermissionType = kmsg.ACLPermissionTypeDeny
	}
	_, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	resp, err := req.RequestWith(ctx, c.kcl)
	if err != nil {
		return c.requestErr("describe ACLs", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("describe ACLs: %s", kafkaErrorText(err, derefString(resp.ErrorMessage)))
	}
	out := []aclListing{}
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			out = append(out, aclListing{
				ResourceType: acl.ResourceType(r.ResourceType).String(), ResourceName: r.ResourceName,
				PatternType: acl.PatternType(r.ResourcePatternType).String(), Principal: a.Principal, Host: a.Host,
				Operation: acl.Operation(a.Operation).String(), Permission: acl.Permission(a.PermissionType).String(),
			})
		}
	}
	return c.printACLs(out)
}

func aclsRemove(c *adminCmd, args []string) error {
	var f aclFlags
	fs := c.aclFlagSet(&f, true)
	c.outputFlag(fs)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	rt, name, err := f.resource()
	if err != nil {
		return err
	}
	if rt == acl.ResourceAny && !f.all {
		return usagef("missing resource: give --topic, --group, --transactional-id or --cluster, or --all")
	}
	if f.deny && f.allow {
		return usagef("--deny and --allow exclude each other")
	}
	ops := []acl.Operation{acl.OpAny}
	if f.operations != "" {
		if ops, err = parseOperations(f.operations); err != nil {
			return err
		}
	}
	pt := acl.PatternLiteral
	switch {
	case rt == acl.ResourceAny:
		pt = acl.PatternAny
	case f.prefixed:
		pt = acl.PatternPrefixed
	}
	perm := acl.PermissionAny
	switch {
	case f.deny:
		perm = acl.PermissionDeny
	case f.allow:
		perm = acl.PermissionAllow
	}
	req := kmsg.NewPtrDeleteACLsRequest()
	for _, op := range ops {
		rf := kmsg.NewDeleteACLsRequestFilter()
		rf.ResourceType, rf.ResourceName, rf.ResourcePatternType = kmsg.ACLResourceType(rt), name, kmsg.ACLResourcePatternType(pt)
		if f.principal != "" {
			rf.Principal = &f.principal
		}
		if f.host != "" {
			rf.Host = &f.host
		}
		rf.Operation, rf.PermissionType = kmsg.ACLOperation(op), kmsg.ACLPermissionType(perm)
		req.Filters = append(req.Filters, rf)
	}
	_, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	resp, err := req.RequestWith(ctx, c.kcl)
	if err != nil {
		return c.requestErr("delete ACLs", err)
	}
	out := []aclListing{}
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return fmt.Errorf("delete ACLs: %s", kafkaErrorText(err, derefString(r.ErrorMessage)))
		}
		for _, m := range r.MatchingACLs {
			out = append(out, aclListing{
				ResourceType: acl.ResourceType(m.ResourceType).String(), ResourceName: m.ResourceName,
				PatternType: acl.PatternType(m.ResourcePatternType).String(), Principal: m.Principal, Host: m.Host,
				Operation: acl.Operation(m.Operation).String(), Permission: acl.Permission(m.PermissionType).String(),
			})
		}
	}
	return c.printACLs(out)
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
