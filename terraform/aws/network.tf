# Security groups (Kafka, Raft, metrics) and the S3 gateway endpoints.

resource "aws_security_group" "node" {
  name_prefix = "${var.cluster_name}-node-"
  description = "Shale nodes of ${var.cluster_name}: Kafka, Raft and metrics"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.cluster_name}-node" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "bootstrap" {
  name_prefix = "${var.cluster_name}-bootstrap-"
  description = "Bootstrap load balancer of ${var.cluster_name}: Kafka clients"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.cluster_name}-bootstrap" })

  lifecycle {
    create_before_destroy = true
  }
}

# Kafka: clients (directly to the advertised brokers), the load balancer.
resource "aws_vpc_security_group_ingress_rule" "kafka_clients" {
  for_each          = toset(var.client_cidrs)
  security_group_id = aws_security_group.node.id
  description       = "Kafka clients"
  ip_protocol       = "tcp"
  from_port         = local.ports.kafka
  to_port           = local.ports.kafka
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "kafka_bootstrap" {
  security_group_id            = aws_security_group.node.id
  description                  = "Kafka through the bootstrap load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.ports.kafka
  to_port                      = local.ports.kafka
  referenced_security_group_id = aws_security_group.bootstrap.id
}

resource "aws_vpc_security_group_ingress_rule" "kafka_nodes" {
  security_group_id            = aws_security_group.node.id
  description                  = "Kafka between nodes"
  ip_protocol                  = "tcp"
  from_port                    = local.ports.kafka
  to_port                      = local.ports.kafka
  referenced_security_group_id = aws_security_group.node.id
}

# Raft and controller RPC: between nodes (brokers follow the log as
# non-voters), and from admins.
resource "aws_vpc_security_group_ingress_rule" "raft_nodes" {
  security_group_id            = aws_security_group.node.id
  description                  = "Raft and controller RPC between nodes"
  ip_protocol                  = "tcp"
  from_port                    = local.ports.raft
  to_port                      = local.ports.raft
  referenced_security_group_id = aws_security_group.node.id
}

resource "aws_vpc_security_group_ingress_rule" "raft_admins" {
  for_each          = toset(var.admin_cidrs)
  security_group_id = aws_security_group.node.id
  description       = "shale cluster admin commands"
  ip_protocol       = "tcp"
  from_port         = local.ports.raft
  to_port           = local.ports.raft
  cidr_ipv4         = each.value
}

# Metrics: Prometheus, and the load balancer's health check (/readyz).
resource "aws_vpc_security_group_ingress_rule" "metrics_scrapers" {
  for_each          = toset(var.metrics_cidrs)
  security_group_id = aws_security_group.node.id
  description       = "Prometheus scrapes"
  ip_protocol       = "tcp"
  from_port         = local.ports.metrics
  to_port           = local.ports.metrics
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "metrics_health" {
  security_group_id            = aws_security_group.node.id
  description                  = "Load balancer health checks"
  ip_protocol                  = "tcp"
  from_port                    = local.ports.metrics
  to_port                      = local.ports.metrics
  referenced_security_group_id = aws_security_group.bootstrap.id
}

resource "aws_vpc_security_group_egress_rule" "node_all" {
  security_group_id = aws_security_group.node.id
  description       = "S3 (through the gateway endpoint), peers, package mirrors"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "bootstrap_clients" {
  for_each          = toset(var.client_cidrs)
  security_group_id = aws_security_group.bootstrap.id
  description       = "Kafka clients bootstrapping"
  ip_protocol       = "tcp"
  from_port         = local.ports.kafka
  to_port           = local.ports.kafka
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "bootstrap_kafka" {
  security_group_id            = aws_security_group.bootstrap.id
  description                  = "Kafka to the brokers"
  ip_protocol                  = "tcp"
  from_port                    = local.ports.kafka
  to_port                      = local.ports.kafka
  referenced_security_group_id = aws_security_group.node.id
}

resource "aws_vpc_security_group_egress_rule" "bootstrap_health" {
  security_group_id            = aws_security_group.bootstrap.id
  description                  = "Health checks of the brokers' /readyz"
  ip_protocol                  = "tcp"
  from_port                    = local.ports.metrics
  to_port                      = local.ports.metrics
  referenced_security_group_id = aws_security_group.node.id
}

# Object traffic stays off NAT gateways (no per-GB NAT charge).
resource "aws_vpc_endpoint" "s3" {
  count             = var.create_s3_gateway_endpoint ? 1 : 0
  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids
  tags              = merge(local.tags, { Name = "${var.cluster_name}-s3" })

  lifecycle {
    precondition {
      condition     = length(var.route_table_ids) > 0
      error_message = "create_s3_gateway_endpoint needs route_table_ids (the route tables of subnet_ids)."
    }
  }
}

resource "aws_vpc_endpoint" "s3express" {
  count             = var.create_s3_gateway_endpoint && var.s3_express_zone_id != null ? 1 : 0
  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${local.region}.s3express"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids
  tags              = merge(local.tags, { Name = "${var.cluster_name}-s3express" })
}
