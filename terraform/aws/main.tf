# A Shale cluster on AWS: an S3 bucket (or an S3 Express One Zone directory
# bucket) for the objects, an instance role limited to that bucket and
# prefix, controllers at fixed private addresses, brokers in an autoscaling
# group behind a network load balancer that serves bootstrap only. Every
# file a node runs from (shale.yaml, the unit, the user data, the policy)
# comes from ../modules/shale-config; this module only places resources.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_subnet" "selected" {
  for_each = toset(var.subnet_ids)
  id       = each.value
}

data "aws_ami" "al2023" {
  count       = var.ami_id == null ? 1 : 0
  owners      = ["amazon"]
  most_recent = true

  filter {
    name   = "name"
    values = ["al2023-ami-2023.*-kernel-*-${var.architecture}"]
  }
  filter {
    name   = "architecture"
    values = [var.architecture]
  }
}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  ami_id     = var.ami_id != null ? var.ami_id : data.aws_ami.al2023[0].id
  tags       = merge(var.tags, { "shale:cluster" = var.cluster_name })

  bucket_name = var.bucket_name != null ? var.bucket_name : "${var.cluster_name}-${local.account_id}-${local.region}"
  # A directory bucket's name ends in --ZONE--x-s3 and is at most 63
  # characters in all.
  express_suffix      = var.s3_express_zone_id == null ? "" : "--${var.s3_express_zone_id}--x-s3"
  express_bucket_name = var.s3_express_zone_id == null ? null : "${trimsuffix(substr("${var.cluster_name}-${local.account_id}", 0, 63 - length(local.express_suffix)), "-")}${local.express_suffix}"
  data_bucket_name    = var.s3_express_zone_id == null ? local.bucket_name : local.express_bucket_name

  release_key = var.release_tarball == null ? null : "releases/${basename(var.release_tarball)}"

  # Controllers spread over the subnets in order, each at a fixed host
  # number of its subnet's CIDR.
  controllers = [
    for i in range(var.controller_count) : {
      id        = i + 1
      subnet_id = var.subnet_ids[i % length(var.subnet_ids)]
      host = cidrhost(
        data.aws_subnet.selected[var.subnet_ids[i % length(var.subnet_ids)]].cidr_block,
        var.controller_host_number + floor(i / length(var.subnet_ids))
      )
    }
  ]
  ports = module.config.default_ports
}

module "config" {
  source = "../modules/shale-config"

  cluster_name       = var.cluster_name
  controllers        = [for c in local.controllers : { id = c.id, host = c.host }]
  bucket             = local.data_bucket_name
  prefix             = var.prefix
  region             = local.region
  aws_partition      = data.aws_partition.current.partition
  aws_account_id     = local.account_id
  data_dir           = var.data_dir
  wal_max_bytes      = var.wal_max_bytes
  cache_bytes        = var.cache_bytes
  local_retain_bytes = var.local_retain_bytes
  log_level          = var.log_level
  release_s3_uri     = local.release_key == null ? null : "s3://${local.bucket_name}/${local.release_key}"
  # Brokers hold their WAL on the instance's NVMe disk when it has one.
  mount_instance_store = true
}
