# Bad inputs fail at plan, naming the variable.

variables {
  cluster_name = "prod-a"
  bucket       = "shale-prod"
  controllers  = [{ id = 1, host = "10.0.1.10" }, { id = 2, host = "10.0.2.10" }, { id = 3, host = "10.0.3.10" }]
}

run "valid_baseline" {
  command = plan
}

run "two_controllers" {
  command = plan
  variables {
    controllers = [{ id = 1, host = "10.0.1.10" }, { id = 2, host = "10.0.2.10" }]
  }
  expect_failures = [var.controllers]
}

run "four_controllers" {
  command = plan
  variables {
    controllers = [for i in [1, 2, 3, 4] : { id = i, host = "10.0.1.${i}" }]
  }
  expect_failures = [var.controllers]
}

run "duplicate_controller_ids" {
  command = plan
  variables {
    controllers = [{ id = 1, host = "10.0.1.10" }, { id = 1, host = "10.0.2.10" }, { id = 3, host = "10.0.3.10" }]
  }
  expect_failures = [var.controllers]
}

run "negative_node_id" {
  command = plan
  variables {
    controllers = [{ id = -1, host = "10.0.1.10" }]
  }
  expect_failures = [var.controllers]
}

run "bad_port" {
  command = plan
  variables {
    controllers = [{ id = 1, host = "10.0.1.10", raft_port = 70000 }]
  }
  expect_failures = [var.controllers]
}

run "broker_with_controller_id" {
  command = plan
  variables {
    brokers = [{ id = 2, host = "10.0.1.20" }]
  }
  expect_failures = [output.node_configs]
}

run "shared_port_on_one_host" {
  command = plan
  variables {
    controllers = [{ id = 1, host = "127.0.0.1" }, { id = 2, host = "127.0.0.1" }, { id = 3, host = "127.0.0.1" }]
  }
  expect_failures = [output.node_configs]
}

run "no_object_store" {
  command = plan
  variables {
    bucket = null
  }
  expect_failures = [output.node_configs]
}

run "bucket_and_url" {
  command = plan
  variables {
    object_store_url = "file:///srv/shale/objects"
  }
  expect_failures = [output.node_configs]
}

run "bad_bucket_name" {
  command = plan
  variables {
    bucket = "Shale_Prod"
  }
  expect_failures = [var.bucket]
}

run "prefix_with_slashes" {
  command = plan
  variables {
    prefix = "/cluster-a/"
  }
  expect_failures = [var.prefix]
}

run "bad_size" {
  command = plan
  variables {
    wal_max_bytes = "16 gigabytes"
  }
  expect_failures = [var.wal_max_bytes]
}

run "bad_duration" {
  command = plan
  variables {
    session_timeout = "6"
  }
  expect_failures = [var.session_timeout]
}

run "bad_cluster_name" {
  command = plan
  variables {
    cluster_name = "Prod_A"
  }
  expect_failures = [var.cluster_name]
}

run "relative_data_dir" {
  command = plan
  variables {
    data_dir = "var/lib/shale"
  }
  expect_failures = [var.data_dir]
}

run "endpoint_with_path" {
  command = plan
  variables {
    s3_endpoint = "http://minio:9000/shale"
  }
  expect_failures = [var.s3_endpoint]
}

run "two_release_sources" {
  command = plan
  variables {
    release_s3_uri = "s3://shale-prod/releases/shale-v1-linux-amd64.tar.gz"
    release_url    = "https://files.internal/shale-v1-linux-amd64.tar.gz"
  }
  expect_failures = [output.node_configs]
}

run "root_service_user" {
  command = plan
  variables {
    service_user = "root"
  }
  expect_failures = [var.service_user]
}
