package sim

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	tclient "github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// model is what the simulation knows independently of the server's
// catalog: the terms and datasets it made, and what the log says, read in
// log order.
type model struct {
	terms              map[string]*license.Terms   // by terms content id
	members            map[content.ID][]content.ID // dataset index -> its files
	data               map[content.ID][]byte       // content bytes the simulation uploaded
	kind               map[content.ID]string       // the kind each upload was made as (honest ones)
	pubs               []*pub                      // honest registrations
	advPubs            []*pub                      // the adversary's registrations
	entries            map[string]int              // log entries read, by type
	assets             map[asset.ID]*assetInfo     // registrations, in log order
	gov                map[content.ID]asset.ID     // content -> the first registration covering it
	grants             map[string]*grantInfo       // by grant id
	rcptBy             map[string]int64            // receipt bytes by grant/session
	rcptIDs            map[string]string           // receipt id -> grant id
	settled            []settlementEntry           // settlement entries, in log order
	checkedSettlements int

	next     uint64 // next log index to read
	size     uint64 // size of the last checkpoint read
	vkey     string
	verifier note.Verifier
	fetcher  *tclient.HTTPFetcher
	journal  [][32]byte // ledger chain hashes by sequence-1, read at the last stop
}

// pub is one registration the simulation made.
type pub struct {
	asset   asset.ID
	content content.ID
	owner   *actor
	key     *identity.Key
	terms   string // template name
	members []content.ID
	kind    string
}

type assetInfo struct {
	id         asset.ID
	index      uint64
	needsGrant bool
	license    string
	owners     []identity.DID
}

type grantInfo struct {
	g           *grant.Grant
	index       uint64
	revokedStep int
	metered     bool
}

// settlementEntry is the signed payload of a settlement log entry.
type settlementEntry struct {
	Failed      []string `json:"failed"`
	JournalRoot string   `json:"journalRoot"`
	JournalSize uint64   `json:"journalSize"`
	Through     uint64   `json:"through"`
	index       uint64
}

func newModel() *model {
	return &model{terms: map[string]*license.Terms{}, members: map[content.ID][]content.ID{}, data: map[content.ID][]byte{},
		kind: map[content.ID]string{}, entries: map[string]int{}, assets: map[asset.ID]*assetInfo{}, gov: map[content.ID]asset.ID{},
		grants: map[string]*grantInfo{}, rcptBy: map[string]int64{}, rcptIDs: map[string]string{}}
}

// init pins the log's key and prepares reading it.
func (m *model) init(ctx context.Context, w *world) error {
	vkey, err := w.audit.LogKey(ctx)
	if err != nil {
		return fmt.Errorf("sim: log key: %w", err)
	}
	if m.verifier, err = auditlog.NewVerifier(vkey); err != nil {
		return err
	}
	m.vkey = vkey
	root, err := url.Parse(w.audit.Server() + "/log/")
	if err != nil {
		return err
	}
	m.fetcher, err = tclient.NewHTTPFetcher(root, nil)
	return err
}

// sync reads the log entries appended since the last call.
func (w *world) sync(ctx context.Context) {
	m := w.model
	raw, err := w.audit.LogCheckpoint(ctx)
	if err != nil {
		w.violate(InvLog, "reading the checkpoint: %v", err)
		return
	}
	cp, err := auditlog.OpenCheckpoint(raw, m.verifier)
	if err != nil {
		w.violate(InvLog, "checkpoint does not verify under the pinned key: %v", err)
		return
	}
	if cp.Size < m.size {
		w.violate(InvLog, "log shrank from %d to %d entries", m.size, cp.Size)
		return
	}
	m.size = cp.Size
	for rec, err := range auditlog.ReadEntries(ctx, m.fetcher, cp, m.next) {
		if err != nil {
			if errors.Is(err, auditlog.ErrMalformed) {
				m.next = rec.Index + 1
				continue
			}
			w.violate(InvLog, "reading entries from %d: %v", m.next, err)
			return
		}
		m.next = rec.Index + 1
		m.entries[rec.Type]++
		w.learn(rec)
	}
}

// learn applies one log entry to the model.
func (w *world) learn(rec auditlog.Record) {
	m := w.model
	env, err := identity.ParseEnvelope(rec.Payload)
	if err != nil {
		return
	}
	switch rec.Type {
	case auditlog.TypeAssetRegister:
		man, id, _, err := asset.OpenManifest(env)
		if err != nil || m.assets[id] != nil {
			return
		}
		ai := &assetInfo{id: id, index: rec.Index, license: man.License}
		for _, o := range man.Owners {
			ai.owners = append(ai.owners, o.DID)
		}
		if man.License != "" {
			t := m.terms[man.License]
			ai.needsGrant = t == nil || grant.NeedsGrant(t) // unknown terms: assume the strict reading
		}
		m.assets[id] = ai
		covered := []content.ID{man.Content}
		if man.MediaType == content.DatasetMediaType {
			covered = append(covered, m.members[man.Content]...)
		}
		for _, c := range covered {
			if _, ok := m.gov[c]; !ok {
				m.gov[c] = id
			}
		}
	case auditlog.TypeGrant:
		g, err := grant.OpenGrant(env)
		if err != nil {
			return
		}
		if m.grants[g.ID.String()] == nil {
			gi := &grantInfo{g: g, index: rec.Index}
			if t := m.terms[g.Terms.String()]; t != nil {
				gi.metered = t.Price.Model == license.PerGiB
			}
			m.grants[g.ID.String()] = gi
		}
	case auditlog.TypeRevocation:
		rv, _, err := grant.OpenRevocation(env)
		if err != nil {
			return
		}
		if gi := m.grants[rv.Grant.String()]; gi != nil && gi.revokedStep == 0 {
			gi.revokedStep = w.step
		}
	case auditlog.TypeReceipt:
		rc, id, err := metering.OpenReceipt(env)
		if err != nil {
			return
		}
		if _, dup := m.rcptIDs[id.String()]; dup {
			return
		}
		m.rcptIDs[id.String()] = rc.Grant.String()
		m.rcptBy[rc.Grant.String()+"/"+rc.Session] += rc.Bytes
	case auditlog.TypeSettlement:
		_, body, err := identity.Verify(env, identity.PayloadType("settlement"))
		if err != nil {
			return
		}
		var s settlementEntry
		if json.Unmarshal(body, &s) == nil {
			s.index = rec.Index
			m.settled = append(m.settled, s)
		}
	}
}

// checkSettlementRoots checks every settlement entry read so far whose
// journal size the last ledger read covers.
func (w *world) checkSettlementRoots(final bool) {
	m := w.model
	for ; m.checkedSettlements < len(m.settled); m.checkedSettlements++ {
		s := m.settled[m.checkedSettlements]
		if s.JournalSize > uint64(len(m.journal)) {
			if final {
				w.violate(InvLedger, "settlement entry %d names journal size %d; the journal holds %d entries", s.index, s.JournalSize, len(m.journal))
				continue
			}
			return // checked after the next stop
		}
		var want [32]byte
		if s.JournalSize > 0 {
			want = m.journal[s.JournalSize-1]
		}
		if got := hex.EncodeToString(want[:]); got != s.JournalRoot {
			w.violate(InvLedger, "settlement entry %d names journal root %s at size %d; the journal has %s there", s.index, s.JournalRoot, s.JournalSize, got)
		}
	}
}
