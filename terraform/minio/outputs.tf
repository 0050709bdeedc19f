output "bootstrap_servers" {
  description = "Kafka bootstrap addresses (bootstrap.servers): every node with the broker role."
  value       = module.config.bootstrap_servers
}

output "controllers" {
  description = "The metadata quorum (ID@HOST:RAFTPORT, comma-separated); `shale cluster status --controller` takes any one of its addresses."
  value       = module.config.controllers
}

output "metrics_targets" {
  description = "host:port of every node's metrics listener (Prometheus /metrics targets)."
  value       = module.config.metrics_targets
}

output "object_store" {
  description = "The object_store URL of every node."
  value       = module.config.object_store
}

output "minio_user" {
  description = "The MinIO user (access key) the nodes use."
  value       = minio_iam_user.shale.name
}

output "minio_policy_json" {
  description = "The policy attached to that user: the bucket and prefix, nothing else."
  value       = module.config.minio_policy_json
}

output "user_data" {
  description = "cloud-init user data by node name, for hosts provisioned by cloud-init instead of SSH (it carries the MinIO credentials: treat it as a secret)."
  value       = module.config.user_data
  sensitive   = true
}
