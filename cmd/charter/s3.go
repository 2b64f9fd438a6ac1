package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charter-dev/charter/api"
)

func init() {
	register("s3", "read credentials for S3 and Hugging Face clients: s3 credentials [--asset ID]... [--ttl D] [--profile NAME [--write]] | s3 list | s3 revoke ACCESS_KEY_ID", subcommands{
		"credentials": s3CredentialsCmd{},
		"list":        s3ListCmd{},
		"revoke":      s3RevokeCmd{},
	})
}

type s3CredentialsCmd struct{}

func (s3CredentialsCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("s3 credentials", flag.ContinueOnError)
	env.globalFlags(fs)
	var assets multiFlag
	fs.Var(&assets, "asset", "limit the credential to grants on this asset (repeat; default: every grant you hold)")
	ttl := fs.Duration("ttl", 0, "how long the credential lives (1m to 168h; default 12h)")
	profile := fs.String("profile", "", "print an AWS shared-credentials profile of this name instead of environment variables")
	write := fs.Bool("write", false, "with --profile: write the profile into the AWS credentials file ($AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), replacing one of the same name")
	endpoint := fs.String("endpoint", os.Getenv("CHARTER_S3_ENDPOINT"), "the S3 endpoint URL to print (default: the one the server announces; env CHARTER_S3_ENDPOINT)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("s3 credentials takes no arguments\nhint: charter s3 credentials --asset ASSET_ID --profile charter")
	}
	if *write && *profile == "" {
		return fmt.Errorf("--write needs --profile NAME\nhint: charter s3 credentials --profile charter --write")
	}
	c, err := env.UploadClient()
	if err != nil {
		return err
	}
	a, err := c.IssueCredential(ctx, assets, *ttl)
	if err != nil {
		return err
	}
	if *endpoint == "" {
		*endpoint = a.Endpoint
	}
	if env.JSON {
		if a.Endpoint == "" {
			a.Endpoint = *endpoint
		}
		return env.printJSON(a)
	}
	if *profile != "" {
		section := awsProfile(*profile, a, *endpoint)
		if !*write {
			_, err := io.WriteString(env.Stdout, section)
			return err
		}
		path := awsCredentialsFile()
		if err := replaceProfile(path, *profile, section); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote profile %s to %s (expires %s)\n", *profile, path, a.Expires.Format(time.RFC3339))
		if *endpoint != "" {
			fmt.Fprintf(env.Stdout, "use it with: AWS_PROFILE=%s AWS_ENDPOINT_URL=%s aws s3 ls\n", *profile, *endpoint)
		}
		return nil
	}
	fmt.Fprintf(env.Stdout, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_REGION=us-east-1\n", a.AccessKeyID, a.SecretAccessKey)
	if *endpoint != "" {
		fmt.Fprintf(env.Stdout, "export AWS_ENDPOINT_URL=%s\n", *endpoint)
	}
	fmt.Fprintf(env.Stdout, "export HF_TOKEN=hf_%s\n# licensee %s; expires %s\n", a.Token, a.Licensee, a.Expires.Format(time.RFC3339))
	return nil
}

// awsProfile is a shared-credentials file section holding a.
func awsProfile(name string, a *api.CredentialAnswer, endpoint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\n# Charter read credential of %s; expires %s\n", name, a.Licensee, a.Expires.Format(time.RFC3339))
	fmt.Fprintf(&b, "aws_access_key_id = %s\naws_secret_access_key = %s\n", a.AccessKeyID, a.SecretAccessKey)
	if endpoint != "" {
		fmt.Fprintf(&b, "endpoint_url = %s\n", endpoint)
	}
	return b.String()
}

func awsCredentialsFile() string {
	if p := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".aws", "credentials")
}

// replaceProfile writes section into the credentials file at path,
// replacing the section named name, keeping the others as they are.
func replaceProfile(path, name, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var out strings.Builder
	skip := false
	sc := bufio.NewScanner(strings.NewReader(string(old)))
	for sc.Scan() {
		line := sc.Text()
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			skip = strings.TrimSpace(t[1:len(t)-1]) == name
		}
		if !skip {
			out.WriteString(line + "\n")
		}
	}
	if out.Len() > 0 && !strings.HasSuffix(out.String(), "\n\n") {
		out.WriteString("\n")
	}
	out.WriteString(section)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".charter-tmp"
	if err := os.WriteFile(tmp, []byte(out.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

type s3ListCmd struct{}

func (s3ListCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("s3 list", flag.ContinueOnError)
	env.globalFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := env.UploadClient()
	if err != nil {
		return err
	}
	cs, err := c.Credentials(ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(map[string]any{"credentials": cs})
	}
	if len(cs) == 0 {
		fmt.Fprintln(env.Stdout, "no live credentials\nhint: charter s3 credentials")
		return nil
	}
	for _, x := range cs {
		scope := "every grant"
		if len(x.Assets) > 0 {
			scope = strings.Join(x.Assets, ",")
		}
		fmt.Fprintf(env.Stdout, "%s  expires %s  %s\n", x.AccessKeyID, x.Expires.Format(time.RFC3339), scope)
	}
	return nil
}

type s3RevokeCmd struct{}

func (s3RevokeCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("s3 revoke", flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("s3 revoke takes one access key id\nhint: charter s3 list shows yours")
	}
	c, err := env.UploadClient()
	if err != nil {
		return err
	}
	if err := c.RevokeCredential(ctx, pos[0]); err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(map[string]any{"access_key_id": pos[0], "revoked": true})
	}
	fmt.Fprintf(env.Stdout, "revoked %s: the next request made with it is refused\n", pos[0])
	return nil
}
