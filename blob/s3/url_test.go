package s3_test

import (
	"strings"
	"testing"

	"github.com/charter-dev/charter/blob/s3"
)

func TestParseURL(t *testing.T) {
	c, err := s3.ParseURL("s3://my-bucket/a/b/?endpoint=http://127.0.0.1:7070&region=eu-west-1&part_size=16777216&concurrency=4")
	if err != nil {
		t.Fatal(err)
	}
	if c.Bucket != "my-bucket" || c.Prefix != "a/b/" || c.Endpoint != "http://127.0.0.1:7070" || c.Region != "eu-west-1" ||
		!c.PathStyle || c.PartSize != 16<<20 || c.Concurrency != 4 {
		t.Fatalf("parsed %+v", c)
	}
	c, err = s3.ParseURL("s3://bucket.example")
	if err != nil || c.PathStyle || c.Prefix != "" || c.Endpoint != "" {
		t.Fatalf("plain AWS URL parsed %+v, %v", c, err)
	}
	for _, tc := range []struct{ url, says string }{
		{"file:///x", "scheme"},
		{"s3://AB", "bucket name"},
		{"s3://key:secret@bucket", "credentials"},
		{"s3://bucket?endpoint=ftp://x", "endpoint"},
		{"s3://bucket?part_size=1024", "part_size"},
		{"s3://bucket?color=red", "unknown parameter"},
		{"s3://bucket?path_style=maybe", "path_style"},
		{"s3://bucket/a//b", "empty segment"},
		{"s3://bucket?region=a&region=b", "2 times"},
	} {
		_, err := s3.ParseURL(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseURL(%q) = %v, want an error saying %q", tc.url, err, tc.says)
		}
	}
}

// FuzzParseURL: any string either parses into a config whose fields are
// sane or is refused with an error; it never panics.
func FuzzParseURL(f *testing.F) {
	f.Add("s3://bucket/prefix?endpoint=http://127.0.0.1:7070&region=us-east-1")
	f.Add("s3://b.c-d/x?path_style=false&part_size=5242880")
	f.Add("s3://%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := s3.ParseURL(raw)
		if err != nil {
			return
		}
		if len(c.Bucket) < 3 || (c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/")) || strings.HasPrefix(c.Prefix, "/") {
			t.Fatalf("ParseURL(%q) = %+v", raw, c)
		}
		if c.PartSize != 0 && c.PartSize < s3.MinPartSize {
			t.Fatalf("ParseURL(%q) accepted part size %d", raw, c.PartSize)
		}
	})
}
