# A Shale cluster on your own hosts with MinIO as its object store: a
# bucket, a MinIO user whose policy (from ../modules/shale-config) grants
# exactly the bucket and prefix Shale uses, and the nodes installed either
# over SSH (provisioners, no provider needed) or by cloud-init from the
# user_data output. MinIO removes stale multipart uploads itself
# (api stale_uploads_expiry, 24h by default), so the bucket needs no
# lifecycle rule, and nothing ever expires live objects.

locals {
  release_file = "/var/tmp/shale-release.tar.gz"
}

resource "minio_s3_bucket" "this" {
  bucket        = var.bucket_name
  acl           = "private"
  force_destroy = var.force_destroy_bucket
}

resource "minio_iam_user" "shale" {
  name          = "${var.cluster_name}-shale"
  force_destroy = true
}

resource "minio_iam_policy" "shale" {
  name   = "${var.cluster_name}-shale"
  policy = module.config.minio_policy_json
}

resource "minio_iam_user_policy_attachment" "shale" {
  user_name   = minio_iam_user.shale.id
  policy_name = minio_iam_policy.shale.id
}

module "config" {
  source = "../modules/shale-config"

  cluster_name            = var.cluster_name
  controllers             = var.controllers
  brokers                 = var.brokers
  controllers_are_brokers = var.controllers_are_brokers
  bucket                  = minio_s3_bucket.this.bucket
  prefix                  = var.prefix
  region                  = var.minio_region
  s3_endpoint             = var.minio_endpoint
  data_dir                = var.data_dir
  wal_max_bytes           = var.wal_max_bytes
  cache_bytes             = var.cache_bytes
  local_retain_bytes      = var.local_retain_bytes
  log_level               = var.log_level
  release_url             = var.release_url
  release_file            = var.release_tarball == null ? null : local.release_file
  environment = {
    AWS_ACCESS_KEY_ID     = minio_iam_user.shale.name
    AWS_SECRET_ACCESS_KEY = minio_iam_user.shale.secret
  }
}

# SSH delivery of the release tarball, when given: the install script
# installs it from there, so the hosts download nothing.
resource "terraform_data" "release" {
  for_each = var.ssh == null || var.release_tarball == null ? {} : module.config.nodes

  triggers_replace = filesha256(var.release_tarball)

  connection {
    type         = "ssh"
    host         = lookup(var.ssh.hosts, each.key, each.value.host)
    port         = var.ssh.port
    user         = var.ssh.user
    private_key  = file(var.ssh.private_key_path)
    bastion_host = var.ssh.bastion_host
  }

  provisioner "file" {
    source      = var.release_tarball
    destination = local.release_file
  }
}

# SSH delivery: the node's files, then the install script (which starts
# the unit), then a restart so a changed configuration takes effect. Apply
# with -parallelism=1 to restart one node at a time.
resource "terraform_data" "node" {
  for_each = var.ssh == null ? {} : module.config.nodes

  triggers_replace = sha256(join("\n", [
    module.config.node_configs[each.key],
    module.config.systemd_unit,
    module.config.install_scripts[each.key],
    nonsensitive(sha256(module.config.environment_file)),
    var.release_tarball == null ? "" : filesha256(var.release_tarball),
  ]))

  connection {
    type         = "ssh"
    host         = lookup(var.ssh.hosts, each.key, each.value.host)
    port         = var.ssh.port
    user         = var.ssh.user
    private_key  = file(var.ssh.private_key_path)
    bastion_host = var.ssh.bastion_host
  }

  provisioner "file" {
    content     = module.config.node_configs[each.key]
    destination = "/tmp/shale.yaml"
  }

  provisioner "file" {
    content     = module.config.systemd_unit
    destination = "/tmp/shale.service"
  }

  provisioner "file" {
    content     = module.config.install_scripts[each.key]
    destination = "/tmp/shale-install.sh"
  }

  provisioner "file" {
    content     = module.config.environment_file
    destination = "/tmp/shale.env"
  }

  provisioner "remote-exec" {
    inline = [
      "set -e",
      "sudo install -D -m 0644 /tmp/shale.yaml /etc/shale/shale.yaml",
      "sudo install -D -m 0600 /tmp/shale.env /etc/shale/shale.env",
      "sudo install -D -m 0644 /tmp/shale.service /etc/systemd/system/shale.service",
      "sudo sh /tmp/shale-install.sh",
      "sudo systemctl restart shale.service",
      "rm -f /tmp/shale.yaml /tmp/shale.env /tmp/shale.service /tmp/shale-install.sh",
    ]
  }

  lifecycle {
    precondition {
      condition     = var.release_tarball == null || var.release_url == null
      error_message = "Set release_tarball (SSH delivery) or release_url (cloud-init delivery), not both."
    }
  }

  depends_on = [terraform_data.release, minio_iam_user_policy_attachment.shale]
}
