package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/credential"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

// DefaultCredentialsDay is how many read credentials one licensee key may
// be issued per UTC day.
const DefaultCredentialsDay = 1000

// credentialKey is the server's credential key (package credential),
// derived from its identity key, so replicas sharing it verify each
// other's credentials.
func (s *Server) credentialKey() []byte {
	s.credKeyOnce.Do(func() {
		priv, _ := s.key.Signer().(ed25519.PrivateKey)
		s.credKey = credential.KeyFromSeed(priv.Seed())
	})
	return s.credKey
}

// issueCredential handles POST /v1/credentials: a read credential for the
// licensee who signs the request (RFC 9421), limited to the assets the
// body names (credential.Request). The signer must hold a live grant (on
// each named asset, or on any); a licensee gets at most
// credential.MaxLive live credentials and DefaultCredentialsDay a day.
// The secret goes into the answer only: neither the catalog nor the
// server's log holds it.
func (s *Server) issueCredential(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req credential.Request
	var ttl time.Duration
	who, err := s.signedWith(r, httpsig.VerifyOptions{}, func(who identity.DID) error {
		raw, err := io.ReadAll(io.LimitReader(r.Body, credential.MaxRequestSize+1))
		if err != nil {
			return err
		}
		req, ttl, err = credential.ParseRequest(raw, func(a string) error { _, err := asset.ParseID(a); return err })
		if err != nil {
			return errorf(http.StatusBadRequest, "bad-credential-request", "Malformed credential request", err.Error(),
				`send {"assets": ["ASSET_ID", ...], "ttl_seconds": N} (both optional); `+"`charter s3 credentials`"+` does`, err)
		}
		return s.holdsGrants(ctx, who, req.Assets)
	}, "sign the request with your key (RFC 9421); `charter s3 credentials` does")
	if err != nil {
		return err
	}
	// Keys without standing draw on the shared pool, as for every other
	// write of theirs: a credential naming a free asset needs no grant
	// (TestAttackFreshKeysMintCredentialsOutsideThePool).
	if err := s.drawPool(ctx, crowd.Statements, 1, who); err != nil {
		return err
	}
	day := time.Now().UTC().Format(time.DateOnly)
	ok, used, _, err := s.cat.ChargeUpload(ctx, "credentials "+who.String(), day, 1, DefaultCredentialsDay, 0)
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusTooManyRequests, "credential-quota", "Too many credentials today",
			fmt.Sprintf("%s was issued %d credentials today (limit %d)", who, used, DefaultCredentialsDay), "reuse a credential you hold (they last up to 7 days); the count resets at 00:00 UTC", nil)
	}
	id, err := credential.NewID(nil)
	if err != nil {
		return err
	}
	now := time.Now()
	c := &credential.Credential{ID: id, Licensee: who, Assets: req.Assets, Created: now, Expires: now.Add(ttl).Truncate(time.Second)}
	ok, err = s.cat.PutCredential(ctx, catalog.CredentialRecord{ID: id, Licensee: who.String(), Assets: c.Assets, Created: c.Created, Expires: c.Expires}, credential.MaxLive, now)
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusTooManyRequests, "credential-limit", "Too many live credentials",
			fmt.Sprintf("%s holds %d live credentials, the most one key may hold", who, credential.MaxLive), "revoke one you no longer use: `charter s3 revoke ACCESS_KEY_ID`", nil)
	}
	s.log.Info("read credential issued", "access_key_id", id, "licensee", who, "assets", len(c.Assets), "expires", c.Expires)
	sec := credential.Secret(s.credentialKey(), c)
	assets := c.Assets
	if assets == nil {
		assets = []string{}
	}
	writeJSON(w, http.StatusCreated, api.CredentialAnswer{AccessKeyID: id, SecretAccessKey: sec, Token: credential.Token(id, sec), Licensee: who.String(), Assets: assets, Expires: c.Expires.UTC(), Endpoint: s.cfg.S3Endpoint})
	return nil
}

// holdsGrants checks that who holds a live grant on each of assets, or on
// any asset when none are named.
func (s *Server) holdsGrants(ctx context.Context, who identity.DID, assets []string) error {
	if len(assets) == 0 {
		recs, err := s.cat.Grants(ctx, "", who.String())
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if g, err := s.liveGrant(rec); err == nil && g != nil {
				return nil
			}
		}
		return errorf(http.StatusForbidden, "no-grant", "No grant to read under", fmt.Sprintf("%s holds no live grant; a credential reads only what its licensee's grants allow", who), "request a grant first: `charter grant request ASSET --purpose PURPOSE`", nil)
	}
	for _, a := range assets {
		if g, err := s.grantOn(ctx, who, a); err != nil {
			return err
		} else if g == nil {
			free, err := s.assetFree(ctx, a)
			if err != nil {
				return err
			}
			if !free {
				return errorf(http.StatusForbidden, "no-grant", "No grant on this asset", fmt.Sprintf("%s holds no live grant on asset %s", who, a), fmt.Sprintf("request one: `charter grant request %s --purpose PURPOSE`", a), nil)
			}
		}
	}
	return nil
}

// assetFree reports whether a registered asset is readable without a
// grant (no licence, or terms that need none); an unknown asset is 404.
func (s *Server) assetFree(ctx context.Context, a string) (bool, error) {
	id, err := asset.ParseID(a)
	if err != nil {
		return false, errorf(http.StatusBadRequest, "bad-id", "Malformed asset id", fmt.Sprintf("%q is not an asset id", a), "", err)
	}
	rec, err := s.assetRecord(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, errorf(http.StatusNotFound, "unknown-asset", "No such asset", fmt.Sprintf("no asset %s on this server", a), "", err)
	}
	if err != nil {
		return false, err
	}
	if rec.State.License == "" {
		return true, nil
	}
	t, _, err := s.loadTerms(ctx, rec.State.License)
	if err != nil {
		return false, err
	}
	return !grant.NeedsGrant(t), nil
}

// liveGrant opens a grant record and returns it when it is unrevoked and
// valid now, nil otherwise.
func (s *Server) liveGrant(rec *catalog.GrantRecord) (*grant.Grant, error) {
	if rec.Revoked {
		return nil, nil
	}
	var g *grant.Grant
	if v, ok := s.grantCache.Load(rec.ID); ok {
		g = v.(*grant.Grant)
	} else {
		env, err := identity.ParseEnvelope(rec.Envelope)
		if err != nil {
			return nil, err
		}
		if g, err = grant.OpenGrant(env); err != nil {
			return nil, err
		}
		s.grantCache.Store(rec.ID, g) // statements never change; revocation is in the record
	}
	if !g.ValidAt(time.Now()) {
		return nil, nil
	}
	return g, nil
}

// grantOn returns a live grant of who on asset a (the newest), or nil.
func (s *Server) grantOn(ctx context.Context, who identity.DID, a string) (*grant.Grant, error) {
	return memoized(ctx, func(m *readMemo) *map[memoGrantKey]*grant.Grant { return &m.grants }, memoGrantKey{who, a}, func() (*grant.Grant, error) {
		if s.shared() || memoOf(ctx) == nil {
			return s.readGrantOn(ctx, who, a)
		}
		k := memoGrantKey{who, a}
		if g, ok := s.gov.getGrant(k); ok && g.ValidAt(time.Now()) {
			return g, nil
		}
		gen := s.gov.generation()
		g, err := s.readGrantOn(ctx, who, a)
		if err == nil && g != nil {
			s.gov.putGrant(k, g, gen) // only live grants: a refusal reads again
		}
		return g, err
	})
}

// readGrantOn is grantOn without the request's memo.
func (s *Server) readGrantOn(ctx context.Context, who identity.DID, a string) (*grant.Grant, error) {
	recs, err := s.cat.Grants(ctx, a, who.String())
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		g, err := s.liveGrant(rec)
		if err != nil {
			return nil, err
		}
		if g != nil {
			return g, nil
		}
	}
	return nil, nil
}

// revokeCredential handles POST /v1/credentials/{id}/revoke, signed by
// the credential's licensee: the next request made with it is refused.
func (s *Server) revokeCredential(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !credential.ValidID(id) {
		return errorf(http.StatusBadRequest, "bad-id", "Malformed access key id", fmt.Sprintf("%q is not a Charter access key id", id), "access key ids start with "+credential.IDPrefix, nil)
	}
	who, err := s.signedWith(r, httpsig.VerifyOptions{}, func(who identity.DID) error {
		rec, err := s.cat.Credential(r.Context(), id)
		if errors.Is(err, catalog.ErrNotFound) || err == nil && rec.Licensee != who.String() {
			return errorf(http.StatusNotFound, "unknown-credential", "No such credential of yours", fmt.Sprintf("%s holds no credential %s", who, id), "`charter s3 credentials --list` lists yours", err)
		}
		return err
	}, "sign the request with the credential's licensee key (RFC 9421); `charter s3 revoke` does")
	if err != nil {
		return err
	}
	err = s.cat.RevokeCredential(r.Context(), id, who.String())
	s.creds.forget() // after the catalog has it: the next request reads the record
	if err != nil {
		return err
	}
	s.log.Info("read credential revoked", "access_key_id", id, "licensee", who)
	writeJSON(w, http.StatusOK, map[string]any{"access_key_id": id, "revoked": true})
	return nil
}

// listCredentials handles GET /v1/credentials, signed: the signer's live
// credentials, without secrets.
func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request) error {
	who, err := s.signedWith(r, httpsig.VerifyOptions{}, nil, "sign the request with your key (RFC 9421)")
	if err != nil {
		return err
	}
	recs, err := s.cat.LiveCredentials(r.Context(), who.String(), time.Now())
	if err != nil {
		return err
	}
	out := []api.CredentialInfo{}
	for _, c := range recs {
		as := c.Assets
		if as == nil {
			as = []string{}
		}
		out = append(out, api.CredentialInfo{AccessKeyID: c.ID, Licensee: c.Licensee, Assets: as, Created: c.Created.UTC(), Expires: c.Expires.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Errors of credential resolution; the S3 and Hugging Face front ends map
// them to their own error codes.
var (
	// ErrUnknownCredential: no such access key id, or a revoked one.
	ErrUnknownCredential = errors.New("unknown or revoked credential")
	// ErrBadSecret: the secret (or the signature made with it) does not
	// match.
	ErrBadSecret = errors.New("credential secret does not match")
	// ErrCredentialExpired: the credential is past its expiry.
	ErrCredentialExpired = credential.ErrExpired
)

// Credential resolves an access key id to the credential it names and
// its secret, for a front end that verifies a signature made with the
// secret (AWS Signature V4). A revoked or unknown id is
// ErrUnknownCredential, an expired one ErrCredentialExpired; a record
// whose fields changed since it was issued no longer matches the secret
// its holder has, so its signatures fail.
func (s *Server) Credential(ctx context.Context, accessKeyID string) (*credential.Credential, string, error) {
	if !credential.ValidID(accessKeyID) {
		return nil, "", ErrUnknownCredential
	}
	var gen uint64
	if !s.shared() {
		c, secret, ok, g := s.cachedCredential(accessKeyID)
		if ok {
			return c, secret, nil
		}
		gen = g
	}
	rec, err := s.cat.Credential(ctx, accessKeyID)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, "", ErrUnknownCredential
	}
	if err != nil {
		return nil, "", err
	}
	if rec.Revoked {
		return nil, "", ErrUnknownCredential
	}
	lic, err := identity.ParseDID(rec.Licensee)
	if err != nil {
		return nil, "", err
	}
	c := &credential.Credential{ID: rec.ID, Licensee: lic, Assets: rec.Assets, Created: rec.Created, Expires: rec.Expires}
	if err := c.Check(time.Now()); err != nil {
		return nil, "", err
	}
	secret := credential.Secret(s.credentialKey(), c)
	if !s.shared() {
		kept := *c
		s.creds.put(accessKeyID, cachedCred{c: &kept, secret: secret}, gen)
	}
	return c, secret, nil
}

// CredentialByToken resolves a bearer token ("charter_<id>_<secret>",
// credential.ParseToken) to its credential; errors as Credential, and
// ErrBadSecret when the secret does not match.
func (s *Server) CredentialByToken(ctx context.Context, token string) (*credential.Credential, error) {
	id, sec, ok := credential.ParseToken(token)
	if !ok {
		return nil, ErrUnknownCredential
	}
	c, want, err := s.Credential(ctx, id)
	if err != nil {
		return nil, err
	}
	if !credential.Equal(s.credentialKey(), c, sec) || want == "" {
		return nil, ErrBadSecret
	}
	return c, nil
}

// MayRead checks that credential c may read asset a: c covers it, and a
// is free to read or c's licensee holds a live grant on it. It returns
// that grant (nil for a free asset). Use it before listing an asset's
// files; every byte served is checked again by ReadUnder.
func (s *Server) MayRead(ctx context.Context, c *credential.Credential, a asset.ID) (*grant.Grant, error) {
	if !c.Covers(a.String()) {
		return nil, errorf(http.StatusForbidden, "not-covered", "Credential does not cover this asset", fmt.Sprintf("credential %s is limited to other assets", c.ID), "get a credential for it: `charter s3 credentials --asset "+a.String()+"`", nil)
	}
	g, err := s.grantOn(ctx, c.Licensee, a.String())
	if err != nil {
		return nil, err
	}
	if g == nil {
		free, err := s.assetFree(ctx, a.String())
		if err != nil {
			return nil, err
		}
		if !free {
			return nil, errorf(http.StatusForbidden, "no-grant", "No grant on this asset", fmt.Sprintf("%s holds no live grant on asset %s", c.Licensee, a), fmt.Sprintf("request one: `charter grant request %s --purpose PURPOSE`", a), nil)
		}
	}
	// The asset's content (a dataset's index: its file list) may be
	// governed by an earlier registration: a free asset wrapping another's
	// licensed index lists nothing without a grant on that one
	// (TestAttackS3WrapperListsLicensedDataset).
	rec, err := s.assetRecord(ctx, a)
	if err != nil {
		return nil, err
	}
	needing, err := s.licensedBy(ctx, rec.State.Manifest.Content)
	if err != nil || len(needing) == 0 {
		return g, err
	}
	for _, n := range needing {
		if !c.Covers(n) {
			continue
		}
		if h, err := s.grantOn(ctx, c.Licensee, n); err != nil || h != nil {
			return h, err
		}
	}
	return nil, errorf(http.StatusForbidden, "no-grant", "No grant covers this asset's content", fmt.Sprintf("the content of asset %s is licensed content of asset %s; %s holds no live grant on it that credential %s covers", a, needing[0], c.Licensee, c.ID), fmt.Sprintf("request one: `charter grant request %s --purpose PURPOSE`", needing[0]), nil)
}

// ReadUnder is the native data plane's enforcement (enforce) for a
// request made with credential c: it finds which assets govern content
// id, picks c's licensee's live grant on one of them that c covers, and
// reserves n bytes and one request against that grant's quota in the
// download session named session (the front end's session: receipts are
// per grant and session). Free content returns nil. Write the response
// through MeterWriter and call its Finish.
func (s *Server) ReadUnder(r *http.Request, c *credential.Credential, id content.ID, n int64, session string) (*metered, error) {
	if err := c.Check(time.Now()); err != nil {
		return nil, err
	}
	ctx := r.Context()
	needing, err := s.licensedBy(ctx, id)
	if err != nil || len(needing) == 0 {
		return nil, err
	}
	for _, a := range needing {
		if !c.Covers(a) {
			continue
		}
		g, err := s.grantOn(ctx, c.Licensee, a)
		if err != nil {
			return nil, err
		}
		if g != nil {
			return s.reserveIn(ctx, session, g, id, n)
		}
	}
	return nil, errorf(http.StatusForbidden, "no-grant", "No grant covers this content", fmt.Sprintf("%s is licensed content of asset %s; %s holds no live grant on it that credential %s covers", id, needing[0], c.Licensee, c.ID), fmt.Sprintf("request one: `charter grant request %s --purpose PURPOSE`", needing[0]), nil)
}
