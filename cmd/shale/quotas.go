package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runQuotas is `shale quotas ...`, in the manner of kafka-configs.sh
// --entity-type users/clients: client quotas through
// DescribeClientQuotas and AlterClientQuotas.
func runQuotas(args []string, stdout, stderr io.Writer) int {
	return runAdmin("quotas", "manage client quotas (byte rates and request time per user and client id)", quotasCommands(), args, stdout, stderr)
}

const quotaEntityFlags = "--user NAME | --user-default, --client-id ID | --client-id-default"

func quotasCommands() []adminSpec {
	return []adminSpec{
		{
			name:     "set",
			synopsis: quotaEntityFlags + " [--producer-byte-rate N] [--consumer-byte-rate N] [--request-percentage P] [--set key=value ...] [--dry-run]",
			summary:  "set quotas of a user, a client id, or both",
			details: `Sets quota values of one entity: a user, a client id, or a user and a
client id together; --user-default and --client-id-default name the
default entity of their type. A client's quota is that of the first of
these with a value (Kafka's order): user and client id, user and default
client id, user, default user and client id, default user and default
client id, default user, client id, default client id.

Byte rates are bytes per second per broker; request-percentage is the
share of one thread's time the client's requests may take (100 = one
thread). A client over its quota gets its responses with a throttle time
and is not read from for that long.

Example:
  shale quotas set --user-default --producer-byte-rate 10485760
  shale quotas set --client-id batch-loader --consumer-byte-rate 5242880`,
			run: quotasSet,
		},
		{
			name:     "list",
			synopsis: "[--user NAME | --user-default] [--client-id ID | --client-id-default] [--strict] [--output table|json]",
			summary:  "list quotas (USER CLIENT-ID KEY VALUE)",
			details: `Lists the entities with quotas and their values. --user and --client-id
narrow the list to entities naming that user or client id (with
--strict, to entities naming nothing else).`,
			run: quotasList,
		},
		{
			name:     "remove",
			synopsis: quotaEntityFlags + " [--key KEY ...] [--dry-run]",
			summary:  "remove quotas of an entity (all its keys, or those given)",
			run:      quotasRemove,
		},
	}
}

// quotaEntityArgs holds the entity flags of a quotas command.
type quotaEntityArgs struct {
	user, clientID             string
	userSet, clientSet         bool
	userDefault, clientDefault bool
}

func (e *quotaEntityArgs) register(fs interface {
	Func(name, usage string, fn func(string) error)
	BoolVar(p *bool, name string, value bool, usage string)
}) {
	fs.Func("user", "the user `NAME` (the principal's name without User:)", func(s string) error {
		if s == "" {
			return errors.New("empty; use --user-default for the default user")
		}
		e.user, e.userSet = s, true
		return nil
	})
	fs.BoolVar(&e.userDefault, "user-default", false, "the default user entity")
	fs.Func("client-id", "the client `ID`", func(s string) error {
		if s == "" {
			return errors.New("empty; use --client-id-default for the default client id")
		}
		e.clientID, e.clientSet = s, true
		return nil
	})
	fs.BoolVar(&e.clientDefault, "client-id-default", false, "the default client id entity")
}

// entity returns the entity the flags name; required says whether one
// must be named.
func (e *quotaEntityArgs) entity(required bool) (kadm.ClientQuotaEntity, error) {
	if e.userSet && e.userDefault {
		return nil, usagef("--user and --user-default exclude each other")
	}
	if e.clientSet && e.clientDefault {
		return nil, usagef("--client-id and --client-id-default exclude each other")
	}
	var ent kadm.ClientQuotaEntity
	switch {
	case e.userSet:
		name := e.user
		ent = append(ent, kadm.ClientQuotaEntityComponent{Type: "user", Name: &name})
	case e.userDefault:
		ent = append(ent, kadm.ClientQuotaEntityComponent{Type: "user"})
	}
	switch {
	case e.clientSet:
		name := e.clientID
		ent = append(ent, kadm.ClientQuotaEntityComponent{Type: "client-id", Name: &name})
	case e.clientDefault:
		ent = append(ent, kadm.ClientQuotaEntityComponent{Type: "client-id"})
	}
	if required && len(ent) == 0 {
		return nil, usagef("name the entity: %s", quotaEntityFlags)
	}
	return ent, nil
}

func quotasSet(c *adminCmd, args []string) error {
	fs := c.flags()
	var e quotaEntityArgs
	e.register(fs)
	values := map[string]float64{}
	var order []string
	setValue := func(key string) func(string) error {
		return func(s string) error {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", s)
			}
			if _, dup := values[key]; !dup {
				order = append(order, key)
			}
			values[key] = v
			return nil
		}
	}
	fs.Func("producer-byte-rate", "produce bytes per second (`N`)", setValue("producer_byte_rate"))
	fs.Func("consumer-byte-rate", "fetched bytes per second (`N`)", setValue("consumer_byte_rate"))
	fs.Func("request-percentage", "share of one thread's time, in percent (`P`)", setValue("request_percentage"))
	fs.Func("set", "any quota `key=value` (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return errors.New("want key=value")
		}
		return setValue(k)(v)
	})
	dryRun := fs.Bool("dry-run", false, "have the broker validate the change without applying it")
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	ent, err := e.entity(true)
	if err != nil {
		return err
	}
	if len(values) == 0 {
		return usagef("give at least one value (--producer-byte-rate, --consumer-byte-rate, --request-percentage or --set)")
	}
	var ops []kadm.AlterClientQuotaOp
	for _, k := range order {
		ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: values[k]})
	}
	return alterQuotas(c, ent, ops, *dryRun, "set")
}

func quotasRemove(c *adminCmd, args []string) error {
	fs := c.flags()
	var e quotaEntityArgs
	e.register(fs)
	var keys []string
	fs.Func("key", "remove only this quota `KEY` (repeatable; default: every key)", func(s string) error {
		keys = append(keys, s)
		return nil
	})
	dryRun := fs.Bool("dry-run", false, "have the broker validate the change without applying it")
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	ent, err := e.entity(true)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		keys = []string{"consumer_byte_rate", "producer_byte_rate", "request_percentage"}
	}
	var ops []kadm.AlterClientQuotaOp
	for _, k := range keys {
		ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
	}
	return alterQuotas(c, ent, ops, *dryRun, "remove")
}

func alterQuotas(c *adminCmd, ent kadm.ClientQuotaEntity, ops []kadm.AlterClientQuotaOp, dryRun bool, verb string) error {
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	entries := []kadm.AlterClientQuotaEntry{{Entity: ent, Ops: ops}}
	var res kadm.AlteredClientQuotas
	if dryRun {
		res, err = adm.ValidateAlterClientQuotas(ctx, entries)
	} else {
		res, err = adm.AlterClientQuotas(ctx, entries)
	}
	if err != nil {
		return c.requestErr(verb+" quotas", err)
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("%s quotas of %s: %s", verb, entityText(r.Entity), kafkaErrorText(r.Err, r.ErrMessage))
		}
	}
	suffix := ""
	if dryRun {
		suffix = " (dry run: nothing changed)"
	}
	fmt.Fprintf(c.stdout, "%s quotas of %s%s\n", map[string]string{"set": "Set", "remove": "Removed"}[verb], entityText(ent), suffix)
	return nil
}

// quotaRow is one value of `shale quotas list`.
type quotaRow struct {
	User     string  `json:"user"`
	ClientID string  `json:"client_id"`
	Key      string  `json:"key"`
	Value    float64 `json:"value"`
}

func quotasList(c *adminCmd, args []string) error {
	fs := c.flags()
	c.outputFlag(fs)
	var e quotaEntityArgs
	e.register(fs)
	strict := fs.Bool("strict", false, "only entities naming nothing but the given user and client id")
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	ent, err := e.entity(false)
	if err != nil {
		return err
	}
	var filter []kadm.DescribeClientQuotaComponent
	for _, comp := range ent {
		f := kadm.DescribeClientQuotaComponent{Type: comp.Type, MatchName: comp.Name, MatchType: kadm.QuotasMatchType(kmsg.QuotasMatchTypeExact)}
		if comp.Name == nil {
			f.MatchType = kadm.QuotasMatchType(kmsg.QuotasMatchTypeDefault)
		}
		filter = append(filter, f)
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	described, err := adm.DescribeClientQuotas(ctx, *strict, filter)
	if err != nil {
		return c.requestErr("list quotas", err)
	}
	rows := []quotaRow{}
	for _, d := range described {
		user, client := "-", "-"
		for _, comp := range d.Entity {
			name := "<default>"
			if comp.Name != nil {
				name = *comp.Name
			}
			switch comp.Type {
			case "user":
				user = name
			case "client-id":
				client = name
			}
		}
		for _, v := range d.Values {
			rows = append(rows, quotaRow{User: user, ClientID: client, Key: v.Key, Value: v.Value})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.User != b.User {
			return a.User < b.User
		}
		if a.ClientID != b.ClientID {
			return a.ClientID < b.ClientID
		}
		return a.Key < b.Key
	})
	if c.output == "json" {
		return writeJSON(c.stdout, rows)
	}
	t := newTable("USER", "CLIENT-ID", "KEY", "VALUE")
	for _, r := range rows {
		t.addRow(r.User, r.ClientID, r.Key, strconv.FormatFloat(r.Value, 'f', -1, 64))
	}
	return t.render(c.stdout)
}

// entityText is an entity as "user=alice,client-id=<default>".
func entityText(ent kadm.ClientQuotaEntity) string {
	var parts []string
	for _, comp := range ent {
		name := "<default>"
		if comp.Name != nil {
			name = *comp.Name
		}
		parts = append(parts, comp.Type+"="+name)
	}
	return strings.Join(parts, ",")
}
