package broker

import (
	"context"
	"errors"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// kafkaError maps an error from the layers below to the Kafka error a real
// broker returns, and the message to send where the response has one.
func kafkaError(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	msg := err.Error()
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Code, &msg
	case errors.Is(err, metadata.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code, &msg
	case errors.Is(err, metadata.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code, &msg
	case errors.Is(err, metadata.ErrInvalidTopicName):
		return kerr.InvalidTopicException.Code, &msg
	case errors.Is(err, metadata.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code, &msg
	case errors.Is(err, metadata.ErrInvalidConfig):
		return kerr.InvalidConfig.Code, &msg
	case errors.Is(err, metadata.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code, &msg
	case errors.Is(err, metadata.ErrInvalidRequest):
		return kerr.InvalidRequest.Code, &msg
	case errors.Is(err, acl.ErrInvalid):
		return kerr.InvalidRequest.Code, &msg
	case errors.Is(err, metadata.ErrNotLeader):
		return kerr.NotController.Code, &msg
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code, &msg
	}
	return kerr.UnknownServerError.Code, &msg
}

func errCode(err error) int16 {
	c, _ := kafkaError(err)
	return c
}
