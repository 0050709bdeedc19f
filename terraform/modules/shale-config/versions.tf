# Provider-free: only built-in functions, locals and outputs, so it runs
# (and its tests run) with no provider download.
terraform {
  required_version = ">= 1.5.0"
}
