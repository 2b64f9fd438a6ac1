package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
)

// Terms the simulation publishes under: the shipped templates and one
// metered per GiB, so that downloads are billed.
const (
	termsOpen     = "open"
	termsResearch = "research-only"
	termsApproval = "approval-required"
	termsMetered  = "sim-per-gib"
)

var termsNames = []string{termsOpen, termsResearch, termsApproval, termsMetered}

func simTerms(name string) (*license.Terms, error) {
	if name != termsMetered {
		return license.Template(name)
	}
	t, err := license.Template("inference-metered")
	if err != nil {
		return nil, err
	}
	t.Name = termsMetered
	t.Price = license.Price{Model: license.PerGiB, Currency: "USD", Amount: 100, Exponent: 2}
	t.Quotas = license.Quotas{}
	return t, t.Validate()
}

// op is one kind of step.
type op struct {
	name   string
	weight int
	solo   bool // never part of a concurrent burst
	// plan makes the step's random choices (in order, from the seed) and
	// returns what to do, or nil when the step does not apply now.
	plan func(ctx context.Context) func()
}

type picked struct {
	name string
	run  func(ctx context.Context)
}

func (w *world) table() []op {
	kills := 2 // restarts per ~100 steps in process
	if w.cfg.Binary != "" {
		kills = 12 // the kill -9 loop is short: kill often
	}
	ops := []op{
		{name: "publish", weight: 6, plan: w.planPublish},
		{name: "publish-dataset", weight: 4, plan: w.planPublishDataset},
		{name: "grant", weight: 6, plan: func(ctx context.Context) func() { return w.planGrant(ctx, false) }},
		{name: "grant-retry", weight: 3, plan: func(ctx context.Context) func() { return w.planGrant(ctx, true) }},
		{name: "download", weight: 14, plan: w.planDownload},
		{name: "free-download", weight: 6, plan: w.planFreeDownload},
		{name: "close-session", weight: 3, plan: w.planCloseSession},
		{name: "revoke", weight: 2, plan: w.planRevoke},
		{name: "fund", weight: 2, plan: w.planFund},
		{name: "adv-wrap", weight: 4, plan: w.planAdvWrap},
		{name: "adv-claim-member", weight: 3, plan: w.planAdvClaim},
		{name: "adv-wrap-open", weight: 3, plan: w.planAdvWrapOpen},
		{name: "adv-steal-grant", weight: 3, plan: w.planAdvSteal},
		{name: "adv-no-grant", weight: 3, plan: w.planAdvNoGrant},
		{name: "adv-relabel", weight: 2, plan: w.planAdvRelabel},
		{name: "adv-drop", weight: 3, plan: w.planAdvDrop},
		{name: "adv-dup-grant", weight: 2, plan: w.planAdvDupGrant},
		{name: "adv-close-session", weight: 2, plan: w.planAdvCloseSession},
		{name: "adv-dispute", weight: 1, plan: w.planAdvDispute},
		{name: "settle", weight: 3, solo: true, plan: func(ctx context.Context) func() { return func() { w.opSettle(ctx) } }},
		{name: "restart", weight: kills, solo: true, plan: w.planRestart},
		{name: "burst", weight: 5, solo: true, plan: w.planBurst},
		{name: "restart-mid-burst", weight: kills, solo: true, plan: w.planRestartMidBurst},
	}
	if w.cfg.Crowd {
		ops = append(ops, op{name: "adv-crowd", weight: 4, plan: w.planAdvCrowd})
	}
	return ops
}

// pick chooses the next step.
func (w *world) pick() picked {
	if w.ops == nil {
		for _, o := range w.table() {
			if !slices.Contains(w.cfg.Skip, o.name) {
				w.ops = append(w.ops, o)
			}
		}
	}
	if w.step <= 3 {
		// Start with something to govern.
		return w.planned(w.table()[w.step%2]) // publish, publish-dataset
	}
	for {
		total := 0
		for _, o := range w.ops {
			total += o.weight
		}
		n := w.rng.IntN(total)
		for _, o := range w.ops {
			if n < o.weight {
				if p := w.planned(o); p.run != nil {
					return p
				}
				break
			}
			n -= o.weight
		}
	}
}

func (w *world) planned(o op) picked {
	exec := o.plan(context.Background())
	if exec == nil {
		return picked{name: o.name}
	}
	return picked{name: o.name, run: func(context.Context) { exec() }}
}

// planBurst plans two to four steps and runs them at once.
func (w *world) planBurst(ctx context.Context) func() {
	n := 2 + w.rng.IntN(3)
	var names []string
	var execs []func()
	for tries := 0; len(execs) < n && tries < 20; tries++ {
		o := w.ops[w.rng.IntN(len(w.ops))]
		if o.solo {
			continue
		}
		if e := o.plan(ctx); e != nil {
			names = append(names, o.name)
			execs = append(execs, e)
		}
	}
	if len(execs) < 2 {
		return nil
	}
	return func() {
		for _, n := range names {
			w.res.Ops["burst:"+n]++
		}
		w.op = "burst(" + strings.Join(names, "+") + ")"
		var wg sync.WaitGroup
		for _, e := range execs {
			wg.Add(1)
			go func() { defer wg.Done(); e() }()
		}
		wg.Wait()
	}
}

// planRestartMidBurst starts a burst and restarts the server while its
// requests are in flight (Close and New in process; SIGKILL for the
// process), after a delay drawn from the seed. The burst's honest steps
// may fail (the server went away under them); everything else is checked
// as usual, and the in-flight steps' effects must replay.
func (w *world) planRestartMidBurst(ctx context.Context) func() {
	burst := w.planBurst(ctx)
	if burst == nil {
		return nil
	}
	delay := time.Duration(w.rng.IntN(200)) * time.Millisecond
	crash := w.cfg.Binary != ""
	return func() {
		w.crashing.Store(true)
		done := make(chan struct{})
		go func() { defer close(done); burst() }()
		time.Sleep(delay)
		w.op = "restart-mid-" + w.op
		w.restart(ctx, crash)
		<-done
		w.crashing.Store(false)
	}
}

func (w *world) planRestart(ctx context.Context) func() {
	crash := w.cfg.Binary != "" // a process is killed; in process, Close and New
	return func() { w.restart(ctx, crash) }
}

// honestFail records an honest operation that failed.
func (w *world) honestFail(a *actor, what string, err error) {
	if w.crashing.Load() {
		return // the server was restarted under the step
	}
	w.violate(InvHonestBlocked, "%s: %s: %v", a.name, what, err)
}

func (w *world) randBytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := w.rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func (w *world) termsPick() string { return termsNames[w.rng.IntN(len(termsNames))] }

func put(ctx context.Context, c *client.Client, b []byte, opt client.PutOptions) (content.ID, error) {
	info, err := c.Put(ctx, bytes.NewReader(b), int64(len(b)), opt)
	if err != nil {
		return content.ID{}, err
	}
	return content.ParseID(info.ID)
}

// registerDup sends one signed registration dups times at once, as a
// retrying client would. Every answer must be a success.
func registerDup(ctx context.Context, c *client.Client, env *identity.Envelope, dups int) (*api.RegisterAnswer, error) {
	answers := make([]*api.RegisterAnswer, dups)
	errs := make([]error, dups)
	var wg sync.WaitGroup
	for i := range dups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = c.Register(ctx, env)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, a := range answers[1:] {
		if a.Asset != answers[0].Asset {
			return nil, fmt.Errorf("duplicates answered with assets %s and %s", answers[0].Asset, a.Asset)
		}
	}
	return answers[0], nil
}

func (w *world) manifest(owner *identity.Key, c content.ID, name, mediaType, terms string) *asset.Manifest {
	return &asset.Manifest{Content: c, Name: name, MediaType: mediaType, Created: asset.NewTime(time.Now()), Threshold: 1,
		License:      w.termsRef[terms],
		Owners:       []asset.Owner{{DID: owner.DID(), Weight: 1}},
		Contributors: []asset.Contributor{{DID: owner.DID(), Share: 600_000}, {DID: w.contributor.key().DID(), Share: 400_000}}}
}

// planPublish: an owner stores a file and registers it (the registration
// sent one to three times at once).
func (w *world) planPublish(ctx context.Context) func() {
	o := w.owners[w.rng.IntN(len(w.owners))]
	terms := w.termsPick()
	size := 1 + w.rng.IntN(96<<10)
	if w.rng.IntN(5) == 0 {
		size = 2<<20 + w.rng.IntN(2<<20) // large: a dropped connection cuts it mid-body
	}
	data := w.randBytes(size)
	dups := 1 + w.rng.IntN(3)
	name := fmt.Sprintf("file-%d", w.step)
	return func() {
		id, err := put(ctx, o.c, data, client.PutOptions{})
		if err != nil {
			w.honestFail(o, "put", err)
			return
		}
		w.smu.Lock()
		w.model.data[id], w.model.kind[id] = data, client.KindBlob
		w.smu.Unlock()
		env, err := w.manifest(o.key(), id, name, "application/octet-stream", terms).Sign(o.key())
		if err != nil {
			panic(err)
		}
		ans, err := registerDup(ctx, o.c, env, dups)
		if err != nil {
			w.honestFail(o, fmt.Sprintf("register %s (%d at once)", name, dups), err)
			return
		}
		aid, _ := asset.ParseID(ans.Asset)
		w.smu.Lock()
		w.model.pubs = append(w.model.pubs, &pub{asset: aid, content: id, owner: o, key: o.key(), terms: terms, kind: client.KindBlob})
		w.smu.Unlock()
	}
}

// planPublishDataset: an owner stores two to four files and their index,
// and registers the dataset.
func (w *world) planPublishDataset(ctx context.Context) func() {
	o := w.owners[w.rng.IntN(len(w.owners))]
	terms := w.termsPick()
	n := 2 + w.rng.IntN(3)
	files := make([][]byte, n)
	for i := range files {
		files[i] = w.randBytes(1 + w.rng.IntN(40<<10))
	}
	dups := 1 + w.rng.IntN(2)
	name := fmt.Sprintf("dataset-%d", w.step)
	return func() {
		var entries []content.File
		for i, b := range files {
			id, err := put(ctx, o.c, b, client.PutOptions{})
			if err != nil {
				w.honestFail(o, "put a dataset file", err)
				return
			}
			w.smu.Lock()
			w.model.data[id], w.model.kind[id] = b, client.KindBlob
			w.smu.Unlock()
			entries = append(entries, content.File{Path: fmt.Sprintf("part-%d.bin", i), Size: int64(len(b)), ID: id})
		}
		idx, err := content.NewIndex(entries)
		if err != nil {
			panic(err)
		}
		raw, _ := idx.Encode()
		iid, err := put(ctx, o.c, raw, client.PutOptions{Kind: client.KindDataset})
		if err != nil {
			w.honestFail(o, "put a dataset index", err)
			return
		}
		members := make([]content.ID, len(entries))
		for i, e := range entries {
			members[i] = e.ID
		}
		w.smu.Lock()
		w.model.data[iid], w.model.kind[iid] = raw, client.KindDataset
		w.model.members[iid] = members
		w.smu.Unlock()
		env, _ := w.manifest(o.key(), iid, name, content.DatasetMediaType, terms).Sign(o.key())
		ans, err := registerDup(ctx, o.c, env, dups)
		if err != nil {
			w.honestFail(o, fmt.Sprintf("register %s (%d at once)", name, dups), err)
			return
		}
		aid, _ := asset.ParseID(ans.Asset)
		w.smu.Lock()
		w.model.pubs = append(w.model.pubs, &pub{asset: aid, content: iid, owner: o, key: o.key(), terms: terms, members: members, kind: client.KindDataset})
		w.smu.Unlock()
	}
}

// pickPub picks an honest registration matching ok.
func (w *world) pickPub(ok func(*pub) bool) *pub {
	var c []*pub
	for _, p := range w.model.pubs {
		if ok(p) {
			c = append(c, p)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[w.rng.IntN(len(c))]
}

func (p *pub) contents() []content.ID { return append([]content.ID{p.content}, p.members...) }

// planGrant: a licensee asks for a grant on an honest asset whose terms
// need one, for a purpose the terms allow. With retry, the one signed
// request is sent two to eight times at once (an HTTP client retrying).
// A request that needs approval is approved by the owner (the approval,
// too, sent up to twice at once).
func (w *world) planGrant(ctx context.Context, retry bool) func() {
	p := w.pickPub(func(p *pub) bool { return p.terms != termsOpen })
	if p == nil {
		return nil
	}
	l := w.licensees[w.rng.IntN(len(w.licensees))]
	t, _ := simTerms(p.terms)
	purpose := string(t.Purposes[w.rng.IntN(len(t.Purposes))])
	dups := 1
	if retry {
		dups = 2 + w.rng.IntN(7)
	}
	votes := 1 + w.rng.IntN(2)
	return func() {
		ans, err := w.requestGrant(ctx, l, l.key(), p.asset, purpose, t.Commercial, dups)
		if err != nil {
			w.honestFail(l, fmt.Sprintf("grant on %s (%s, %d at once)", p.asset, p.terms, dups), err)
			return
		}
		if ans.Status == "pending" {
			rid, err := asset.ParseID(ans.Request)
			if err != nil {
				w.honestFail(l, "pending request id", err)
				return
			}
			ans, err = w.approve(ctx, p, rid, votes)
			if err != nil {
				w.honestFail(p.owner, fmt.Sprintf("approving request %s (%d at once)", rid, votes), err)
				return
			}
		}
		if ans.Status != "granted" || ans.Grant == nil {
			w.honestFail(l, fmt.Sprintf("grant on %s (%s) for %s", p.asset, p.terms, purpose), fmt.Errorf("status %q, reasons %v", ans.Status, ans.Reasons))
			return
		}
		gid := ans.Grant.ID.String()
		w.smu.Lock()
		if l.held[gid] == nil {
			l.held[gid] = l.c.WithGrant(l.key(), gid)
			l.order = append(l.order, gid)
		}
		w.smu.Unlock()
	}
}

// requestGrant asks for a grant: through the client once, or by sending
// one signed request dups times at once. With duplicates, one answer must
// grant (or queue) and the others may only refuse the replay.
func (w *world) requestGrant(ctx context.Context, a *actor, k *identity.Key, aid asset.ID, purpose string, commercial bool, dups int) (*api.GrantAnswer, error) {
	if dups == 1 {
		return a.c.RequestGrant(ctx, k, aid, purpose, client.GrantOptions{Commercial: commercial})
	}
	req := &grant.Request{Asset: aid, Commercial: commercial, Created: asset.NewTime(time.Now()), Licensee: k.DID(), Nonce: grant.NewNonce(), Purpose: purpose}
	env, err := req.Sign(k)
	if err != nil {
		return nil, err
	}
	body, _ := env.Marshal()
	type answer struct {
		code int
		body []byte
		err  error
	}
	answers := make([]answer, dups)
	var wg sync.WaitGroup
	for i := range dups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(a.base+"/v1/assets/"+aid.String()+"/grants", "application/json", bytes.NewReader(body))
			if err != nil {
				answers[i].err = err
				return
			}
			defer resp.Body.Close()
			answers[i].code = resp.StatusCode
			answers[i].body, answers[i].err = io.ReadAll(resp.Body)
		}()
	}
	wg.Wait()
	var got *api.GrantAnswer
	for _, an := range answers {
		switch {
		case an.err != nil:
			return nil, an.err
		case an.code == http.StatusCreated || an.code == http.StatusAccepted || an.code == http.StatusOK:
			var ga api.GrantAnswer
			if err := json.Unmarshal(an.body, &ga); err != nil {
				return nil, err
			}
			if got == nil || ga.Status == "granted" {
				got = &ga
			}
		case an.code == http.StatusConflict:
			// the replay refused
		default:
			return nil, fmt.Errorf("a copy of the request was answered %d: %.300s", an.code, an.body)
		}
	}
	if got == nil {
		return nil, errors.New("every copy of the request was refused as a replay")
	}
	return got, nil
}

// approve has the owner approve a queued request, the approval sent votes
// times at once.
func (w *world) approve(ctx context.Context, p *pub, rid asset.ID, votes int) (*api.GrantAnswer, error) {
	a := &grant.Approval{Approve: true, Approver: p.key.DID(), Asset: p.asset, Request: rid}
	env, err := a.Sign(p.key)
	if err != nil {
		return nil, err
	}
	answers := make([]*api.GrantAnswer, votes)
	errs := make([]error, votes)
	var wg sync.WaitGroup
	for i := range votes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = p.owner.c.Vote(ctx, env)
		}()
	}
	wg.Wait()
	var got *api.GrantAnswer
	for i, err := range errs {
		if err != nil {
			if client.StatusCode(err) == http.StatusConflict && votes > 1 {
				continue // the duplicate vote refused
			}
			return nil, err
		}
		if got == nil || answers[i].Status == "granted" {
			got = answers[i]
		}
	}
	if got == nil {
		return nil, errors.New("every copy of the approval was refused")
	}
	return got, nil
}

// heldGrant picks a grant an actor holds, with the registration it is for.
func (w *world) heldGrant(a *actor) (string, *client.Client, *pub) {
	if len(a.order) == 0 {
		return "", nil, nil
	}
	gid := a.order[w.rng.IntN(len(a.order))]
	gi := w.model.grants[gid]
	if gi == nil {
		return "", nil, nil
	}
	for _, p := range w.model.pubs {
		if p.asset == gi.g.Asset {
			return gid, a.held[gid], p
		}
	}
	return "", nil, nil
}

// planDownload: a licensee downloads content its grant covers: the whole
// content, a verified range, a raw HTTP Range request, or a download it
// abandons mid-body.
func (w *world) planDownload(ctx context.Context) func() {
	l := w.licensees[w.rng.IntN(len(w.licensees))]
	gid, gc, p := w.heldGrant(l)
	if p == nil {
		return nil
	}
	cs := p.contents()
	cid := cs[w.rng.IntN(len(cs))]
	data := w.model.data[cid]
	mode := w.rng.IntN(4)
	off := int64(w.rng.IntN(len(data) + 1))
	n := int64(w.rng.IntN(len(data) - int(off) + 1))
	revoked := w.model.grants[gid].revokedStep > 0
	return func() {
		what := fmt.Sprintf("download of %s under grant %s", cid, gid)
		var err error
		switch mode {
		case 0:
			var buf bytes.Buffer
			if _, err = gc.Stream(ctx, cid, &buf, nil); err == nil && !bytes.Equal(buf.Bytes(), data) {
				err = errors.New("the bytes differ from the content")
			}
		case 1:
			if n == 0 && len(data) > 0 { // an empty range is not a range (416, as for raw Range)
				n = 1
				off = min(off, int64(len(data))-1)
			}
			what = fmt.Sprintf("range %d+%d of %s under grant %s", off, n, cid, gid)
			var buf bytes.Buffer
			if err = gc.FetchRange(ctx, cid, off, n, &buf); err == nil && !bytes.Equal(buf.Bytes(), data[off:off+n]) {
				err = errors.New("the bytes differ from the content")
			}
		case 2:
			if n == 0 {
				n = 1
			}
			if off+n > int64(len(data)) {
				off = int64(len(data)) - n
			}
			what = fmt.Sprintf("raw Range %d+%d of %s under grant %s", off, n, cid, gid)
			var got []byte
			got, err = rawRange(ctx, l.base, l.key(), gid, gc.Session(), cid, off, n)
			if err == nil && !bytes.Equal(got, data[off:off+n]) {
				err = errors.New("the bytes differ from the content")
			}
		case 3:
			dropMidBody(ctx, gc, cid, int64(len(data)))
			return
		}
		if err != nil && !revoked {
			w.honestFail(l, what, err)
		}
	}
}

// rawRange fetches bytes [off, off+n) with an HTTP Range request signed
// by the licensee, as a plain HTTP client would.
func rawRange(ctx context.Context, base string, k *identity.Key, gid, session string, id content.ID, off, n int64) ([]byte, error) {
	hc := &http.Client{Transport: &httpsig.Transport{Key: k, Options: []httpsig.SignOption{httpsig.WithHeaders("charter-grant", "charter-session", "range")}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/blobs/"+id.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(client.HeaderGrant, gid)
	req.Header.Set(client.HeaderSession, session)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusPartialContent {
		return nil, fmt.Errorf("answered %d: %.300s", resp.StatusCode, b)
	}
	return b, nil
}

// dropMidBody starts a verified download of the whole content and hangs
// up after the first verified bytes arrive.
func dropMidBody(ctx context.Context, c *client.Client, id content.ID, size int64) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.FetchRange(ctx, id, 0, size, writerFunc(func(b []byte) (int, error) {
		cancel()
		return len(b), nil
	}))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// planFreeDownload: an honest actor downloads, without a grant, content
// whose governing registration is open. It must succeed, and the object
// must still be of the kind its owner stored.
func (w *world) planFreeDownload(ctx context.Context) func() {
	p := w.pickPub(func(p *pub) bool { return p.terms == termsOpen })
	if p == nil {
		return nil
	}
	var a *actor
	if w.rng.IntN(2) == 0 {
		a = w.licensees[w.rng.IntN(len(w.licensees))]
	} else {
		a = w.contributor
	}
	cs := p.contents()
	cid := cs[w.rng.IntN(len(cs))]
	data, kind := w.model.data[cid], w.model.kind[cid]
	return func() {
		info, err := a.c.Info(ctx, cid)
		if err != nil {
			w.honestFail(a, fmt.Sprintf("info of open content %s", cid), err)
			return
		}
		if info.Kind != kind {
			w.honestFail(a, fmt.Sprintf("get of open content %s", cid), fmt.Errorf("stored as %s, now served as %s (charter get would treat it as such)", kind, info.Kind))
		}
		var buf bytes.Buffer
		if _, err := a.c.Stream(ctx, cid, &buf, nil); err != nil {
			w.honestFail(a, fmt.Sprintf("download of open content %s of asset %s", cid, p.asset), err)
			return
		}
		if !bytes.Equal(buf.Bytes(), data) {
			w.honestFail(a, fmt.Sprintf("download of open content %s", cid), errors.New("the bytes differ"))
		}
	}
}

// planCloseSession: a licensee ends its download session under a grant.
func (w *world) planCloseSession(ctx context.Context) func() {
	l := w.licensees[w.rng.IntN(len(w.licensees))]
	gid, gc, p := w.heldGrant(l)
	if p == nil {
		return nil
	}
	return func() {
		if _, err := gc.CloseSession(ctx); err != nil {
			w.honestFail(l, "closing the session of grant "+gid, err)
		}
	}
}

// planRevoke: an owner revokes a grant on its asset (the revocation sent
// up to three times at once).
func (w *world) planRevoke(ctx context.Context) func() {
	l := w.licensees[w.rng.IntN(len(w.licensees))]
	gid, _, p := w.heldGrant(l)
	if p == nil || w.model.grants[gid].revokedStep > 0 {
		return nil
	}
	dups := 1 + w.rng.IntN(3)
	g := w.model.grants[gid].g
	return func() {
		rv := &grant.Revocation{Asset: p.asset, Created: asset.NewTime(time.Now()), Grant: g.ID, Reason: "simulation"}
		env, err := rv.Sign(p.key)
		if err != nil {
			panic(err)
		}
		errs := make([]error, dups)
		var wg sync.WaitGroup
		for i := range dups {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = p.owner.c.Revoke(ctx, env) }()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case client.StatusCode(err) == http.StatusConflict:
			default:
				w.honestFail(p.owner, "revoking grant "+gid, err)
				return
			}
		}
		if ok == 0 {
			w.honestFail(p.owner, "revoking grant "+gid, errors.New("every copy refused"))
		}
	}
}

// planFund: the operator deposits into a licensee's account (the deposit
// sent up to twice at once).
func (w *world) planFund(ctx context.Context) func() {
	l := w.licensees[w.rng.IntN(len(w.licensees))]
	dups := 1 + w.rng.IntN(2)
	return func() { w.fund(ctx, l, dups) }
}

func (w *world) fund(ctx context.Context, l *actor, dups int) {
	t, _ := simTerms(termsMetered)
	f := &metering.Fund{Amount: 1_000_000_000, Created: asset.NewTime(time.Now()), Currency: metering.Currency(t.Price), From: "bank", Licensee: l.key().DID(), Nonce: grant.NewNonce()}
	env, err := f.Sign(w.operator)
	if err != nil {
		panic(err)
	}
	errs := make([]error, dups)
	var wg sync.WaitGroup
	for i := range dups {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = l.c.Fund(ctx, env) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		w.honestFail(l, fmt.Sprintf("deposit (%d at once)", dups), err)
	}
}

// opSettle settles (once, or twice at once). A settlement must not fail,
// and must not leave the use of a funded honest licensee unsettled.
func (w *world) opSettle(ctx context.Context) {
	dups := 1 + w.rng.IntN(2)
	answers := make([]*metering.Settlement, dups)
	errs := make([]error, dups)
	var wg sync.WaitGroup
	for i := range dups {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i], errs[i] = w.audit.Settle(ctx) }()
	}
	wg.Wait()
	w.sync(ctx)
	for i, err := range errs {
		if err != nil {
			w.violate(InvSettlement, "settlement failed: %v", err)
			continue
		}
		for _, f := range answers[i].Failed {
			if gid, honest := w.useOwner(f.Use); honest {
				w.violate(InvSettlement, "honest use %s under grant %s left unsettled: %s", f.Use, gid, f.Error)
			}
		}
	}
}

// useOwner finds the grant of a use key ("r:<receipt>" or
// "u:<grant>/<id>") and whether an honest licensee holds it.
func (w *world) useOwner(key string) (string, bool) {
	var gid string
	switch {
	case strings.HasPrefix(key, "r:"):
		gid = w.model.rcptIDs[strings.TrimPrefix(key, "r:")]
	case strings.HasPrefix(key, "u:"):
		gid, _, _ = strings.Cut(strings.TrimPrefix(key, "u:"), "/")
	}
	for _, l := range w.licensees {
		if l.held[gid] != nil {
			return gid, true
		}
	}
	return gid, false
}
