# The nodes' instance role: the least-privilege object store policy from
# shale-config, KMS use when the bucket has a customer key, and optionally
# Session Manager.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name_prefix        = substr("${var.cluster_name}-node-", 0, 38)
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "objects" {
  name   = "shale-object-store"
  role   = aws_iam_role.node.id
  policy = module.config.iam_policy_json
}

data "aws_iam_policy_document" "kms" {
  count = var.kms_key_arn == null ? 0 : 1

  statement {
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "kms" {
  count  = var.kms_key_arn == null ? 0 : 1
  name   = "shale-bucket-key"
  role   = aws_iam_role.node.id
  policy = data.aws_iam_policy_document.kms[0].json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  count      = var.enable_ssm ? 1 : 0
  role       = aws_iam_role.node.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "node" {
  name_prefix = substr("${var.cluster_name}-node-", 0, 38)
  role        = aws_iam_role.node.name
  tags        = local.tags
}
