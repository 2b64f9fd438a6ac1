package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Config is what an s3:// URL says.
type Config struct {
	Bucket string
	Options
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:7070; empty
	// for AWS itself (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL).
	Endpoint string
	// Region; empty takes AWS_REGION or the shared config, then us-east-1.
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key)
	// rather than the host name; the default when Endpoint is set.
	PathStyle bool
}

// ParseURL parses
//
//	s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true|false&part_size=BYTES&concurrency=N]
//
// Credentials are never part of the URL: they come from the standard AWS
// sources (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the
// shared files, instance roles).
func ParseURL(raw string) (Config, error) {
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("s3: blob store URL %q: %s", raw, fmt.Sprintf(format, a...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "s3" {
		return bad("the scheme must be s3://")
	}
	if u.User != nil {
		return bad("credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	c := Config{Bucket: u.Host}
	if !validBucket(c.Bucket) {
		return bad("%q is not a bucket name (3-63 of a-z, 0-9, '.', '-')", c.Bucket)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if strings.Contains(p, "//") || strings.ContainsAny(p, "\x00\\") {
			return bad("prefix %q has an empty segment or a forbidden character", p)
		}
		c.Prefix = p + "/"
	}
	q := u.Query()
	pathStyle := ""
	for k, v := range q {
		if len(v) != 1 {
			return bad("%s is given %d times", k, len(v))
		}
		switch k {
		case "endpoint":
			e, err := url.Parse(v[0])
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return bad("endpoint %q is not an http:// or https:// URL", v[0])
			}
			c.Endpoint = v[0]
		case "region":
			c.Region = v[0]
		case "path_style":
			pathStyle = v[0]
		case "part_size":
			n, err := strconv.ParseInt(v[0], 10, 64)
			if err != nil || n < MinPartSize || n > 5<<30 {
				return bad("part_size %q is not a byte count from %d (5 MiB) to 5 GiB", v[0], MinPartSize)
			}
			c.PartSize = n
		case "concurrency":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 || n > 64 {
				return bad("concurrency %q is not a number from 1 to 64", v[0])
			}
			c.Concurrency = n
		default:
			return bad("unknown parameter %q (known: endpoint, region, path_style, part_size, concurrency)", k)
		}
	}
	c.PathStyle = c.Endpoint != ""
	switch pathStyle {
	case "":
	case "true":
		c.PathStyle = true
	case "false":
		c.PathStyle = false
	default:
		return bad("path_style must be true or false")
	}
	return c, nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// OpenURL parses raw with ParseURL and opens the store: see Open.
func OpenURL(ctx context.Context, raw string) (*Store, error) {
	c, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return Open(ctx, c)
}

// Open builds a client from c and the standard AWS configuration sources
// and checks that the bucket is reachable with those credentials.
func Open(ctx context.Context, c Config) (*Store, error) {
	var opts []func(*config.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Credentials == nil {
		return nil, errors.New("s3: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// Content is verified end to end by its BLAKE3 id and Bao
		// outboard; CRC trailers add nothing and some S3-compatible
		// servers reject them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s, err := New(client, c.Bucket, c.Options)
	if err != nil {
		return nil, err
	}
	if err := s.Check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Check asks the server whether the bucket exists and the credentials may
// use it, and says what is wrong in words an operator can act on.
func (s *Store) Check(ctx context.Context) error {
	_, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	where := "s3: bucket " + s.bucket
	switch httpStatus(err) {
	case http.StatusNotFound:
		return fmt.Errorf("%s does not exist (create it first): %w", where, err)
	case http.StatusForbidden, http.StatusUnauthorized:
		return fmt.Errorf("%s: access denied; check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy: %w", where, err)
	case http.StatusMovedPermanently, http.StatusBadRequest:
		return fmt.Errorf("%s: wrong region or addressing style; set region= or path_style= in the URL: %w", where, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", where, err)
	}
	return fmt.Errorf("%s: cannot reach the server (is endpoint= right?): %w", where, err)
}
