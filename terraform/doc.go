// Package terraform holds Shale's Terraform (and OpenTofu) modules:
//
//	modules/shale-config  provider-free: each node's shale.yaml, the systemd
//	                      unit, the cloud-init user data, the IAM and MinIO
//	                      policies, from the cluster's shape
//	aws                   a cluster on AWS (S3, IAM, EC2, autoscaling, NLB)
//	minio                 a cluster on your own hosts with MinIO
//
// There is no Go code here; the tests check the modules: every file parses,
// every variable is typed, described and validated where it must be, every
// reference resolves, `tofu fmt` and `tofu test` pass, and a cluster
// rendered by shale-config boots and serves Kafka clients.
package terraform
