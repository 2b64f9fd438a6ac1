package api

import "time"

// CredentialAnswer is the answer of POST /v1/credentials: a read
// credential for S3 (access key id and secret, AWS Signature V4) and for
// bearer-token clients (Token). The secret is in this answer only: the
// server keeps none.
type CredentialAnswer struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	Token           string    `json:"token"`
	Licensee        string    `json:"licensee"`
	Assets          []string  `json:"assets"`
	Expires         time.Time `json:"expires"`
	// Endpoint is the server's S3 endpoint, when it serves one.
	Endpoint string `json:"s3_endpoint,omitempty"`
}

// CredentialInfo is a credential without its secret, as GET
// /v1/credentials lists them.
type CredentialInfo struct {
	AccessKeyID string    `json:"access_key_id"`
	Licensee    string    `json:"licensee"`
	Assets      []string  `json:"assets"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}
