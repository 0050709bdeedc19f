# Cross-variable checks are preconditions of the outputs every caller
# reads, so a bad combination fails plan with a message naming it.

output "node_configs" {
  description = "Each node's shale.yaml by node name (controller-ID, broker-ID): the file to install at config_path."
  value       = local.node_configs

  precondition {
    condition     = var.bucket != null || var.object_store_url != null
    error_message = "Set bucket (S3 or MinIO) or object_store_url."
  }
  precondition {
    condition     = var.bucket == null || var.object_store_url == null
    error_message = "Set bucket or object_store_url, not both: object_store_url replaces bucket, prefix, region and s3_endpoint."
  }
  precondition {
    condition     = !local.broker_ids_clash
    error_message = "A broker has the node id of a controller; every node id must be unique."
  }
  precondition {
    condition     = length(distinct(local.listen_addresses)) == length(local.listen_addresses)
    error_message = "Two listeners share a host and port; nodes on one host need distinct ports."
  }
  precondition {
    condition     = length([for v in [var.release_s3_uri, var.release_url, var.release_file] : v if v != null]) <= 1
    error_message = "Set at most one of release_s3_uri, release_url and release_file."
  }
  precondition {
    condition     = !local.s3_express || (var.region != null && var.aws_account_id != null)
    error_message = "An S3 Express One Zone directory bucket (--x-s3) needs region and aws_account_id for its ARN."
  }
}

output "broker_config_template" {
  description = "shale.yaml of a broker whose address is known only at boot (an autoscaling group): the user data replaces @@NODE_ID@@ and @@HOST@@ from instance metadata. Ports are those of default_ports."
  value       = local.broker_config_template
}

output "nodes" {
  description = "Each node by name: its id, roles and the addresses it is reached at (kafka is null for a controller that is not a broker)."
  value = {
    for name, n in local.nodes : name => {
      id      = n.id
      roles   = n.roles
      host    = n.host
      kafka   = n.is_broker ? "${n.host}:${n.kafka_port}" : null
      raft    = "${n.host}:${n.raft_port}"
      metrics = "${n.host}:${n.metrics_port}"
    }
  }
}

output "controllers" {
  description = "The metadata quorum as every node's metadata.controllers value (ID@HOST:RAFTPORT, comma-separated); also what `shale cluster status --controller` takes."
  value       = local.controllers
}

output "bootstrap_servers" {
  description = "Kafka addresses of the nodes with the broker role known in advance, comma-separated (bootstrap.servers); empty when every broker is in an autoscaling group."
  value       = join(",", [for n in local.nodes : "${n.host}:${n.kafka_port}" if n.is_broker])
}

output "metrics_targets" {
  description = "host:port of every node's metrics listener known in advance (Prometheus scrape targets: /metrics)."
  value       = [for n in local.nodes : "${n.host}:${n.metrics_port}"]
}

output "default_ports" {
  description = "Ports of brokers in an autoscaling group (kafka, raft, metrics); the defaults of every node."
  value       = local.default_ports
}

output "object_store" {
  description = "The object_store URL every node gets."
  value       = local.object_store
}

output "systemd_unit" {
  description = "The systemd unit (shale.service) starting `shale broker --config CONFIG_PATH` as service_user."
  value       = local.systemd_unit
}

output "install_scripts" {
  description = "The first-boot script the user data runs, by node name (and broker-template): creates the user and data_dir, mounts an instance-store disk if asked, installs the release tarball if given, fills in an autoscaled broker's id and address, starts the unit."
  value       = local.install_scripts
}

output "user_data" {
  description = "cloud-init user data (#cloud-config) by node name, plus \"broker-template\" for brokers of an autoscaling group: writes shale.yaml, the unit and the install script, then runs it."
  value       = local.user_data
  sensitive   = true
}

output "environment_file" {
  description = "Content of environment_file (KEY=VALUE lines) for delivery other than the user data; empty without environment."
  value       = local.environment_file
  sensitive   = true
}

output "iam_policy_json" {
  description = "IAM policy (JSON) granting exactly what Shale does in the bucket and prefix (and reading the release tarball); null with object_store_url."
  value       = local.iam_policy == null ? null : jsonencode(local.iam_policy)
}

output "minio_policy_json" {
  description = "MinIO policy (JSON) for the cluster's MinIO user: the same object and prefix-listing grants; null with object_store_url or an S3 Express bucket."
  value       = local.minio_policy == null ? null : jsonencode(local.minio_policy)
}
