# A production Shale cluster on AWS: three controllers in three zones at
# fixed addresses, brokers with NVMe instance storage for the WAL in an
# autoscaling group, the bucket encrypted with a customer KMS key,
# Prometheus scraping from the monitoring subnet.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      service = "shale"
      env     = "production"
    }
  }
}

variable "region" {
  type        = string
  description = "AWS region to run in."
  default     = "eu-west-1"
}

variable "vpc_id" {
  type        = string
  description = "An existing VPC."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Three private subnets, one per availability zone."

  validation {
    condition     = length(var.private_subnet_ids) == 3
    error_message = "Give one private subnet in each of three availability zones."
  }
}

variable "private_route_table_ids" {
  type        = list(string)
  description = "Route tables of those subnets (for the S3 gateway endpoint)."
}

variable "client_cidrs" {
  type        = list(string)
  description = "Where Kafka clients run."
  default     = ["10.0.0.0/8"]
}

variable "monitoring_cidrs" {
  type        = list(string)
  description = "Where Prometheus and the operators' tools run."
  default     = ["10.10.0.0/24"]
}

variable "release_tarball" {
  type        = string
  description = "The tarball `make dist GOOS=linux GOARCH=arm64 VERSION=vX.Y.Z` built."
}

resource "aws_kms_key" "shale" {
  description         = "Shale production bucket"
  enable_key_rotation = true
}

module "shale" {
  source = "../.."

  cluster_name                    = "shale-prod"
  vpc_id                          = var.vpc_id
  subnet_ids                      = var.private_subnet_ids
  route_table_ids                 = var.private_route_table_ids
  client_cidrs                    = var.client_cidrs
  metrics_cidrs                   = var.monitoring_cidrs
  admin_cidrs                     = var.monitoring_cidrs
  controller_count                = 3
  architecture                    = "arm64"
  controller_instance_type        = "m7g.large"
  broker_instance_type            = "im4gn.2xlarge"
  broker_min_size                 = 3
  broker_max_size                 = 24
  broker_desired_capacity         = 6
  wal_max_bytes                   = "256GiB"
  cache_bytes                     = "16GiB"
  local_retain_bytes              = "64GiB"
  kms_key_arn                     = aws_kms_key.shale.arn
  release_tarball                 = var.release_tarball
  abort_incomplete_multipart_days = 3
}

output "bootstrap_servers" {
  description = "Give this to Kafka clients (bootstrap.servers)."
  value       = module.shale.bootstrap_servers
}

output "controllers" {
  description = "The metadata quorum, for `shale cluster status --controller`."
  value       = module.shale.controllers
}

output "metrics_targets" {
  description = "Static Prometheus targets (controllers)."
  value       = module.shale.metrics_targets
}

output "broker_metrics_discovery" {
  description = "EC2 service discovery settings for the brokers' metrics."
  value       = module.shale.broker_metrics_discovery
}
