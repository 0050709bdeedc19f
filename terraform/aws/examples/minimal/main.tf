# The smallest Shale cluster on AWS: one controller, one to three brokers
# on general-purpose instances (the WAL on the root volume), clients from
# inside the VPC. For trying Shale, not for production: one controller is
# no fault tolerance for metadata.

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
  description = "Private subnets of that VPC."
}

variable "private_route_table_ids" {
  type        = list(string)
  description = "Route tables of those subnets (for the S3 gateway endpoint)."
}

variable "release_tarball" {
  type        = string
  description = "The tarball `make dist GOOS=linux GOARCH=amd64` built, such as ../../../../dist/shale-v0.1.0-linux-amd64.tar.gz."
}

module "shale" {
  source = "../.."

  cluster_name             = "shale-try"
  vpc_id                   = var.vpc_id
  subnet_ids               = var.private_subnet_ids
  route_table_ids          = var.private_route_table_ids
  client_cidrs             = ["10.0.0.0/8"]
  controller_count         = 1
  controller_instance_type = "t3.medium"
  broker_instance_type     = "m7i.large"
  broker_min_size          = 1
  broker_max_size          = 3
  wal_max_bytes            = "8GiB"
  cache_bytes              = "1GiB"
  root_volume_size_gb      = 32
  release_tarball          = var.release_tarball
  force_destroy_bucket     = true
}

output "bootstrap_servers" {
  description = "Give this to Kafka clients (bootstrap.servers)."
  value       = module.shale.bootstrap_servers
}

output "controllers" {
  description = "The metadata quorum, for `shale cluster status --controller`."
  value       = module.shale.controllers
}
