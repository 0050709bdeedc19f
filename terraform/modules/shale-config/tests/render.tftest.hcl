# What the module renders for the AWS shape: three dedicated controllers, a
# broker at a known address and the autoscaled broker template.

variables {
  cluster_name = "prod-a"
  bucket       = "shale-prod"
  prefix       = "cluster-a"
  region       = "eu-west-1"
  controllers = [
    { id = 1, host = "10.0.1.10" },
    { id = 2, host = "10.0.2.10" },
    { id = 3, host = "10.0.3.10" },
  ]
  brokers            = [{ id = 101, host = "10.0.1.20" }]
  release_s3_uri     = "s3://shale-prod/releases/shale-v1.2.3-linux-amd64.tar.gz"
  wal_max_bytes      = "32GiB"
  cache_bytes        = "8GiB"
  local_retain_bytes = "4GiB"
}

run "nodes_and_roles" {
  command = plan

  assert {
    condition     = toset(keys(output.node_configs)) == toset(["controller-1", "controller-2", "controller-3", "broker-101"])
    error_message = "one shale.yaml per node, named by role and id"
  }
  assert {
    condition     = alltrue([for i in [1, 2, 3] : yamldecode(output.node_configs["controller-${i}"]).roles == "controller"])
    error_message = "dedicated controllers have the controller role only"
  }
  assert {
    condition     = yamldecode(output.node_configs["broker-101"]).roles == "broker"
    error_message = "a broker has the broker role only"
  }
  assert {
    condition     = alltrue([for i in [1, 2, 3] : yamldecode(output.node_configs["controller-${i}"]).broker.node_id == i])
    error_message = "each controller has its own node id"
  }
  assert {
    condition = alltrue([for n, c in output.node_configs :
    yamldecode(c).metadata.controllers == "1@10.0.1.10:9093,2@10.0.2.10:9093,3@10.0.3.10:9093"])
    error_message = "every node gets the same controllers list of raft addresses"
  }
  assert {
    condition     = output.controllers == "1@10.0.1.10:9093,2@10.0.2.10:9093,3@10.0.3.10:9093"
    error_message = "the controllers output is the quorum"
  }
}

run "addresses" {
  command = plan

  assert {
    condition     = yamldecode(output.node_configs["broker-101"]).broker.listen == "0.0.0.0:9092"
    error_message = "a broker binds every interface"
  }
  assert {
    condition     = yamldecode(output.node_configs["broker-101"]).broker.advertised == "10.0.1.20:9092"
    error_message = "a broker advertises its own host"
  }
  assert {
    condition     = yamldecode(output.node_configs["controller-2"]).metadata.raft_addr == "0.0.0.0:9093"
    error_message = "raft binds every interface"
  }
  assert {
    condition     = yamldecode(output.node_configs["controller-2"]).metadata.raft_advertise == "10.0.2.10:9093"
    error_message = "raft advertises the node's stable address"
  }
  assert {
    condition     = yamldecode(output.node_configs["broker-101"]).metadata.raft_advertise == "10.0.1.20:9093"
    error_message = "a broker follows the metadata log at its own raft address"
  }
  assert {
    condition     = alltrue([for n, c in output.node_configs : yamldecode(c).metrics_listen == "0.0.0.0:9644"])
    error_message = "every node serves metrics"
  }
  assert {
    condition     = !can(yamldecode(output.node_configs["controller-1"]).broker.listen)
    error_message = "a dedicated controller has no Kafka listener"
  }
  assert {
    condition     = !can(yamldecode(output.node_configs["controller-1"]).wal)
    error_message = "a dedicated controller has no WAL settings"
  }
  assert {
    condition     = output.bootstrap_servers == "10.0.1.20:9092"
    error_message = "bootstrap servers are the broker-role nodes"
  }
  assert {
    condition     = toset(output.metrics_targets) == toset(["10.0.1.10:9644", "10.0.2.10:9644", "10.0.3.10:9644", "10.0.1.20:9644"])
    error_message = "every node is a metrics target"
  }
  assert {
    condition     = output.nodes["controller-1"].kafka == null && output.nodes["broker-101"].kafka == "10.0.1.20:9092"
    error_message = "nodes lists Kafka addresses of brokers only"
  }
}

run "object_store_and_sizes" {
  command = plan

  assert {
    condition     = output.object_store == "s3://shale-prod/cluster-a?region=eu-west-1"
    error_message = "object_store is the bucket, prefix and region"
  }
  assert {
    condition     = alltrue([for n, c in output.node_configs : yamldecode(c).object_store == output.object_store])
    error_message = "every node shares one object store"
  }
  assert {
    condition     = yamldecode(output.node_configs["broker-101"]).wal.max_bytes == "32GiB"
    error_message = "wal max_bytes rendered"
  }
  assert {
    condition     = yamldecode(output.node_configs["broker-101"]).tiering.cache_bytes == "8GiB" && yamldecode(output.node_configs["broker-101"]).tiering.local_retain_bytes == "4GiB"
    error_message = "tiering sizes rendered"
  }
  assert {
    condition     = yamldecode(output.node_configs["broker-101"]).data_dir == "/var/lib/shale" && yamldecode(output.node_configs["broker-101"]).log_format == "json"
    error_message = "data_dir and log_format rendered"
  }
}

run "autoscaled_broker_template" {
  command = plan

  assert {
    condition     = yamldecode(replace(replace(output.broker_config_template, "@@NODE_ID@@", "3343"), "@@HOST@@", "10.0.13.7")).broker.node_id == 3343
    error_message = "the template's node id is filled in at boot"
  }
  assert {
    condition     = yamldecode(replace(replace(output.broker_config_template, "@@NODE_ID@@", "3343"), "@@HOST@@", "10.0.13.7")).broker.advertised == "10.0.13.7:9092"
    error_message = "the template's advertised address is the instance's own"
  }
  assert {
    condition     = yamldecode(replace(replace(output.broker_config_template, "@@NODE_ID@@", "3343"), "@@HOST@@", "10.0.13.7")).metadata.raft_advertise == "10.0.13.7:9093"
    error_message = "the template's raft address is the instance's own"
  }
  assert {
    condition     = yamldecode(replace(replace(output.broker_config_template, "@@NODE_ID@@", "3343"), "@@HOST@@", "10.0.13.7")).roles == "broker"
    error_message = "autoscaled nodes are brokers"
  }
}

run "systemd_unit" {
  command = plan

  assert {
    condition     = strcontains(output.systemd_unit, "\nExecStart=/usr/local/bin/shale broker --config /etc/shale/shale.yaml\n")
    error_message = "the unit starts the installed binary on the installed config"
  }
  assert {
    condition     = strcontains(output.systemd_unit, "\nUser=shale\n") && strcontains(output.systemd_unit, "\nKillSignal=SIGTERM\n") && strcontains(output.systemd_unit, "\nTimeoutStopSec=90\n")
    error_message = "the unit runs as shale and stops with a drain"
  }
  assert {
    condition     = strcontains(output.systemd_unit, "\nEnvironmentFile=-/etc/shale/shale.env\n")
    error_message = "the unit reads an optional environment file (MinIO credentials)"
  }
}

run "user_data" {
  command = plan

  assert {
    condition     = toset(keys(output.user_data)) == toset(["controller-1", "controller-2", "controller-3", "broker-101", "broker-template"])
    error_message = "user data for every node and for the autoscaled brokers"
  }
  assert {
    condition     = alltrue([for n, u in output.user_data : startswith(u, "#cloud-config\n")])
    error_message = "user data is cloud-config"
  }
  assert {
    condition     = [for f in yamldecode(output.user_data["controller-2"]).write_files : f.content if f.path == "/etc/shale/shale.yaml"][0] == output.node_configs["controller-2"]
    error_message = "a node's user data writes exactly its shale.yaml"
  }
  assert {
    condition     = [for f in yamldecode(output.user_data["broker-template"]).write_files : f.content if f.path == "/etc/systemd/system/shale.service"][0] == output.systemd_unit
    error_message = "the user data writes the unit"
  }
  assert {
    condition     = yamldecode(output.user_data["broker-101"]).runcmd == [["/usr/local/lib/shale/install.sh"]]
    error_message = "the user data runs the install script"
  }
  assert {
    condition     = strcontains(output.install_scripts["broker-template"], "aws s3 cp s3://shale-prod/releases/shale-v1.2.3-linux-amd64.tar.gz --region eu-west-1 ")
    error_message = "the release tarball comes from the bucket"
  }
  assert {
    condition     = !strcontains(output.install_scripts["broker-template"], "curl -fsSL")
    error_message = "nothing else is downloaded"
  }
  assert {
    condition     = strcontains(output.install_scripts["broker-template"], "http://169.254.169.254/latest/meta-data/local-ipv4") && strcontains(output.install_scripts["broker-template"], "id=$((1000 + 256 * o3 + o4))")
    error_message = "an autoscaled broker derives its address and id from instance metadata"
  }
  assert {
    condition     = !strcontains(output.install_scripts["broker-template"], "Instance_Storage")
    error_message = "no instance-store mount unless asked"
  }
}

run "minio_shape" {
  command = plan

  variables {
    region                  = null
    s3_endpoint             = "https://minio.internal:9000"
    brokers                 = []
    controllers_are_brokers = true
    release_s3_uri          = null
    release_file            = "/var/tmp/shale-release.tar.gz"
    environment             = { AWS_ACCESS_KEY_ID = "cluster-shale", AWS_SECRET_ACCESS_KEY = "s3cr3t" }
  }

  assert {
    condition     = alltrue([for i in [1, 2, 3] : yamldecode(output.node_configs["controller-${i}"]).roles == "controller,broker"])
    error_message = "controllers that are brokers have both roles"
  }
  assert {
    condition     = output.bootstrap_servers == "10.0.1.10:9092,10.0.2.10:9092,10.0.3.10:9092"
    error_message = "every controller is a bootstrap server"
  }
  assert {
    condition     = output.object_store == "s3://shale-prod/cluster-a?endpoint=https://minio.internal:9000"
    error_message = "the MinIO endpoint is in the object store URL"
  }
  assert {
    condition     = [for f in yamldecode(output.user_data["controller-1"]).write_files : f if f.path == "/etc/shale/shale.env"][0] == { path = "/etc/shale/shale.env", permissions = "0600", owner = "root:root", content = "AWS_ACCESS_KEY_ID=cluster-shale\nAWS_SECRET_ACCESS_KEY=s3cr3t\n" }
    error_message = "the credentials go to a root-only environment file"
  }
  assert {
    condition     = strcontains(output.install_scripts["controller-1"], "cp /var/tmp/shale-release.tar.gz \"$tmp/shale.tar.gz\"") && !strcontains(output.install_scripts["controller-1"], "aws s3 cp")
    error_message = "a delivered tarball is installed from where it was put"
  }
  assert {
    condition     = !strcontains(output.node_configs["controller-1"], "s3cr3t")
    error_message = "no credential in shale.yaml"
  }
}

run "no_environment_no_file" {
  command = plan

  assert {
    condition     = length([for f in yamldecode(output.user_data["controller-1"]).write_files : f if f.path == "/etc/shale/shale.env"]) == 0
    error_message = "no environment file without environment"
  }
}
