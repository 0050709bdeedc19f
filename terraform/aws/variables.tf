# Variables that mean what they mean in terraform/modules/shale-config and
# terraform/minio keep the same names: cluster_name, prefix, data_dir,
# wal_max_bytes, cache_bytes, local_retain_bytes, log_level, client_cidrs,
# metrics_cidrs.

variable "cluster_name" {
  type        = string
  description = "Name of the cluster: lowercase letters, digits and hyphens, 3 to 32 characters. Prefixes every resource's name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3 to 32 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC the cluster runs in."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC id such as vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (ideally one per availability zone) for the controllers, the brokers and the bootstrap load balancer. Controllers are spread over them in order."

  validation {
    condition     = length(var.subnet_ids) >= 1 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must hold at least one subnet id such as subnet-0123456789abcdef0."
  }
}

variable "route_table_ids" {
  type        = list(string)
  description = "Route tables of subnet_ids, for the S3 gateway endpoint (no NAT data charges for object traffic). Empty with create_s3_gateway_endpoint = false."
  default     = []

  validation {
    condition     = alltrue([for r in var.route_table_ids : can(regex("^rtb-[0-9a-f]{8,17}$", r))])
    error_message = "route_table_ids must be route table ids such as rtb-0123456789abcdef0."
  }
}

variable "create_s3_gateway_endpoint" {
  type        = bool
  description = "Create an S3 gateway endpoint (and an S3 Express one when s3_express_zone_id is set) on route_table_ids. Turn off when the VPC already has one."
  default     = true
}

variable "controller_count" {
  type        = number
  description = "Controllers (Raft voters): 1 (no fault tolerance), 3 or 5."
  default     = 3

  validation {
    condition     = contains([1, 3, 5], var.controller_count)
    error_message = "controller_count must be 1, 3 or 5."
  }
}

variable "controller_host_number" {
  type        = number
  description = "Controllers get fixed private IPs: host number controller_host_number (plus one per controller already in that subnet) of their subnet's CIDR, so their addresses survive replacement. Pick one outside the range other instances take."
  default     = 10

  validation {
    condition     = var.controller_host_number == floor(var.controller_host_number) && var.controller_host_number >= 4 && var.controller_host_number <= 250
    error_message = "controller_host_number must be an integer between 4 and 250 (AWS reserves the first four addresses of a subnet)."
  }
}

variable "controller_instance_type" {
  type        = string
  description = "EC2 instance type of the controllers (metadata only: small, steady CPU), such as m7g.large or m7i.large."
  default     = "m7i.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\\.[a-z0-9]+$", var.controller_instance_type))
    error_message = "controller_instance_type must be an EC2 instance type such as m7i.large."
  }
}

variable "broker_instance_type" {
  type        = string
  description = "EC2 instance type of the brokers. One with NVMe instance storage (i4i, i4g, im4gn, is4gen, m7gd, c7gd) holds the WAL on it."
  default     = "i4i.xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\\.[a-z0-9]+$", var.broker_instance_type))
    error_message = "broker_instance_type must be an EC2 instance type such as i4i.xlarge."
  }
}

variable "architecture" {
  type        = string
  description = "CPU architecture of both instance types and of the release tarball: x86_64 (amd64) or arm64 (Graviton)."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI of every node; null takes the latest Amazon Linux 2023 for architecture (which carries the AWS CLI the install uses)."
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be an AMI id such as ami-0123456789abcdef0."
  }
}

variable "broker_min_size" {
  type        = number
  description = "Fewest brokers in the autoscaling group."
  default     = 3

  validation {
    condition     = var.broker_min_size == floor(var.broker_min_size) && var.broker_min_size >= 1
    error_message = "broker_min_size must be an integer of at least 1."
  }
}

variable "broker_max_size" {
  type        = number
  description = "Most brokers in the autoscaling group."
  default     = 12

  validation {
    condition     = var.broker_max_size == floor(var.broker_max_size) && var.broker_max_size >= 1 && var.broker_max_size <= 1000
    error_message = "broker_max_size must be an integer between 1 and 1000."
  }
}

variable "broker_desired_capacity" {
  type        = number
  description = "Brokers to start with; null leaves it to broker_min_size (and to scaling policies afterwards)."
  default     = null

  validation {
    condition     = var.broker_desired_capacity == null || try(var.broker_desired_capacity == floor(var.broker_desired_capacity) && var.broker_desired_capacity >= 1, false)
    error_message = "broker_desired_capacity must be null or an integer of at least 1."
  }
}

variable "root_volume_size_gb" {
  type        = number
  description = "Size in GiB of each node's encrypted gp3 root volume; it holds data_dir when the instance has no instance storage, so make it larger than wal_max_bytes."
  default     = 64

  validation {
    condition     = var.root_volume_size_gb == floor(var.root_volume_size_gb) && var.root_volume_size_gb >= 16 && var.root_volume_size_gb <= 16384
    error_message = "root_volume_size_gb must be an integer between 16 and 16384."
  }
}

variable "client_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs of Kafka clients: they reach the bootstrap load balancer and every broker's Kafka port."

  validation {
    condition     = length(var.client_cidrs) > 0 && alltrue([for c in var.client_cidrs : can(cidrhost(c, 0)) && can(regex("^[0-9.]+/[0-9]+$", c))])
    error_message = "client_cidrs must hold at least one IPv4 CIDR such as 10.0.0.0/16."
  }
}

variable "metrics_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to scrape every node's metrics port (Prometheus)."
  default     = []

  validation {
    condition     = alltrue([for c in var.metrics_cidrs : can(cidrhost(c, 0)) && can(regex("^[0-9.]+/[0-9]+$", c))])
    error_message = "metrics_cidrs must be IPv4 CIDRs such as 10.0.0.0/16."
  }
}

variable "admin_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to reach the Raft port for `shale cluster` admin commands (status, drain, remove)."
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0)) && can(regex("^[0-9.]+/[0-9]+$", c))])
    error_message = "admin_cidrs must be IPv4 CIDRs such as 10.0.0.0/16."
  }
}

variable "bucket_name" {
  type        = string
  description = "Name of the S3 bucket the module creates (objects and the release tarball); null: CLUSTER_NAME-ACCOUNT_ID-REGION."
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-'."
  }
}

variable "prefix" {
  type        = string
  description = "Key prefix of the cluster's objects in the bucket; the IAM policy grants exactly this prefix."
  default     = "shale"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.prefix))
    error_message = "prefix must be path segments of letters, digits and !_.*'()- separated by '/', with no leading or trailing '/'."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the bucket (SSE-KMS, with an S3 bucket key); null uses SSE-S3 (AES256). A customer key also needs kms:GenerateDataKey and kms:Decrypt for the node role, granted in the key policy."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "abort_incomplete_multipart_days" {
  type        = number
  description = "The bucket's lifecycle rule aborts multipart uploads still incomplete this many days after they began (uploads cut short by a crash). It never expires live objects: Shale deletes its own."
  default     = 2

  validation {
    condition     = var.abort_incomplete_multipart_days == floor(var.abort_incomplete_multipart_days) && var.abort_incomplete_multipart_days >= 1 && var.abort_incomplete_multipart_days <= 365
    error_message = "abort_incomplete_multipart_days must be an integer between 1 and 365: never younger than a day, so no upload in progress is aborted."
  }
}

variable "force_destroy_bucket" {
  type        = bool
  description = "Let `terraform destroy` delete the bucket with every object in it (all of the cluster's data). Keep false in production."
  default     = false
}

variable "s3_express_zone_id" {
  type        = string
  description = "Availability zone id (such as use1-az4) of an S3 Express One Zone directory bucket to hold the cluster's objects for lower latency; null keeps them in the S3 Standard bucket. Put the brokers' subnets in that zone for the full benefit."
  default     = null

  validation {
    condition     = var.s3_express_zone_id == null || can(regex("^[a-z]{2,5}[0-9]+-az[0-9]+$", var.s3_express_zone_id))
    error_message = "s3_express_zone_id must be an availability zone id such as use1-az4."
  }
}

variable "release_tarball" {
  type        = string
  description = "Local path of the release tarball (make dist GOOS=linux GOARCH=amd64|arm64) the module uploads to the bucket and every node installs at boot, needing no other download. Null: the AMI already has /usr/local/bin/shale."
  default     = null

  validation {
    condition     = var.release_tarball == null || can(regex("shale-[^/]+-linux-(amd64|arm64)\\.tar\\.gz$", var.release_tarball))
    error_message = "release_tarball must be a path to shale-VERSION-linux-amd64.tar.gz or shale-VERSION-linux-arm64.tar.gz."
  }
}

variable "data_dir" {
  type        = string
  description = "Data directory of every node (WAL and Raft log). An NVMe instance-store disk, when the instance has one, is mounted there."
  default     = "/var/lib/shale"

  validation {
    condition     = can(regex("^/[^\\s\"']*$", var.data_dir)) && var.data_dir != "/"
    error_message = "data_dir must be an absolute path other than /."
  }
}

variable "wal_max_bytes" {
  type        = string
  description = "Local WAL budget of each broker, a size such as 64GiB: what it absorbs while S3 is unreachable (at 100 MB/s, 16GiB is about three minutes)."
  default     = "64GiB"

  validation {
    condition     = can(regex("^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", var.wal_max_bytes))
    error_message = "wal_max_bytes must be a size such as 64GiB."
  }
}

variable "cache_bytes" {
  type        = string
  description = "Cold-read block cache of each broker, a size such as 8GiB; null keeps Shale's default."
  default     = "8GiB"

  validation {
    condition     = var.cache_bytes == null || can(regex("^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", var.cache_bytes))
    error_message = "cache_bytes must be a size such as 8GiB."
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

variable "internal_load_balancer" {
  type        = bool
  description = "Whether the bootstrap network load balancer is internal (reached from the VPC and its peers only). Brokers advertise private addresses either way, so clients must reach the VPC."
  default     = true
}

variable "enable_ssm" {
  type        = bool
  description = "Attach AmazonSSMManagedInstanceCore to the node role, so operators reach nodes through Session Manager instead of SSH."
  default     = true
}

variable "key_name" {
  type        = string
  description = "EC2 key pair for SSH to the nodes; null for none (use Session Manager)."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
