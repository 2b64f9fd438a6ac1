package server

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// realTool finds a client binary; missing, the test is skipped, except in
// CI, where .ci/run installs them (Debian awscli, python3-boto3, rclone).
func realTool(t *testing.T, names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; .ci/run installs it", names[0])
	}
	t.Skipf("%s is not installed", names[0])
	return ""
}

func runTool(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String() + errb.String(), err
}

// TestS3RealClients: the AWS CLI, boto3 and rclone list, copy and read
// ranges of a licensed dataset through the S3 API, and are refused with
// no credentials, another licensee's credentials, a revoked grant and a
// key outside the dataset.
func TestS3RealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three real clients (-short)")
	}
	aws := realTool(t, "/usr/bin/aws", "aws")
	py := realTool(t, "/usr/bin/python3", "python3")
	rclone := realTool(t, "rclone")
	f := newS3Fixture(t, 8)
	a := f.cred(f.consumer)
	bucket := f.dataset.String()
	dir := t.TempDir()
	env := []string{"AWS_ACCESS_KEY_ID=" + a.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + a.SecretAccessKey, "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + f.s3.URL,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"), "HOME=" + dir, "AWS_EC2_METADATA_DISABLED=true"}
	key := "train/part-001.txt"
	want := f.files[key]

	// AWS CLI: list, copy the whole dataset, a ranged read.
	out, err := runTool(t, env, aws, "--endpoint-url", f.s3.URL, "s3", "ls", "--recursive", "s3://"+bucket+"/")
	if err != nil || !strings.Contains(out, "eval/x 3+y.txt") || !strings.Contains(out, key) {
		t.Fatalf("aws s3 ls: %v\n%s", err, out)
	}
	if out, err := runTool(t, env, aws, "--endpoint-url", f.s3.URL, "s3", "cp", "--recursive", "s3://"+bucket+"/", filepath.Join(dir, "cli")); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	for p, b := range f.files {
		got, err := os.ReadFile(filepath.Join(dir, "cli", p))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("aws s3 cp: %s differs (%v)", p, err)
		}
	}
	if out, err := runTool(t, env, aws, "--endpoint-url", f.s3.URL, "s3api", "get-object", "--bucket", bucket, "--key", key, "--range", "bytes=10-29", filepath.Join(dir, "range")); err != nil {
		t.Fatalf("aws s3api get-object --range: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "range")); !bytes.Equal(got, want[10:30]) {
		t.Fatalf("ranged read: %q", got)
	}

	// boto3: paginated list, a ranged read, head with the content id.
	script := `
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[1], PaginationConfig={"PageSize": 3}) for o in p.get("Contents", [])]
print("keys", len(keys))
body = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2], Range="bytes=0-9")["Body"].read()
print("range", body.decode())
h = s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2])
print("meta", h["Metadata"].get("charter-id"))
`
	out, err = runTool(t, env, py, "-c", script, bucket, key)
	if err != nil || !strings.Contains(out, "keys 8") || !strings.Contains(out, "range "+string(want[:10])) || !strings.Contains(out, "meta "+f.ids[key].String()) {
		t.Fatalf("boto3: %v\n%s", err, out)
	}

	// rclone: list and copy.
	renv := append(env, "RCLONE_CONFIG="+filepath.Join(dir, "rclone.conf"), "RCLONE_CONFIG_CH_TYPE=s3", "RCLONE_CONFIG_CH_PROVIDER=Other", "RCLONE_CONFIG_CH_ENV_AUTH=true",
		"RCLONE_CONFIG_CH_ENDPOINT="+f.s3.URL, "RCLONE_CONFIG_CH_FORCE_PATH_STYLE=true", "RCLONE_CONFIG_CH_LIST_VERSION=2", "RCLONE_CONFIG_CH_REGION=us-east-1", "AWS_CA_BUNDLE=")
	out, err = runTool(t, renv, rclone, "lsf", "-R", "ch:"+bucket)
	if err != nil || !strings.Contains(out, key) {
		t.Fatalf("rclone lsf: %v\n%s", err, out)
	}
	if out, err := runTool(t, renv, rclone, "copy", "ch:"+bucket+"/train", filepath.Join(dir, "rc")); err != nil {
		t.Fatalf("rclone copy: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "rc", "part-001.txt")); !bytes.Equal(got, want) {
		t.Fatal("rclone copy: file differs")
	}

	// Refusals, with each client.
	noCred := []string{"AWS_ENDPOINT_URL=" + f.s3.URL, "AWS_REGION=us-east-1", "AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"), "HOME=" + dir, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_EC2_METADATA_DISABLED=true"}
	if out, err := runTool(t, noCred, aws, "--endpoint-url", f.s3.URL, "s3", "ls", "s3://"+bucket+"/", "--no-sign-request"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Errorf("aws without credentials: %v\n%s", err, out)
	}
	f.c.RequestGrant(t.Context(), f.ann, f.model, "infer", grantOpts())
	o := f.cred(f.ann)
	other := append(append([]string{}, env...), "AWS_ACCESS_KEY_ID="+o.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+o.SecretAccessKey)
	if out, err := runTool(t, other, py, "-c", script, bucket, key); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Errorf("boto3 with another licensee's credential: %v\n%s", err, out)
	}
	if out, err := runTool(t, env, aws, "--endpoint-url", f.s3.URL, "s3api", "get-object", "--bucket", bucket, "--key", "train/not-there", filepath.Join(dir, "x")); err == nil || !strings.Contains(out, "NoSuchKey") {
		t.Errorf("aws, a key outside the dataset: %v\n%s", err, out)
	}
	f.revokeDatasetGrant()
	if out, err := runTool(t, renv, rclone, "lsf", "ch:"+bucket, "--retries", "1", "--low-level-retries", "1"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Errorf("rclone after the grant's revocation: %v\n%s", err, out)
	}
}
