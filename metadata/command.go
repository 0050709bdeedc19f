package metadata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// commandType is the first byte of every raft log entry Shale proposes.
// Values are part of the on-disk format: never renumber or reuse one.
type commandType uint8

const (
	cmdInitCluster         commandType = 1
	cmdRegisterBroker      commandType = 2
	cmdCreateTopic         commandType = 3
	cmdDeleteTopic         commandType = 4
	cmdCreatePartitions    commandType = 5
	cmdAlterTopicConfigs   commandType = 6
	cmdAllocateProducerIDs commandType = 7
)

func (t commandType) String() string {
	switch t {
	case cmdInitCluster:
		return "InitCluster"
	case cmdRegisterBroker:
		return "RegisterBroker"
	case cmdCreateTopic:
		return "CreateTopic"
	case cmdDeleteTopic:
		return "DeleteTopic"
	case cmdCreatePartitions:
		return "CreatePartitions"
	case cmdAlterTopicConfigs:
		return "AlterTopicConfigs"
	case cmdAllocateProducerIDs:
		return "AllocateProducerIDs"
	}
	return fmt.Sprintf("command(%d)", uint8(t))
}

// commandVersion1 is the body version every command is written with today.
// A change to a body's fields bumps that command's version; decodeCommand
// keeps reading every version it ever wrote.
const commandVersion1 = 1

// command is one decoded raft log entry. Each concrete type is a plain
// struct whose exported fields are its JSON body.
type command interface {
	commandType() commandType
}

type initClusterCmd struct {
	ClusterID string
}

type registerBrokerCmd struct {
	Broker Broker
}

type createTopicCmd struct {
	Name          string
	ID            TopicID
	Partitions    int32
	Configs       map[string]string
	DefaultLeader int32 // leader when no broker is registered: the proposer's id
}

type deleteTopicCmd struct {
	Name string
}

type createPartitionsCmd struct {
	Name          string
	NewTotal      int32
	DefaultLeader int32
}

type alterTopicConfigsCmd struct {
	Name string
	Ops  []ConfigOp
}

type allocateProducerIDsCmd struct {
	Count int64
}

func (initClusterCmd) commandType() commandType         { return cmdInitCluster }
func (registerBrokerCmd) commandType() commandType      { return cmdRegisterBroker }
func (createTopicCmd) commandType() commandType         { return cmdCreateTopic }
func (deleteTopicCmd) commandType() commandType         { return cmdDeleteTopic }
func (createPartitionsCmd) commandType() commandType    { return cmdCreatePartitions }
func (alterTopicConfigsCmd) commandType() commandType   { return cmdAlterTopicConfigs }
func (allocateProducerIDsCmd) commandType() commandType { return cmdAllocateProducerIDs }

// encodeCommand lays out one raft log entry: type, version, JSON body.
func encodeCommand(c command) ([]byte, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.commandType(), err)
	}
	out := make([]byte, 0, 2+len(body))
	out = append(out, byte(c.commandType()), commandVersion1)
	return append(out, body...), nil
}

// decodeCommand parses a raft log entry written by encodeCommand. Unknown
// types and versions return ErrUnknownCommand; a malformed body returns a
// plain error. It never panics on any input.
func decodeCommand(b []byte) (command, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("decode command: %d bytes, want at least 2", len(b))
	}
	typ, version, body := commandType(b[0]), b[1], b[2:]
	if version != commandVersion1 {
		return nil, fmt.Errorf("%w: %s version %d", ErrUnknownCommand, typ, version)
	}
	switch typ {
	case cmdInitCluster:
		return decodeBody[initClusterCmd](typ, body)
	case cmdRegisterBroker:
		return decodeBody[registerBrokerCmd](typ, body)
	case cmdCreateTopic:
		return decodeBody[createTopicCmd](typ, body)
	case cmdDeleteTopic:
		return decodeBody[deleteTopicCmd](typ, body)
	case cmdCreatePartitions:
		return decodeBody[createPartitionsCmd](typ, body)
	case cmdAlterTopicConfigs:
		return decodeBody[alterTopicConfigsCmd](typ, body)
	case cmdAllocateProducerIDs:
		return decodeBody[allocateProducerIDsCmd](typ, body)
	}
	return nil, fmt.Errorf("%w: type %d", ErrUnknownCommand, uint8(typ))
}

func decodeBody[T command](typ commandType, body []byte) (command, error) {
	var c T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode %s body: %w", typ, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode %s body: trailing data", typ)
	}
	return c, nil
}
