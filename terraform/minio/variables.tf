# Variables that mean what they mean in terraform/modules/shale-config and
# terraform/aws keep the same names: cluster_name, controllers, brokers,
# controllers_are_brokers, prefix, data_dir, wal_max_bytes, cache_bytes,
# local_retain_bytes, log_level.

variable "cluster_name" {
  type        = string
  description = "Name of the cluster: lowercase letters, digits and hyphens, 3 to 32 characters. Names the MinIO user and policy."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3 to 32 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit."
  }
}

variable "minio_endpoint" {
  type        = string
  description = "URL the Shale nodes reach MinIO at, such as https://minio.internal:9000 (the nodes' object_store endpoint)."

  validation {
    condition     = can(regex("^https?://[^/?#\\s]+/?$", var.minio_endpoint))
    error_message = "minio_endpoint must be http://host[:port] or https://host[:port], without a path."
  }
}

variable "minio_region" {
  type        = string
  description = "Signing region of the MinIO deployment (its MINIO_REGION, us-east-1 unless set)."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.minio_region))
    error_message = "minio_region must look like us-east-1."
  }
}

variable "bucket_name" {
  type        = string
  description = "Name of the MinIO bucket the module creates for the cluster's objects."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-'."
  }
}

variable "prefix" {
  type        = string
  description = "Key prefix of the cluster's objects in the bucket; the MinIO policy grants exactly this prefix."
  default     = "shale"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.prefix))
    error_message = "prefix must be path segments of letters, digits and !_.*'()- separated by '/', with no leading or trailing '/'."
  }
}

variable "force_destroy_bucket" {
  type        = bool
  description = "Let `terraform destroy` delete the bucket with every object in it (all of the cluster's data). Keep false in production."
  default     = false
}

variable "controllers" {
  type = list(object({
    id           = number
    host         = string
    kafka_port   = optional(number, 9092)
    raft_port    = optional(number, 9093)
    metrics_port = optional(number, 9644)
    data_dir     = optional(string)
  }))
  description = "The metadata quorum: 1, 3 or 5 of your hosts, each with a unique node id and the stable address the other nodes and clients reach it at."

  validation {
    condition     = contains([1, 3, 5], length(var.controllers))
    error_message = "controllers must hold 1, 3 or 5 hosts (a Raft quorum)."
  }
  validation {
    condition     = length(distinct([for c in var.controllers : c.id])) == length(var.controllers)
    error_message = "controllers: every node id must be unique."
  }
}

variable "brokers" {
  type = list(object({
    id           = number
    host         = string
    kafka_port   = optional(number, 9092)
    raft_port    = optional(number, 9093)
    metrics_port = optional(number, 9644)
    data_dir     = optional(string)
  }))
  description = "Broker-only hosts, each with a node id no controller has."
  default     = []

  validation {
    condition     = length(distinct([for b in var.brokers : b.id])) == length(var.brokers)
    error_message = "brokers: every node id must be unique."
  }
}

variable "controllers_are_brokers" {
  type        = bool
  description = "Whether the controllers also serve Kafka (three hosts doing everything). Without brokers it must be true."
  default     = true
}

variable "ssh" {
  type = object({
    user             = string
    private_key_path = string
    port             = optional(number, 22)
    bastion_host     = optional(string)
    hosts            = optional(map(string), {})
  })
  description = "How to reach the hosts over SSH to install Shale (a user with sudo, its private key, an optional bastion; hosts maps node names such as controller-1 to an SSH address when it is not the node's host). Null: deliver the user_data output with cloud-init instead."
  default     = null

  validation {
    condition     = var.ssh == null || try(var.ssh.port == floor(var.ssh.port) && var.ssh.port >= 1 && var.ssh.port <= 65535, false)
    error_message = "ssh.port must be an integer between 1 and 65535."
  }
}

variable "release_tarball" {
  type        = string
  description = "Local path of the release tarball (make dist GOOS=linux) copied to every host over SSH and installed there; null: the hosts already have /usr/local/bin/shale, or release_url is set."
  default     = null

  validation {
    condition     = var.release_tarball == null || can(regex("shale-[^/]+-linux-(amd64|arm64)\\.tar\\.gz$", var.release_tarball))
    error_message = "release_tarball must be a path to shale-VERSION-linux-amd64.tar.gz or shale-VERSION-linux-arm64.tar.gz."
  }
}

variable "release_url" {
  type        = string
  description = "http(s) URL the hosts download the release tarball from at first boot (cloud-init delivery); null: see release_tarball."
  default     = null

  validation {
    condition     = var.release_url == null || can(regex("^https?://[^\\s\"']+$", var.release_url))
    error_message = "release_url must be an http:// or https:// URL."
  }
}

variable "data_dir" {
  type        = string
  description = "Data directory of every node (WAL and Raft log); put it on local NVMe."
  default     = "/var/lib/shale"

  validation {
    condition     = can(regex("^/[^\\s\"']*$", var.data_dir)) && var.data_dir != "/"
    error_message = "data_dir must be an absolute path other than /."
  }
}

variable "wal_max_bytes" {
  type        = string
  description = "Local WAL budget of each broker, a size such as 64GiB: what it absorbs while MinIO is unreachable."
  default     = "16GiB"

  validation {
    condition     = can(regex("^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", var.wal_max_bytes))
    error_message = "wal_max_bytes must be a size such as 16GiB."
  }
}

variable "cache_bytes" {
  type        = string
  description = "Cold-read block cache of each broker, a size such as 4GiB; null keeps Shale's default."
  default     = null

  validation {
    condition     = var.cache_bytes == null || can(regex("^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", var.cache_bytes))
    error_message = "cache_bytes must be a size such as 4GiB."
  }
}

variable "local_retain_bytes" {
  type        = string
  description = "Uploaded WAL data each broker keeps locally for hot reads, at most half of wal_max_bytes; null derives it."
  default     = null

  validation {
    condition     = var.local_retain_bytes == null || can(regex("^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", var.local_retain_bytes))
    error_message = "local_retain_bytes must be a size such as 4GiB."
  }
}

variable "log_level" {
  type        = string
  description = "Log level of every node: debug, info, warn or error."
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}
