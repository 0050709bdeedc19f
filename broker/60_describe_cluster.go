package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeCluster: v0–v1 (broker endpoints only; no controller endpoints),
// each broker's endpoint of the listener the request came through.
func handleDescribeCluster(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.EndpointType > 1 {
		msg := "controller endpoints are not exposed"
		resp.ErrorMessage = &msg
		resp.ErrorCode = kerr.InvalidRequest.Code
		rc.respond(resp)
		return
	}
	resp.ClusterID = s.meta.ClusterID()
	resp.ControllerID = s.controllerID()
	resp.EndpointType = 1
	for _, b := range s.meta.Brokers() {
		if b.Fenced {
			continue // Kafka lists only brokers that are alive
		}
		host, port, ok := s.endpoint(b, rc.conn.listener)
		if !ok {
			continue // not reachable through this client's listener
		}
		mb := kmsg.NewDescribeClusterResponseBroker()
		mb.NodeID, mb.Host, mb.Port = b.ID, host, port
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	rc.respond(resp)
}
