# Three hosts of your own, each a controller and a broker, with MinIO as
# the object store; Shale installed over SSH from a release tarball.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    minio = {
      source  = "aminueza/minio"
      version = ">= 2.0, < 4.0"
    }
  }
}

variable "minio_server" {
  type        = string
  description = "MinIO host:port, such as minio.internal:9000."
  default     = "minio.internal:9000"
}

variable "minio_user" {
  type        = string
  description = "A MinIO administrator (creates the bucket, the user and the policy)."
}

variable "minio_password" {
  type        = string
  description = "That administrator's password."
  sensitive   = true
}

variable "release_tarball" {
  type        = string
  description = "The tarball `make dist GOOS=linux GOARCH=amd64` built."
}

provider "minio" {
  minio_server   = var.minio_server
  minio_user     = var.minio_user
  minio_password = var.minio_password
  minio_ssl      = true
}

module "shale" {
  source = "../.."

  cluster_name   = "shale-onprem"
  minio_endpoint = "https://${var.minio_server}"
  bucket_name    = "shale-onprem"
  controllers = [
    { id = 1, host = "10.20.0.11" },
    { id = 2, host = "10.20.0.12" },
    { id = 3, host = "10.20.0.13" },
  ]
  controllers_are_brokers = true
  wal_max_bytes           = "64GiB"
  cache_bytes             = "8GiB"
  release_tarball         = var.release_tarball
  ssh = {
    user             = "admin"
    private_key_path = pathexpand("~/.ssh/id_ed25519")
  }
}

output "bootstrap_servers" {
  description = "Give this to Kafka clients (bootstrap.servers)."
  value       = module.shale.bootstrap_servers
}

output "controllers" {
  description = "The metadata quorum, for `shale cluster status --controller`."
  value       = module.shale.controllers
}
