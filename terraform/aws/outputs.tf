output "bootstrap_servers" {
  description = "Kafka bootstrap address (bootstrap.servers): the network load balancer. Clients then connect to each broker's advertised private address."
  value       = "${aws_lb.bootstrap.dns_name}:${local.ports.kafka}"
}

output "controllers" {
  description = "The metadata quorum (ID@IP:RAFTPORT, comma-separated); `shale cluster status --controller` takes any one of its addresses."
  value       = module.config.controllers
}

output "controller_addresses" {
  description = "Fixed private IPs of the controllers, by node name."
  value       = { for name, n in module.config.nodes : name => n.host }
}

output "metrics_targets" {
  description = "Prometheus targets known at apply time (the controllers' host:port). Brokers come and go with the autoscaling group: discover them with broker_metrics_discovery."
  value       = module.config.metrics_targets
}

output "broker_metrics_discovery" {
  description = "How Prometheus finds the brokers' metrics (ec2_sd_configs): the EC2 tag filter, the port, the autoscaling group."
  value = {
    region            = local.region
    tag_filter        = { "tag:shale:cluster" = var.cluster_name, "tag:shale:role" = "broker" }
    port              = local.ports.metrics
    autoscaling_group = aws_autoscaling_group.broker.name
    scrape_path       = "/metrics"
  }
}

output "bucket" {
  description = "The S3 bucket (objects, unless S3 Express holds them, and the release tarball)."
  value       = aws_s3_bucket.this.id
}

output "object_store" {
  description = "The object_store URL of every node."
  value       = module.config.object_store
}

output "node_role_arn" {
  description = "ARN of the nodes' IAM role (for a KMS key policy, for instance)."
  value       = aws_iam_role.node.arn
}

output "node_security_group_id" {
  description = "Security group of the nodes; add rules to it for other clients."
  value       = aws_security_group.node.id
}

output "broker_autoscaling_group" {
  description = "Name of the brokers' autoscaling group (scaling policies, instance refresh)."
  value       = aws_autoscaling_group.broker.name
}
