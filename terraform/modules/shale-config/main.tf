# Everything a Shale node needs, rendered from the cluster's shape: each
# node's shale.yaml, the systemd unit, the cloud-init user data that installs
# and starts it, and the object store policies (IAM and MinIO) granting
# exactly the bucket and prefix Shale uses.

locals {
  # Ports of brokers whose address is only known at boot (autoscaling).
  default_ports = { kafka = 9092, raft = 9093, metrics = 9644 }

  object_store = var.object_store_url != null ? var.object_store_url : format(
    "s3://%s/%s%s", coalesce(var.bucket, "unset"), var.prefix,
    length(local.object_store_query) == 0 ? "" : "?${join("&", local.object_store_query)}"
  )
  object_store_query = compact([
    var.s3_endpoint == null ? "" : "endpoint=${trimsuffix(var.s3_endpoint, "/")}",
    var.region == null ? "" : "region=${var.region}",
  ])

  # The --controllers value every node gets: the voters' raft addresses.
  controllers = join(",", [for c in var.controllers : "${c.id}@${c.host}:${c.raft_port}"])

  controller_nodes = {
    for c in var.controllers : "controller-${c.id}" => merge(c, {
      roles     = var.controllers_are_brokers ? "controller,broker" : "controller"
      is_broker = var.controllers_are_brokers
    })
  }
  broker_nodes = {
    for b in var.brokers : "broker-${b.id}" => merge(b, { roles = "broker", is_broker = true })
  }
  nodes = merge(local.controller_nodes, local.broker_nodes)

  common_template_vars = {
    cluster_name        = var.cluster_name
    object_store        = local.object_store
    log_level           = var.log_level
    log_format          = var.log_format
    listen_host         = var.listen_host
    controllers         = local.controllers
    session_timeout     = var.session_timeout
    wal_max_bytes       = var.wal_max_bytes
    wal_segment_max_age = var.wal_segment_max_age
    cache_bytes         = var.cache_bytes
    local_retain_bytes  = var.local_retain_bytes
  }

  node_configs = {
    for name, n in local.nodes : name => templatefile("${path.module}/templates/shale.yaml.tftpl", merge(local.common_template_vars, {
      name         = name
      data_dir     = coalesce(n.data_dir, var.data_dir)
      node_id      = tostring(n.id)
      roles        = n.roles
      is_broker    = n.is_broker
      host         = n.host
      kafka_port   = n.kafka_port
      raft_port    = n.raft_port
      metrics_port = n.metrics_port
    }))
  }

  # One configuration for every broker of an autoscaling group: the user
  # data replaces @@NODE_ID@@ and @@HOST@@ at boot.
  broker_config_template = templatefile("${path.module}/templates/shale.yaml.tftpl", merge(local.common_template_vars, {
    name         = "broker-@@NODE_ID@@"
    data_dir     = var.data_dir
    node_id      = "@@NODE_ID@@"
    roles        = "broker"
    is_broker    = true
    host         = "@@HOST@@"
    kafka_port   = local.default_ports.kafka
    raft_port    = local.default_ports.raft
    metrics_port = local.default_ports.metrics
  }))

  systemd_unit = templatefile("${path.module}/templates/shale.service.tftpl", {
    cluster_name     = var.cluster_name
    user             = var.service_user
    binary_path      = var.binary_path
    config_path      = var.config_path
    environment_file = var.environment_file
  })

  # The first-boot script of each node, and of the autoscaled brokers.
  install_data_dirs = merge(
    { for name, n in local.nodes : name => coalesce(n.data_dir, var.data_dir) },
    { "broker-template" = var.data_dir },
  )
  install_scripts = { for name, dir in local.install_data_dirs : name => templatefile("${path.module}/templates/install.sh.tftpl", {
    data_dir             = dir
    config_path          = var.config_path
    binary_path          = var.binary_path
    user                 = var.service_user
    mount_instance_store = var.mount_instance_store
    release_s3_uri       = var.release_s3_uri
    release_region       = var.region
    release_url          = var.release_url
    release_file         = var.release_file
    broker_id_base       = var.broker_id_base
  }) }

  user_data = {
    for name, cfg in merge(local.node_configs, { "broker-template" = local.broker_config_template }) :
    name => "#cloud-config\n${yamlencode({
      write_files = concat([
        { path = var.config_path, permissions = "0644", owner = "root:root", content = cfg },
        { path = "/etc/systemd/system/shale.service", permissions = "0644", owner = "root:root", content = local.systemd_unit },
        { path = "/usr/local/lib/shale/install.sh", permissions = "0755", owner = "root:root", content = local.install_scripts[name] },
        ], length(var.environment) == 0 ? [] : [
        { path = var.environment_file, permissions = "0600", owner = "root:root", content = local.environment_file },
      ])
      runcmd = [["/usr/local/lib/shale/install.sh"]]
    })}"
  }

  environment_file = join("", [for k in sort(keys(var.environment)) : "${k}=${var.environment[k]}\n"])

  # Every listener address, to refuse two nodes bound to one port of one
  # host (a cluster on one machine).
  listen_addresses = flatten([
    for n in local.nodes : concat(
      ["${n.host}:${n.raft_port}", "${n.host}:${n.metrics_port}"],
      n.is_broker ? ["${n.host}:${n.kafka_port}"] : []
    )
  ])

  broker_ids_clash = length(setintersection(
    toset([for c in var.controllers : c.id]), toset([for b in var.brokers : b.id])
  )) > 0
}
