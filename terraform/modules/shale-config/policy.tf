# The object store policies: least privilege for exactly the bucket and
# prefix Shale uses. Shale's S3 driver (objectstore/s3.go) makes these
# requests:
#
#   PutObject, CreateMultipartUpload, UploadPart,
#   CompleteMultipartUpload               s3:PutObject
#   AbortMultipartUpload                  s3:AbortMultipartUpload
#   GetObject (ranged), HeadObject        s3:GetObject
#   DeleteObject                          s3:DeleteObject
#   ListObjectsV2 under the prefix        s3:ListBucket, s3:prefix = PREFIX/*
#
# It never lists the bucket outside its prefix, never reads or writes
# bucket configuration and never touches another bucket. An S3 Express One
# Zone directory bucket authorizes those requests through one
# s3express:CreateSession grant instead. The release tarball, when
# installed from S3, adds read access to that one object.

locals {
  policy_enabled = var.object_store_url == null && var.bucket != null
  s3_express     = local.policy_enabled && endswith(coalesce(var.bucket, "-"), "--x-s3")

  bucket_arn      = "arn:${var.aws_partition}:s3:::${coalesce(var.bucket, "unset")}"
  objects_arn     = "${local.bucket_arn}/${var.prefix}/*"
  s3_express_arn  = "arn:${var.aws_partition}:s3express:${coalesce(var.region, "unset")}:${coalesce(var.aws_account_id, "unset")}:bucket/${coalesce(var.bucket, "unset")}"
  release_matches = var.release_s3_uri == null ? null : regex("^s3://([^/]+)/(.+)$", var.release_s3_uri)
  release_arn     = local.release_matches == null ? null : "arn:${var.aws_partition}:s3:::${local.release_matches[0]}/${local.release_matches[1]}"

  object_statements = [
    {
      Sid       = "ShaleListPrefix"
      Effect    = "Allow"
      Action    = ["s3:ListBucket"]
      Resource  = [local.bucket_arn]
      Condition = { StringLike = { "s3:prefix" = ["${var.prefix}/*"] } }
    },
    {
      Sid      = "ShaleObjects"
      Effect   = "Allow"
      Action   = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
      Resource = [local.objects_arn]
    },
  ]
  express_statements = [
    {
      Sid      = "ShaleExpressSession"
      Effect   = "Allow"
      Action   = ["s3express:CreateSession"]
      Resource = [local.s3_express_arn]
    },
  ]
  release_statements = [
    {
      Sid      = "ShaleReleaseTarball"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = [local.release_arn]
    },
  ]

  iam_policy = !local.policy_enabled ? null : {
    Version = "2012-10-17"
    Statement = concat(
      [for s in local.object_statements : s if !local.s3_express],
      [for s in local.express_statements : s if local.s3_express],
      [for s in local.release_statements : s if local.release_arn != null],
    )
  }
  # MinIO speaks the same policy language for its users; no express, no
  # release object (the tarball comes from release_url there).
  minio_policy = !local.policy_enabled || local.s3_express ? null : {
    Version = "2012-10-17"
    Statement = [
      for s in local.object_statements : merge(s, {
        Resource = [for r in s.Resource : replace(r, "arn:${var.aws_partition}:", "arn:aws:")]
      })
    ]
  }
}
