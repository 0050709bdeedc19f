# Controllers at fixed private addresses; brokers in an autoscaling group
# that advertise their own address; a network load balancer for bootstrap.

resource "aws_instance" "controller" {
  for_each = { for c in local.controllers : "controller-${c.id}" => c }

  ami                         = local.ami_id
  instance_type               = var.controller_instance_type
  subnet_id                   = each.value.subnet_id
  private_ip                  = each.value.host
  vpc_security_group_ids      = [aws_security_group.node.id]
  iam_instance_profile        = aws_iam_instance_profile.node.name
  key_name                    = var.key_name
  user_data                   = module.config.user_data[each.key]
  user_data_replace_on_change = false

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.root_volume_size_gb
    encrypted   = true
  }

  tags        = merge(local.tags, { Name = "${var.cluster_name}-${each.key}", "shale:role" = "controller" })
  volume_tags = merge(local.tags, { Name = "${var.cluster_name}-${each.key}" })

  # A controller holds one of the quorum's copies of the metadata: a new
  # AMI or a changed configuration must not replace it behind the
  # operator's back (OPERATIONS.md: Deploy on AWS, changes).
  lifecycle {
    ignore_changes = [ami, user_data]
  }

  depends_on = [aws_s3_object.release, aws_iam_role_policy.objects, aws_vpc_endpoint.s3]
}

resource "aws_launch_template" "broker" {
  name_prefix            = "${var.cluster_name}-broker-"
  image_id               = local.ami_id
  instance_type          = var.broker_instance_type
  key_name               = var.key_name
  vpc_security_group_ids = [aws_security_group.node.id]
  user_data              = base64encode(module.config.user_data["broker-template"])

  iam_instance_profile {
    name = aws_iam_instance_profile.node.name
  }

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_size_gb
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "${var.cluster_name}-broker", "shale:role" = "broker" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.tags, { Name = "${var.cluster_name}-broker" })
  }

  tags = local.tags
}

resource "aws_autoscaling_group" "broker" {
  name_prefix               = "${var.cluster_name}-broker-"
  min_size                  = var.broker_min_size
  max_size                  = var.broker_max_size
  desired_capacity          = var.broker_desired_capacity
  vpc_zone_identifier       = var.subnet_ids
  target_group_arns         = [aws_lb_target_group.bootstrap.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 300
  # A broker stopping drains first (SIGTERM hands its partitions over).
  default_instance_warmup = 120

  launch_template {
    id      = aws_launch_template.broker.id
    version = aws_launch_template.broker.latest_version
  }

  # One broker at a time: each drains before it stops, the next starts
  # once the replacement passes /readyz.
  instance_refresh {
    strategy = "Rolling"

    preferences {
      min_healthy_percentage = 90
      instance_warmup        = 120
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = "${var.cluster_name}-broker", "shale:role" = "broker" })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    precondition {
      condition     = var.broker_min_size <= var.broker_max_size
      error_message = "broker_min_size must not exceed broker_max_size."
    }
    precondition {
      condition     = var.broker_desired_capacity == null || (var.broker_desired_capacity >= var.broker_min_size && var.broker_desired_capacity <= var.broker_max_size)
      error_message = "broker_desired_capacity must lie between broker_min_size and broker_max_size."
    }
  }

  depends_on = [aws_instance.controller, aws_s3_object.release, aws_iam_role_policy.objects, aws_vpc_endpoint.s3]
}

# Bootstrap only: a client asks any broker through it for metadata, then
# speaks to each broker at the address that broker advertises.
resource "aws_lb" "bootstrap" {
  name               = trimsuffix(substr("${var.cluster_name}-bootstrap", 0, 32), "-")
  load_balancer_type = "network"
  internal           = var.internal_load_balancer
  subnets            = var.subnet_ids
  security_groups    = [aws_security_group.bootstrap.id]
  tags               = local.tags
}

resource "aws_lb_target_group" "bootstrap" {
  name_prefix          = "shale-"
  port                 = local.ports.kafka
  protocol             = "TCP"
  vpc_id               = var.vpc_id
  target_type          = "instance"
  deregistration_delay = 30

  health_check {
    protocol = "HTTP"
    port     = tostring(local.ports.metrics)
    path     = "/readyz"
    matcher  = "200"
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "bootstrap" {
  load_balancer_arn = aws_lb.bootstrap.arn
  port              = local.ports.kafka
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.bootstrap.arn
  }

  tags = local.tags
}
