# The IAM and MinIO policies grant exactly Shale's requests in exactly the
# bucket and prefix.

variables {
  cluster_name = "prod-a"
  bucket       = "shale-prod"
  prefix       = "cluster-a"
  region       = "eu-west-1"
  controllers  = [{ id = 1, host = "10.0.1.10" }, { id = 2, host = "10.0.2.10" }, { id = 3, host = "10.0.3.10" }]
}

run "iam_least_privilege" {
  command = plan

  assert {
    condition     = length(jsondecode(output.iam_policy_json).Statement) == 2
    error_message = "two statements: list the prefix, use its objects"
  }
  assert {
    condition = [for s in jsondecode(output.iam_policy_json).Statement : s if s.Sid == "ShaleListPrefix"][0] == {
      Sid       = "ShaleListPrefix"
      Effect    = "Allow"
      Action    = ["s3:ListBucket"]
      Resource  = ["arn:aws:s3:::shale-prod"]
      Condition = { StringLike = { "s3:prefix" = ["cluster-a/*"] } }
    }
    error_message = "listing is allowed under the prefix only"
  }
  assert {
    condition = [for s in jsondecode(output.iam_policy_json).Statement : s if s.Sid == "ShaleObjects"][0] == {
      Sid      = "ShaleObjects"
      Effect   = "Allow"
      Action   = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
      Resource = ["arn:aws:s3:::shale-prod/cluster-a/*"]
    }
    error_message = "object access is exactly put, get, delete and abort under the prefix"
  }
  assert {
    condition     = alltrue([for s in jsondecode(output.iam_policy_json).Statement : s.Effect == "Allow" && !contains(s.Action, "s3:*") && !contains(s.Resource, "*")])
    error_message = "no wildcard action or resource"
  }
  assert {
    condition     = jsondecode(output.minio_policy_json).Statement == jsondecode(output.iam_policy_json).Statement
    error_message = "MinIO gets the same grants"
  }
}

run "iam_release_tarball" {
  command = plan

  variables {
    release_s3_uri = "s3://shale-artifacts/releases/shale-v1.2.3-linux-arm64.tar.gz"
  }

  assert {
    condition = [for s in jsondecode(output.iam_policy_json).Statement : s if s.Sid == "ShaleReleaseTarball"][0] == {
      Sid      = "ShaleReleaseTarball"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["arn:aws:s3:::shale-artifacts/releases/shale-v1.2.3-linux-arm64.tar.gz"]
    }
    error_message = "the release tarball is readable, that object only"
  }
  assert {
    condition     = length(jsondecode(output.minio_policy_json).Statement) == 2
    error_message = "MinIO's policy has no release grant"
  }
}

run "iam_partition" {
  command = plan

  variables {
    aws_partition = "aws-cn"
    region        = "cn-north-1"
  }

  assert {
    condition     = [for s in jsondecode(output.iam_policy_json).Statement : s if s.Sid == "ShaleObjects"][0].Resource == ["arn:aws-cn:s3:::shale-prod/cluster-a/*"]
    error_message = "ARNs follow the partition"
  }
  assert {
    condition     = [for s in jsondecode(output.minio_policy_json).Statement : s if s.Sid == "ShaleObjects"][0].Resource == ["arn:aws:s3:::shale-prod/cluster-a/*"]
    error_message = "MinIO ARNs are always arn:aws"
  }
}

run "s3_express" {
  command = plan

  variables {
    bucket         = "shale-prod--euw1-az1--x-s3"
    aws_account_id = "123456789012"
  }

  assert {
    condition = jsondecode(output.iam_policy_json).Statement == [{
      Sid      = "ShaleExpressSession"
      Effect   = "Allow"
      Action   = ["s3express:CreateSession"]
      Resource = ["arn:aws:s3express:eu-west-1:123456789012:bucket/shale-prod--euw1-az1--x-s3"]
    }]
    error_message = "a directory bucket is reached through one session grant on that bucket"
  }
  assert {
    condition     = output.minio_policy_json == null
    error_message = "no MinIO policy for a directory bucket"
  }
}

run "s3_express_needs_account" {
  command = plan

  variables {
    bucket = "shale-prod--euw1-az1--x-s3"
  }

  expect_failures = [output.node_configs]
}

run "minio_endpoint" {
  command = plan

  variables {
    region      = null
    s3_endpoint = "http://minio.internal:9000"
  }

  assert {
    condition     = output.object_store == "s3://shale-prod/cluster-a?endpoint=http://minio.internal:9000"
    error_message = "the MinIO endpoint goes into the object_store URL"
  }
}

run "file_store_has_no_policy" {
  command = plan

  variables {
    bucket           = null
    object_store_url = "file:///srv/shale/objects"
  }

  assert {
    condition     = output.iam_policy_json == null && output.minio_policy_json == null
    error_message = "no bucket, no policy"
  }
  assert {
    condition     = output.object_store == "file:///srv/shale/objects"
    error_message = "object_store_url is used as given"
  }
}
