package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/credential"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
)

func (m *market) credential(k *identity.Key, body string) (int, api.CredentialAnswer) {
	m.t.Helper()
	code, b := m.call("POST", "/v1/credentials", []byte(body), k)
	var a api.CredentialAnswer
	if code == http.StatusCreated {
		if err := json.Unmarshal(b, &a); err != nil {
			m.t.Fatal(err)
		}
	}
	return code, a
}

// TestCredentialLifecycle: a licensee's credential resolves to it and
// reads under its grant; the secret is stored nowhere; revoking the
// credential or the grant stops the next read; strangers and fresh keys
// get none, and a licensee holds a bounded number.
func TestCredentialLifecycle(t *testing.T) {
	m := newMarket(t, Config{})
	ctx := context.Background()
	code, a := m.credential(m.consumer, `{"assets":["`+m.model.String()+`"],"ttl_seconds":600}`)
	if code != http.StatusCreated {
		t.Fatalf("issue: %d", code)
	}
	if a.Licensee != m.consumer.DID().String() || a.Expires.Sub(time.Now()) > 601*time.Second || !strings.HasPrefix(a.Token, credential.TokenPrefix) {
		t.Fatalf("answer %+v", a)
	}
	c, err := m.s.CredentialByToken(ctx, a.Token)
	if err != nil || c.Licensee != m.consumer.DID() {
		t.Fatalf("CredentialByToken: %+v %v", c, err)
	}
	if _, err := m.s.CredentialByToken(ctx, credential.Token(a.AccessKeyID, strings.Repeat("0", 40))); !errors.Is(err, ErrBadSecret) {
		t.Fatalf("wrong secret: %v", err)
	}
	// Nothing secret in the catalog.
	ops, err := m.s.cat.DumpOperational(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(ops, "\n"), a.SecretAccessKey) {
		t.Fatal("the catalog holds the secret")
	}
	read := func() error {
		req := httptest.NewRequest("GET", "/s3", nil)
		mt, err := m.s.ReadUnder(req, c, m.modelContent, 10, c.ID)
		if err == nil {
			if mt == nil {
				return errors.New("licensed content read as free")
			}
			mt.record(ctx, 10, true)
		}
		return err
	}
	if err := read(); err != nil {
		t.Fatalf("read under the credential: %v", err)
	}
	if _, err := m.s.MayRead(ctx, c, m.dataset); err == nil {
		// The corpus is under open terms: free to read, but the
		// credential is limited to the model.
		t.Fatal("a credential limited to the model may read the corpus")
	}

	// A stranger with a fresh key gets no credential; the consumer at most MaxLive.
	stranger, _ := identity.Generate()
	if code, _ := m.credential(stranger, `{}`); code != http.StatusForbidden {
		t.Fatalf("fresh key got a credential: %d", code)
	}
	if code, _ := m.credential(m.consumer, `{"assets":["`+m.model.String()+`"],"ttl_seconds":1}`); code != http.StatusBadRequest {
		t.Fatalf("ttl of 1s: %d", code)
	}
	n := 1
	for ; n < credential.MaxLive+3; n++ {
		if code, _ := m.credential(m.consumer, `{}`); code != http.StatusCreated {
			if code != http.StatusTooManyRequests {
				t.Fatalf("credential %d: %d", n, code)
			}
			break
		}
	}
	if n != credential.MaxLive {
		t.Fatalf("the licensee got %d live credentials; bound %d", n, credential.MaxLive)
	}

	// Revoking the credential stops it: by its licensee only.
	if code, _ := m.call("POST", "/v1/credentials/"+a.AccessKeyID+"/revoke", []byte("{}"), stranger); code != http.StatusNotFound {
		t.Fatalf("stranger revoked: %d", code)
	}
	if code, _ := m.call("POST", "/v1/credentials/"+a.AccessKeyID+"/revoke", []byte("{}"), m.consumer); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	if _, err := m.s.CredentialByToken(ctx, a.Token); !errors.Is(err, ErrUnknownCredential) {
		t.Fatalf("revoked credential resolves: %v", err)
	}

	// Revoking the grant stops a live credential's next read.
	_, b := m.call("GET", "/v1/credentials", nil, m.consumer)
	var live []api.CredentialInfo
	json.Unmarshal(b, &live)
	if len(live) != credential.MaxLive-1 {
		t.Fatalf("%d live credentials listed", len(live))
	}
	c2, _, err := m.s.Credential(ctx, live[0].AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	c = c2
	if err := read(); err != nil {
		t.Fatalf("read before the grant's revocation: %v", err)
	}
	rv := &grant.Revocation{Asset: m.model, Created: asset.NewTime(time.Now()), Grant: m.grant.ID, Reason: "test"}
	env, err := rv.Sign(m.max)
	if code, b := m.call("POST", "/v1/grants/"+m.grant.ID.String()+"/revoke", envJSON(t, env, err), nil); code != http.StatusOK {
		t.Fatalf("revoke grant: %d %s", code, b)
	}
	if err := read(); err == nil {
		t.Fatal("read after the grant's revocation")
	}
}
