package terraform

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A module is the declarations of one directory of .tf files. The AWS and
// MinIO providers cannot be installed on machines without the Terraform
// registry, so these checks read the source itself: what `validate` would
// catch without provider schemas, and the rules the modules promise.
type module struct {
	dir       string
	src       map[string][]byte // file path to its bytes
	bodies    []*hclsyntax.Body
	variables map[string]*hclsyntax.Block
	locals    map[string]bool
	modules   map[string]*hclsyntax.Block
	resources map[string]*hclsyntax.Block // TYPE.NAME
	data      map[string]bool             // TYPE.NAME
	outputs   map[string]*hclsyntax.Block
}

// loadModules parses every directory holding .tf files under the
// terraform folder, keyed by its path relative to it ("aws",
// "modules/shale-config", "aws/examples/minimal").
func loadModules(t *testing.T) map[string]*module {
	t.Helper()
	mods := map[string]*module{}
	parser := hclparse.NewParser()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		m := mods[dir]
		if m == nil {
			m = &module{dir: dir, src: map[string][]byte{}, variables: map[string]*hclsyntax.Block{}, locals: map[string]bool{},
				modules: map[string]*hclsyntax.Block{}, resources: map[string]*hclsyntax.Block{}, data: map[string]bool{}, outputs: map[string]*hclsyntax.Block{}}
			mods[dir] = m
		}
		f, diags := parser.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Errorf("parse %s: %s", path, diags.Error())
			return nil
		}
		m.src[path] = f.Bytes
		body := f.Body.(*hclsyntax.Body)
		m.bodies = append(m.bodies, body)
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				m.variables[b.Labels[0]] = b
			case "locals":
				for name := range b.Body.Attributes {
					m.locals[name] = true
				}
			case "module":
				m.modules[b.Labels[0]] = b
			case "resource":
				m.resources[b.Labels[0]+"."+b.Labels[1]] = b
			case "data":
				m.data[b.Labels[0]+"."+b.Labels[1]] = true
			case "output":
				m.outputs[b.Labels[0]] = b
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"modules/shale-config", "aws", "aws/examples/minimal", "aws/examples/production", "minio", "minio/examples/basic"} {
		if mods[want] == nil {
			t.Fatalf("no module in terraform/%s", want)
		}
	}
	return mods
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// literalString is the value of an attribute written as a plain string.
func literalString(b *hclsyntax.Body, name string) (string, bool) {
	a, ok := b.Attributes[name]
	if !ok {
		return "", false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type().FriendlyName() != "string" {
		return "", false
	}
	return v.AsString(), true
}

// localSource is the directory of a module call whose source is a path.
func (m *module) localSource(call *hclsyntax.Block) (string, bool) {
	src, ok := literalString(call.Body, "source")
	if !ok || !strings.HasPrefix(src, ".") {
		return "", false
	}
	return filepath.ToSlash(filepath.Clean(filepath.Join(m.dir, src))), true
}

// TestVariablesTypedAndDescribed: every variable has a type and a
// description, every output a description.
func TestVariablesTypedAndDescribed(t *testing.T) {
	mods := loadModules(t)
	for _, dir := range sortedKeys(mods) {
		m := mods[dir]
		for _, name := range sortedKeys(m.variables) {
			v := m.variables[name]
			if _, ok := v.Body.Attributes["type"]; !ok {
				t.Errorf("%s: variable %q has no type", dir, name)
			}
			if d, ok := literalString(v.Body, "description"); !ok || len(strings.TrimSpace(d)) < 10 {
				t.Errorf("%s: variable %q has no description", dir, name)
			}
		}
		for _, name := range sortedKeys(m.outputs) {
			if d, ok := literalString(m.outputs[name].Body, "description"); !ok || strings.TrimSpace(d) == "" {
				t.Errorf("%s: output %q has no description", dir, name)
			}
		}
	}
}

// TestReferencesResolve: every var., local., module., data. and resource
// reference names something declared in its module, every output read
// from a local module exists there, and every call to a local module
// passes only its variables and all of those without a default.
func TestReferencesResolve(t *testing.T) {
	mods := loadModules(t)
	for _, dir := range sortedKeys(mods) {
		m := mods[dir]
		resourceTypes := map[string]bool{}
		for k := range m.resources {
			resourceTypes[strings.SplitN(k, ".", 2)[0]] = true
		}
		checked := 0
		check := func(tr hcl.Traversal, scope []string) {
			checked++
			root := tr.RootName()
			attr := func(i int) string {
				if i < len(tr) {
					if a, ok := tr[i].(hcl.TraverseAttr); ok {
						return a.Name
					}
				}
				return ""
			}
			where := tr.SourceRange().String()
			switch {
			case slices.Contains(scope, root):
			case root == "var":
				if m.variables[attr(1)] == nil {
					t.Errorf("%s: var.%s is not declared", where, attr(1))
				}
			case root == "local":
				if !m.locals[attr(1)] {
					t.Errorf("%s: local.%s is not declared", where, attr(1))
				}
			case root == "module":
				call := m.modules[attr(1)]
				if call == nil {
					t.Errorf("%s: module.%s is not declared", where, attr(1))
					break
				}
				if target, ok := m.localSource(call); ok && attr(2) != "" {
					if tm := mods[target]; tm == nil || tm.outputs[attr(2)] == nil {
						t.Errorf("%s: module.%s.%s: %s has no such output", where, attr(1), attr(2), target)
					}
				}
			case root == "data":
				if !m.data[attr(1)+"."+attr(2)] {
					t.Errorf("%s: data.%s.%s is not declared", where, attr(1), attr(2))
				}
			case root == "path" || root == "terraform" || root == "count" || root == "each" || root == "self":
			case resourceTypes[root]:
				if m.resources[root+"."+attr(1)] == nil {
					t.Errorf("%s: %s.%s is not declared", where, root, attr(1))
				}
			default:
				t.Errorf("%s: %q refers to nothing declared", where, root)
			}
		}
		// Attributes that hold type constraints or names of arguments, not
		// references: a variable's type, lifecycle's ignore_changes, a
		// dynamic block's iterator.
		notReferences := map[string][]string{"variable": {"type"}, "lifecycle": {"ignore_changes"}, "dynamic": {"iterator"}}
		var walk func(b *hclsyntax.Body, blockType string, scope []string)
		walk = func(b *hclsyntax.Body, blockType string, scope []string) {
			for name, a := range b.Attributes {
				if slices.Contains(notReferences[blockType], name) {
					continue
				}
				for _, tr := range a.Expr.Variables() {
					check(tr, scope)
				}
			}
			for _, blk := range b.Blocks {
				inner := scope
				if blk.Type == "dynamic" {
					iter := blk.Labels[0]
					if it, ok := blk.Body.Attributes["iterator"]; ok {
						iter = hcl.ExprAsKeyword(it.Expr)
					}
					inner = append(slices.Clone(scope), iter)
				}
				walk(blk.Body, blk.Type, inner)
			}
		}
		for _, body := range m.bodies {
			walk(body, "", nil)
		}
		if checked == 0 {
			t.Errorf("%s: no references found", dir)
		}

		for _, name := range sortedKeys(m.modules) {
			call := m.modules[name]
			target, ok := m.localSource(call)
			if !ok {
				t.Errorf("%s: module %q: want a local source", dir, name)
				continue
			}
			tm := mods[target]
			if tm == nil {
				t.Errorf("%s: module %q: no module at %s", dir, name, target)
				continue
			}
			for arg := range call.Body.Attributes {
				if slices.Contains([]string{"source", "version", "providers", "count", "for_each", "depends_on"}, arg) {
					continue
				}
				if tm.variables[arg] == nil {
					t.Errorf("%s: module %q sets %q, which %s does not declare", dir, name, arg, target)
				}
			}
			for _, v := range sortedKeys(tm.variables) {
				if _, hasDefault := tm.variables[v].Body.Attributes["default"]; !hasDefault {
					if _, set := call.Body.Attributes[v]; !set {
						t.Errorf("%s: module %q does not set %q, which %s requires", dir, name, v, target)
					}
				}
			}
		}
	}
}

// hasValidation reports whether variable name of m has a validation block.
func hasValidation(m *module, name string) bool {
	v := m.variables[name]
	if v == nil {
		return false
	}
	for _, b := range v.Body.Blocks {
		if b.Type == "validation" {
			return true
		}
	}
	return false
}

// TestValidations: the variables the deployment issue names (instance
// types, controller counts, CIDRs, sizes, names) refuse bad values at plan.
func TestValidations(t *testing.T) {
	mods := loadModules(t)
	want := map[string][]string{
		"modules/shale-config": {"cluster_name", "controllers", "brokers", "bucket", "prefix", "region", "s3_endpoint", "object_store_url",
			"data_dir", "wal_max_bytes", "cache_bytes", "local_retain_bytes", "wal_segment_max_age", "session_timeout", "listen_host",
			"release_s3_uri", "release_url", "release_file", "service_user"},
		"aws": {"cluster_name", "vpc_id", "subnet_ids", "route_table_ids", "controller_count", "controller_host_number",
			"controller_instance_type", "broker_instance_type", "architecture", "broker_min_size", "broker_max_size",
			"broker_desired_capacity", "root_volume_size_gb", "client_cidrs", "metrics_cidrs", "admin_cidrs", "bucket_name",
			"prefix", "kms_key_arn", "abort_incomplete_multipart_days", "s3_express_zone_id", "release_tarball",
			"data_dir", "wal_max_bytes", "cache_bytes", "local_retain_bytes", "log_level"},
		"minio": {"cluster_name", "minio_endpoint", "minio_region", "bucket_name", "prefix", "controllers", "brokers",
			"ssh", "release_tarball", "release_url", "data_dir", "wal_max_bytes", "cache_bytes", "local_retain_bytes", "log_level"},
	}
	for _, dir := range sortedKeys(want) {
		for _, name := range want[dir] {
			if !hasValidation(mods[dir], name) {
				t.Errorf("%s: variable %q has no validation", dir, name)
			}
		}
	}
	// The controller count is validated to exactly 1, 3 or 5.
	for dir, name := range map[string]string{"aws": "controller_count", "modules/shale-config": "controllers", "minio": "controllers"} {
		if !strings.Contains(variableSource(mods[dir], name), "contains([1, 3, 5]") {
			t.Errorf("%s: %s is not validated to 1, 3 or 5", dir, name)
		}
	}
}

// variableSource is the source text of a variable block.
func variableSource(m *module, name string) string {
	v := m.variables[name]
	if v == nil {
		return ""
	}
	r := v.Range()
	return string(m.src[r.Filename][r.Start.Byte:r.End.Byte])
}

// exprSource is the source text of an expression.
func exprSource(m *module, e hclsyntax.Expression) string {
	r := e.Range()
	return string(m.src[r.Filename][r.Start.Byte:r.End.Byte])
}

// TestSharedVariableNames: a variable of terraform/aws or terraform/minio
// named like one of shale-config means the same thing, with the same type;
// and both modules take their logic from shale-config.
func TestSharedVariableNames(t *testing.T) {
	mods := loadModules(t)
	cfg := mods["modules/shale-config"]
	for _, dir := range []string{"aws", "minio"} {
		m := mods[dir]
		call := m.modules["config"]
		if call == nil {
			t.Errorf("%s: no module \"config\"", dir)
		} else if src, _ := m.localSource(call); src != "modules/shale-config" {
			t.Errorf("%s: module \"config\" comes from %s, want modules/shale-config", dir, src)
		}
		shared := 0
		for _, name := range sortedKeys(m.variables) {
			cv := cfg.variables[name]
			if cv == nil {
				continue
			}
			shared++
			if got, want := exprSource(m, m.variables[name].Body.Attributes["type"].Expr), exprSource(cfg, cv.Body.Attributes["type"].Expr); got != want {
				t.Errorf("%s: variable %q has type %s; shale-config's is %s", dir, name, got, want)
			}
		}
		if shared < 6 {
			t.Errorf("%s shares only %d variable names with shale-config", dir, shared)
		}
	}
}

// TestBucketLifecycle: the AWS buckets' lifecycle rules abort incomplete
// multipart uploads after days (validated to at least one) and never
// expire or move live objects.
func TestBucketLifecycle(t *testing.T) {
	mods := loadModules(t)
	m := mods["aws"]
	found := 0
	for _, key := range sortedKeys(m.resources) {
		if !strings.HasPrefix(key, "aws_s3_bucket_lifecycle_configuration.") {
			continue
		}
		found++
		for _, rule := range m.resources[key].Body.Blocks {
			if rule.Type != "rule" {
				continue
			}
			aborts := false
			for _, b := range rule.Body.Blocks {
				switch b.Type {
				case "expiration", "noncurrent_version_expiration", "transition", "noncurrent_version_transition":
					t.Errorf("%s: a %s block: live objects must never expire or move", key, b.Type)
				case "abort_incomplete_multipart_upload":
					aborts = true
					if got := exprSource(m, b.Body.Attributes["days_after_initiation"].Expr); got != "var.abort_incomplete_multipart_days" {
						t.Errorf("%s: days_after_initiation = %s, want var.abort_incomplete_multipart_days", key, got)
					}
				}
			}
			if !aborts {
				t.Errorf("%s: a rule that does not abort incomplete multipart uploads", key)
			}
		}
	}
	if found == 0 {
		t.Fatal("aws: no aws_s3_bucket_lifecycle_configuration")
	}
	if !strings.Contains(variableSource(m, "abort_incomplete_multipart_days"), ">= 1") {
		t.Error("aws: abort_incomplete_multipart_days is not validated to at least one day")
	}
	for _, must := range []string{"aws_s3_bucket_public_access_block.this", "aws_s3_bucket_server_side_encryption_configuration.this",
		"aws_vpc_endpoint.s3", "aws_lb.bootstrap", "aws_autoscaling_group.broker", "aws_iam_instance_profile.node", "aws_s3_directory_bucket.express"} {
		if m.resources[must] == nil {
			t.Errorf("aws: no %s", must)
		}
	}
	if p := m.resources["aws_iam_role_policy.objects"]; p == nil || exprSource(m, p.Body.Attributes["policy"].Expr) != "module.config.iam_policy_json" {
		t.Error("aws: the node role's object store policy is not shale-config's iam_policy_json")
	}
	if p := mods["minio"].resources["minio_iam_policy.shale"]; p == nil || exprSource(mods["minio"], p.Body.Attributes["policy"].Expr) != "module.config.minio_policy_json" {
		t.Error("minio: the user's policy is not shale-config's minio_policy_json")
	}
}

// TestFmt: `tofu fmt -check -recursive` finds nothing to change.
func TestFmt(t *testing.T) {
	t.Parallel()
	bin := tofu(t)
	if out, err := tofuCmd(t, bin, ".", "fmt", "-check", "-recursive", "-diff", "."); err != nil {
		t.Fatalf("tofu fmt -check -recursive terraform: %v\n%s", err, out)
	}
}

// TestShaleConfigModule runs the shale-config module's own tests
// (tests/*.tftest.hcl): real plans over the rendered files and policies,
// and validation failures for bad inputs.
func TestShaleConfigModule(t *testing.T) {
	t.Parallel()
	bin := tofu(t)
	dir := t.TempDir()
	copyDir(t, "modules/shale-config", dir)
	if out, err := tofuCmd(t, bin, dir, "init", "-backend=false"); err != nil {
		t.Fatalf("tofu init: %v\n%s", err, out)
	}
	out, err := tofuCmd(t, bin, dir, "test", "-no-color")
	if err != nil {
		t.Fatalf("tofu test: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Success!") || !strings.Contains(out, " 0 failed") {
		t.Fatalf("tofu test did not pass:\n%s", out)
	}
	t.Logf("tofu test:\n%s", out)
	if _, err := os.Stat(filepath.Join(dir, ".terraform.lock.hcl")); err == nil {
		t.Error("shale-config needs a provider: it must stay provider-free")
	}
}
