# The cluster's shape: its nodes, where they listen, where its objects live.
# Variables shared with terraform/aws and terraform/minio keep the same name
# there when they mean the same thing.

variable "cluster_name" {
  type        = string
  description = "Name of the cluster: lowercase letters, digits and hyphens, 3 to 32 characters. Names the systemd unit's description and the rendered files' headers."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3 to 32 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit."
  }
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
  description = "The metadata quorum (Raft voters): 1, 3 or 5 nodes, each with a unique node id (>= 0) and the stable address the other nodes dial (host name or IPv4). Ports default to 9092 (Kafka, used when controllers_are_brokers), 9093 (Raft) and 9644 (metrics); data_dir defaults to var.data_dir."

  validation {
    condition     = contains([1, 3, 5], length(var.controllers))
    error_message = "controllers must hold 1, 3 or 5 nodes (a Raft quorum)."
  }
  validation {
    condition     = length(distinct([for c in var.controllers : c.id])) == length(var.controllers)
    error_message = "controllers: every node id must be unique."
  }
  validation {
    condition     = alltrue([for c in var.controllers : c.id == floor(c.id) && c.id >= 0 && c.id <= 2147483647])
    error_message = "controllers: a node id is an integer between 0 and 2147483647."
  }
  validation {
    condition     = alltrue([for c in var.controllers : can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", c.host))])
    error_message = "controllers: host must be a host name or an IPv4 address."
  }
  validation {
    condition = alltrue(flatten([for c in var.controllers : [
      for p in [c.kafka_port, c.raft_port, c.metrics_port] : p == floor(p) && p >= 1 && p <= 65535
    ]]))
    error_message = "controllers: ports must be integers between 1 and 65535."
  }
  validation {
    condition     = alltrue([for c in var.controllers : c.data_dir == null || can(regex("^/[^\\s\"']*$", c.data_dir))])
    error_message = "controllers: data_dir must be an absolute path without spaces or quotes."
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
  description = "Broker-only nodes at addresses known in advance (hosts the operator names). Brokers of an autoscaling group use broker_config_template instead. Each needs a node id no controller has; its Raft port serves the metadata log it follows as a non-voter."
  default     = []

  validation {
    condition     = length(distinct([for b in var.brokers : b.id])) == length(var.brokers)
    error_message = "brokers: every node id must be unique."
  }
  validation {
    condition     = alltrue([for b in var.brokers : b.id == floor(b.id) && b.id >= 0 && b.id <= 2147483647])
    error_message = "brokers: a node id is an integer between 0 and 2147483647."
  }
  validation {
    condition     = alltrue([for b in var.brokers : can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", b.host))])
    error_message = "brokers: host must be a host name or an IPv4 address."
  }
  validation {
    condition = alltrue(flatten([for b in var.brokers : [
      for p in [b.kafka_port, b.raft_port, b.metrics_port] : p == floor(p) && p >= 1 && p <= 65535
    ]]))
    error_message = "brokers: ports must be integers between 1 and 65535."
  }
  validation {
    condition     = alltrue([for b in var.brokers : b.data_dir == null || can(regex("^/[^\\s\"']*$", b.data_dir))])
    error_message = "brokers: data_dir must be an absolute path without spaces or quotes."
  }
}

variable "controllers_are_brokers" {
  type        = bool
  description = "Whether the controllers also serve Kafka (roles controller,broker): a small cluster of three nodes. False keeps them dedicated to the quorum (roles controller)."
  default     = false
}

variable "broker_id_base" {
  type        = number
  description = "Brokers of an autoscaling group take the node id broker_id_base + 256 * (third octet) + (fourth octet) of their private IPv4 address, unique within a VPC (at most a /16). Must stay clear of the controllers' and the listed brokers' ids."
  default     = 1000

  validation {
    condition     = var.broker_id_base == floor(var.broker_id_base) && var.broker_id_base >= 0 && var.broker_id_base <= 2147483647 - 65536
    error_message = "broker_id_base must be an integer between 0 and 2147418111."
  }
}

variable "listen_host" {
  type        = string
  description = "Address every listener (Kafka, Raft, metrics) binds: 0.0.0.0 on a server, 127.0.0.1 for a cluster on one machine. Clients and peers are given the node's host instead."
  default     = "0.0.0.0"

  validation {
    condition     = can(regex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", var.listen_host))
    error_message = "listen_host must be an IPv4 address such as 0.0.0.0 or 127.0.0.1."
  }
}

variable "bucket" {
  type        = string
  description = "S3 (or MinIO) bucket holding the cluster's objects. An S3 Express One Zone directory bucket (name ending in --x-s3) gets an s3express:CreateSession policy. Leave null only when object_store_url is set."
  default     = null

  validation {
    condition     = var.bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket))
    error_message = "bucket must be a valid S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit."
  }
}

variable "prefix" {
  type        = string
  description = "Key prefix (a folder) of the cluster's objects in the bucket; the policies grant exactly this prefix. Two clusters must never share one."
  default     = "shale"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.prefix))
    error_message = "prefix must be one or more path segments of letters, digits and !_.*'()- separated by '/', with no leading or trailing '/'."
  }
}

variable "region" {
  type        = string
  description = "Region of the bucket (AWS), or the signing region of an S3-compatible endpoint. Null leaves it to the node's AWS configuration (us-east-1 with an endpoint)."
  default     = null

  validation {
    condition     = var.region == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must look like eu-west-1 or us-east-1."
  }
}

variable "s3_endpoint" {
  type        = string
  description = "Base URL of an S3-compatible service such as MinIO (http://minio.internal:9000); null means AWS S3. Addressing is path-style when set."
  default     = null

  validation {
    condition     = var.s3_endpoint == null || can(regex("^https?://[^/?#\\s]+/?$", var.s3_endpoint))
    error_message = "s3_endpoint must be http://host[:port] or https://host[:port], without a path."
  }
}

variable "object_store_url" {
  type        = string
  description = "A complete object_store URL used as given instead of bucket, prefix, region and s3_endpoint: file:///abs/path for nodes sharing one file system (a cluster on one machine), or an s3:// URL. The policy outputs are null then."
  default     = null

  validation {
    condition     = var.object_store_url == null || can(regex("^(file:///[^?#]*|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^?#]*)?(\\?[^#]*)?)$", var.object_store_url))
    error_message = "object_store_url must be file:///abs/path or s3://bucket[/prefix][?query]."
  }
}

variable "aws_partition" {
  type        = string
  description = "AWS partition of the ARNs in the IAM policy: aws, aws-cn or aws-us-gov."
  default     = "aws"

  validation {
    condition     = contains(["aws", "aws-cn", "aws-us-gov"], var.aws_partition)
    error_message = "aws_partition must be aws, aws-cn or aws-us-gov."
  }
}

variable "aws_account_id" {
  type        = string
  description = "AWS account id (12 digits) owning an S3 Express One Zone directory bucket; needed only then, for the s3express ARN."
  default     = null

  validation {
    condition     = var.aws_account_id == null || can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be 12 digits."
  }
}

variable "data_dir" {
  type        = string
  description = "Absolute path of the node's data directory (WAL and Raft log); put it on local NVMe."
  default     = "/var/lib/shale"

  validation {
    condition     = can(regex("^/[^\\s\"']*$", var.data_dir)) && var.data_dir != "/"
    error_message = "data_dir must be an absolute path other than /, without spaces or quotes."
  }
}

variable "wal_max_bytes" {
  type        = string
  description = "Local WAL budget of a broker (wal.max_bytes): what it absorbs while the object store is unreachable. A size such as 16GiB; at least 256KiB."
  default     = "16GiB"

  validation {
    condition     = can(regex("^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", var.wal_max_bytes))
    error_message = "wal_max_bytes must be a size: digits and an optional unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB), such as 16GiB."
  }
}

variable "cache_bytes" {
  type        = string
  description = "Cold-read block cache of a broker (tiering.cache_bytes), a size such as 4GiB; null keeps Shale's default (256MiB)."
  default     = null

  validation {
    condition     = var.cache_bytes == null || can(regex("^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", var.cache_bytes))
    error_message = "cache_bytes must be a size: digits and an optional unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB), such as 4GiB."
  }
}

variable "local_retain_bytes" {
  type        = string
  description = "Uploaded WAL data a broker keeps locally for hot reads (tiering.local_retain_bytes), at most half of wal_max_bytes; null derives it (a quarter of wal_max_bytes, at most 256MiB)."
  default     = null

  validation {
    condition     = var.local_retain_bytes == null || can(regex("^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", var.local_retain_bytes))
    error_message = "local_retain_bytes must be a size: digits and an optional unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB), such as 4GiB."
  }
}

variable "wal_segment_max_age" {
  type        = string
  description = "Seal a non-empty WAL segment this long after its first entry (wal.segment_max_age), a duration such as 250ms; null keeps Shale's default (250ms)."
  default     = null

  validation {
    condition     = var.wal_segment_max_age == null || can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.wal_segment_max_age))
    error_message = "wal_segment_max_age must be a Go duration such as 250ms or 1s."
  }
}

variable "session_timeout" {
  type        = string
  description = "How long a broker may go without a heartbeat before the controllers fence it (metadata.session_timeout), a duration of at least 500ms; null keeps Shale's default (6s)."
  default     = null

  validation {
    condition     = var.session_timeout == null || can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.session_timeout))
    error_message = "session_timeout must be a Go duration such as 6s."
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

variable "log_format" {
  type        = string
  description = "Log format of every node: json (one object per line, for the journal's shippers) or text (logfmt)."
  default     = "json"

  validation {
    condition     = contains(["json", "text"], var.log_format)
    error_message = "log_format must be json or text."
  }
}

variable "binary_path" {
  type        = string
  description = "Absolute path of the shale binary the systemd unit starts (the release tarball installs /usr/local/bin/shale)."
  default     = "/usr/local/bin/shale"

  validation {
    condition     = can(regex("^/[^\\s\"']+$", var.binary_path))
    error_message = "binary_path must be an absolute path without spaces or quotes."
  }
}

variable "config_path" {
  type        = string
  description = "Absolute path where a node's shale.yaml is installed and read from."
  default     = "/etc/shale/shale.yaml"

  validation {
    condition     = can(regex("^/[^\\s\"']+\\.ya?ml$", var.config_path))
    error_message = "config_path must be an absolute path ending in .yaml or .yml, without spaces or quotes."
  }
}

variable "service_user" {
  type        = string
  description = "System user (and group) the service runs as; the user data creates it."
  default     = "shale"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.service_user)) && var.service_user != "root"
    error_message = "service_user must be a valid user name other than root."
  }
}

variable "release_s3_uri" {
  type        = string
  description = "s3://bucket/key of the release tarball (make dist) the user data installs with the AWS CLI through the instance role; the IAM policy grants reading exactly that object. Null: the binary is installed some other way."
  default     = null

  validation {
    condition     = var.release_s3_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\\s\"']+\\.tar\\.gz$", var.release_s3_uri))
    error_message = "release_s3_uri must be s3://bucket/path/shale-VERSION-linux-ARCH.tar.gz."
  }
}

variable "release_url" {
  type        = string
  description = "http(s) URL of the release tarball the user data downloads with curl (an on-premises file server or MinIO presigned URL). Null: the binary is installed some other way."
  default     = null

  validation {
    condition     = var.release_url == null || can(regex("^https?://[^\\s\"']+$", var.release_url))
    error_message = "release_url must be an http:// or https:// URL."
  }
}

variable "mount_instance_store" {
  type        = bool
  description = "Whether the user data formats (XFS, once) and mounts the first EC2 NVMe instance-store disk at data_dir when the instance has one; without one data_dir stays on the root volume."
  default     = false
}

variable "environment_file" {
  type        = string
  description = "Absolute path of an optional EnvironmentFile the unit reads (as root, before dropping privileges): where MinIO credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) go, mode 0600."
  default     = "/etc/shale/shale.env"

  validation {
    condition     = can(regex("^/[^\\s\"']+$", var.environment_file))
    error_message = "environment_file must be an absolute path without spaces or quotes."
  }
}

variable "release_file" {
  type        = string
  description = "Absolute path on the host of a release tarball already delivered there (an SSH file provisioner, configuration management) that the install script installs. Null: see release_s3_uri and release_url."
  default     = null

  validation {
    condition     = var.release_file == null || can(regex("^/[^\\s\"']+\\.tar\\.gz$", var.release_file))
    error_message = "release_file must be an absolute path ending in .tar.gz."
  }
}

variable "environment" {
  type        = map(string)
  description = "Environment of the service, written to environment_file (mode 0600) by the user data: object store credentials where no instance role gives them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for MinIO). Empty: no file."
  default     = {}
  sensitive   = true

  validation {
    condition     = alltrue([for k, v in var.environment : can(regex("^[A-Z_][A-Z0-9_]*$", k)) && !strcontains(v, "\n")])
    error_message = "environment keys must be upper-case shell names and values single lines."
  }
}
