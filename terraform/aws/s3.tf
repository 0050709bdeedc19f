# The bucket: encrypted, never public, owned by the bucket owner, with one
# lifecycle rule that aborts multipart uploads left incomplete for days
# (never younger) and no expiry of live objects: Shale deletes what it no
# longer references itself.

resource "aws_s3_bucket" "this" {
  bucket        = local.bucket_name
  force_destroy = var.force_destroy_bucket
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }
}

# The release tarball every node installs at boot.
resource "aws_s3_object" "release" {
  count  = var.release_tarball == null ? 0 : 1
  bucket = aws_s3_bucket.this.id
  key    = local.release_key
  source = var.release_tarball
  etag   = filemd5(var.release_tarball)
  tags   = local.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this]
}

# S3 Express One Zone: the objects in a directory bucket in one zone
# (always encrypted, never public). The general bucket keeps the release.
resource "aws_s3_directory_bucket" "express" {
  count         = var.s3_express_zone_id == null ? 0 : 1
  bucket        = local.express_bucket_name
  force_destroy = var.force_destroy_bucket

  location {
    name = var.s3_express_zone_id
    type = "AvailabilityZone"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "express" {
  count  = var.s3_express_zone_id == null ? 0 : 1
  bucket = aws_s3_directory_bucket.express[0].bucket

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {
      prefix = "${var.prefix}/"
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }
}
