package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// firstErrorCode finds a code at the top level, in a topic or in a
// partition, and 0 when there is none or the API is not watched.
func TestFirstErrorCode(t *testing.T) {
	produce := kmsg.NewPtrProduceResponse()
	produce.Topics = []kmsg.ProduceResponseTopic{{Partitions: []kmsg.ProduceResponseTopicPartition{{}, {ErrorCode: 6}}}}
	fetchTop := kmsg.NewPtrFetchResponse()
	fetchTop.ErrorCode = 70
	fetchTop.Topics = []kmsg.FetchResponseTopic{{Partitions: []kmsg.FetchResponseTopicPartition{{ErrorCode: 1}}}}
	fetchPart := kmsg.NewPtrFetchResponse()
	fetchPart.Topics = []kmsg.FetchResponseTopic{{}, {Partitions: []kmsg.FetchResponseTopicPartition{{}, {ErrorCode: 1}}}}
	meta := kmsg.NewPtrMetadataResponse()
	meta.Topics = []kmsg.MetadataResponseTopic{{}, {ErrorCode: 3}}
	join := kmsg.NewPtrJoinGroupResponse()
	join.ErrorCode = 79
	clean := kmsg.NewPtrProduceResponse()
	clean.Topics = []kmsg.ProduceResponseTopic{{Partitions: []kmsg.ProduceResponseTopicPartition{{}}}}
	for name, c := range map[string]struct {
		resp kmsg.Response
		want int16
	}{
		"produce partition": {produce, 6},
		"fetch top level":   {fetchTop, 70},
		"fetch partition":   {fetchPart, 1},
		"metadata topic":    {meta, 3},
		"join group":        {join, 79},
		"no error":          {clean, 0},
		"nil":               {nil, 0},
		"not watched":       {kmsg.NewPtrDescribeConfigsResponse(), 0},
	} {
		if got := firstErrorCode(c.resp); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
}
