package datadir

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
)

// Backup copies the data folder src into the new folder dst, consistently,
// while a server may be running on src and taking writes:
//
//  1. the catalog, by SQLite's VACUUM INTO (one read transaction);
//  2. the log, up to a signed checkpoint that covers every entry the copied
//     catalog applied (waiting briefly for the server to publish one): the
//     tiles and entry bundles that checkpoint commits to, and a tree state
//     at exactly its size;
//     The grant counters of the catalog copy are credited with receipts
//     the log copy holds beyond it of sessions the copy never saw (those
//     of sessions it holds open are brought forward by replay);
//  3. the ledger, by VACUUM INTO, after the log: the copy holds every
//     transfer the log's settlement roots vouch for (transfer ids make
//     settling again a no-op);
//  4. the keys;
//  5. the blobs, each through blob.Put, which re-hashes it: a blob corrupt
//     on the source is reported, never copied;
//  6. catalog records for blobs stored after the catalog copy.
//
// The log copy is then audited (every tile and bundle recomputed to the
// checkpoint's root). dst is a complete data folder: `charter serve --data
// dst` replays the log entries its catalog lacks. Among them may be receipts
// of download sessions the catalog copy holds open: applying one brings the
// session and the grant's counters forward to the receipt (see
// catalog.Tx.ApplyReceipt), so those bytes are not receipted twice. The caller must make sure
// no rebuild runs on src meanwhile (cmd/charter refuses while an admin
// command holds the folder).
func Backup(ctx context.Context, src, dst string) (*api.BackupReport, error) {
	if ents, err := os.ReadDir(dst); err == nil && len(ents) > 0 {
		// A lock file of our own is fine.
		if len(ents) > 1 || ents[0].Name() != "charter.lock" {
			return nil, fmt.Errorf("backup folder %s is not empty\nhint: back up into a new folder", dst)
		}
	}
	if _, err := os.Stat(filepath.Join(src, "catalog.db")); err != nil {
		return nil, fmt.Errorf("%s is not a Charter data folder (no catalog.db)", src)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return nil, err
	}
	rep := &api.BackupReport{}
	// 1. Catalog.
	if err := VacuumInto(ctx, filepath.Join(src, "catalog.db"), filepath.Join(dst, "catalog.db")); err != nil {
		return nil, fmt.Errorf("backup: catalog: %w", err)
	}
	cat, err := catsqlite.Open(ctx, filepath.Join(dst, "catalog.db"))
	if err != nil {
		return nil, err
	}
	defer cat.Close()
	next, above, err := cat.Applied(ctx)
	if err != nil {
		return nil, err
	}
	for i := range above {
		next = max(next, i+1)
	}
	rep.CatalogNext = next
	// 2. Log.
	signer, err := auditlog.LoadKey(filepath.Join(src, "keys", "log.key"))
	if err != nil {
		return nil, fmt.Errorf("backup: log key: %w", err)
	}
	v, err := auditlog.NewVerifier(signer.VerifierKey())
	if err != nil {
		return nil, err
	}
	srcLog, dstLog := filepath.Join(src, "log"), filepath.Join(dst, "log")
	var raw []byte
	var cp auditlog.Checkpoint
	for deadline := time.Now().Add(30 * time.Second); ; {
		raw, err = os.ReadFile(filepath.Join(srcLog, layout.CheckpointPath))
		if err == nil {
			cp, err = auditlog.OpenCheckpoint(raw, v)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("backup: log checkpoint: %w", err)
		}
		if err == nil && cp.Size >= next {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("backup: the log's checkpoint (%d entries) does not cover the catalog's %d\nhint: start the server once so that it publishes a checkpoint, then back up again", cp.Size, next)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	rep.LogSize = cp.Size
	if err := copyLog(ctx, srcLog, dstLog, cp, raw); err != nil {
		return nil, fmt.Errorf("backup: log: %w", err)
	}
	if err := CreditUnseenReceipts(ctx, cat, dstLog, cp, next); err != nil {
		return nil, fmt.Errorf("backup: receipts beyond the catalog: %w", err)
	}
	// 3. Ledger.
	if _, err := os.Stat(filepath.Join(src, "ledger.db")); err == nil {
		if err := VacuumInto(ctx, filepath.Join(src, "ledger.db"), filepath.Join(dst, "ledger.db")); err != nil {
			return nil, fmt.Errorf("backup: ledger: %w", err)
		}
	}
	// 4. Keys.
	if err := os.MkdirAll(filepath.Join(dst, "keys"), 0o700); err != nil {
		return nil, err
	}
	keys, err := os.ReadDir(filepath.Join(src, "keys"))
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.Type().IsRegular() {
			if err := copyFile(filepath.Join(src, "keys", k.Name()), filepath.Join(dst, "keys", k.Name())); err != nil {
				return nil, fmt.Errorf("backup: keys: %w", err)
			}
		}
	}
	// 5. Blobs.
	from, err := localfs.Open(ctx, filepath.Join(src, "blobs"))
	if err != nil {
		return nil, err
	}
	to, err := localfs.Open(ctx, filepath.Join(dst, "blobs"))
	if err != nil {
		return nil, err
	}
	err = from.Enumerate(ctx, content.ID{}, func(id content.ID, size int64) error {
		r, err := from.Open(ctx, blob.Key{ID: id, Part: blob.Data})
		if errors.Is(err, blob.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = blob.Put(ctx, to, r, &id)
		if errors.Is(err, blob.ErrMismatch) {
			rep.Corrupt = append(rep.Corrupt, id.String())
			return nil
		}
		if err != nil {
			return fmt.Errorf("copying blob %s: %w", id, err)
		}
		rep.Blobs++
		rep.Bytes += size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backup: blobs: %w", err)
	}
	// 6. Blobs stored after the catalog copy.
	if err := registry.RecordObjects(ctx, to, cat); err != nil {
		return nil, fmt.Errorf("backup: recording blobs: %w", err)
	}
	if err := cat.Close(); err != nil {
		return nil, err
	}
	// The log copy must stand on its own.
	if err := auditlog.Audit(ctx, tclient.FileFetcher{Root: dstLog}, cp); err != nil {
		return nil, fmt.Errorf("backup: the copied log does not audit: %w", err)
	}
	return rep, syncDir(dst)
}

// VacuumInto writes a consistent copy of the SQLite database at src to
// dst, whoever else is writing to src.
func VacuumInto(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return err
	}
	return nil
}

// copyLog copies the part of the tessera POSIX log in src that cp commits
// to: every entry bundle and hash tile at cp's size (a partial resource
// the log has since replaced by a full one is cut back to its width), the
// checkpoint itself, and a tree state of exactly cp's size, so that the
// copy continues from cp when a server appends to it.
func copyLog(ctx context.Context, src, dst string, cp auditlog.Checkpoint, raw []byte) error {
	f := tclient.FileFetcher{Root: src}
	size := cp.Size
	write := func(rel string, b []byte) error {
		p := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	for k := uint64(0); k*layout.EntryBundleWidth < size; k++ {
		w := layout.PartialTileSize(0, k, size)
		b, err := f.ReadEntryBundle(ctx, k, w)
		if err != nil {
			return fmt.Errorf("entry bundle %d: %w", k, err)
		}
		if w > 0 {
			if b, err = firstEntries(b, int(w)); err != nil {
				return fmt.Errorf("entry bundle %d: %w", k, err)
			}
		}
		if err := write(layout.EntriesPath(k, w), b); err != nil {
			return err
		}
	}
	for level := uint64(0); size>>(level*layout.TileHeight) > 0; level++ {
		n := size >> (level * layout.TileHeight)
		for k := uint64(0); k*layout.TileWidth < n; k++ {
			w := layout.PartialTileSize(level, k, size)
			b, err := f.ReadTile(ctx, level, k, w)
			if errors.Is(err, fs.ErrNotExist) {
				continue // never written by the source either; the audit below decides
			}
			if err != nil {
				return fmt.Errorf("tile %d/%d: %w", level, k, err)
			}
			if w > 0 && len(b) > int(w)*32 {
				b = b[:int(w)*32]
			}
			if err := write(layout.TilePath(level, k, w), b); err != nil {
				return err
			}
		}
	}
	if err := write(layout.CheckpointPath, raw); err != nil {
		return err
	}
	// tessera's POSIX driver continues from .state/treeState.
	st, err := json.Marshal(struct {
		Size uint64 `json:"size"`
		Root []byte `json:"root"`
	}{size, cp.Hash[:]})
	if err != nil {
		return err
	}
	if err := write(".state/treeState", st); err != nil {
		return err
	}
	if v, err := os.ReadFile(filepath.Join(src, ".state", "version")); err == nil {
		if err := write(".state/version", v); err != nil {
			return err
		}
	}
	return nil
}

// firstEntries cuts a tlog-tiles entry bundle (entries each prefixed by a
// big-endian uint16 length) to its first n entries.
func firstEntries(b []byte, n int) ([]byte, error) {
	off := 0
	for i := 0; i < n; i++ {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("bundle holds %d entries, want %d", i, n)
		}
		l := int(binary.BigEndian.Uint16(b[off:]))
		off += 2 + l
		if off > len(b) {
			return nil, errors.New("truncated bundle")
		}
	}
	return b[:off], nil
}

// CreditUnseenReceipts credits the catalog copy's grant counters with the
// receipts of the log copy from index next on that seal sessions the copy
// never saw (begun after it was taken): replaying them counts them against
// the quota but not on the grant's counter, which the copy's server kept
// live (catsqlite.Catalog.CreditUnseenReceipt).
func CreditUnseenReceipts(ctx context.Context, cat *catsqlite.Catalog, dstLog string, cp auditlog.Checkpoint, next uint64) error {
	seen := map[string]bool{}
	for rec, err := range auditlog.ReadEntries(ctx, tclient.FileFetcher{Root: dstLog}, cp, next) {
		if errors.Is(err, auditlog.ErrMalformed) {
			continue // replay skips it too
		}
		if err != nil {
			return err
		}
		if rec.Entry.Type != auditlog.TypeReceipt {
			continue
		}
		env, err := identity.ParseEnvelope(rec.Entry.Payload)
		if err != nil {
			continue // replay refuses it: it counts nothing
		}
		rc, id, err := metering.OpenReceipt(env)
		if err != nil || seen[id.String()] {
			continue
		}
		seen[id.String()] = true
		if _, err := cat.CreditUnseenReceipt(ctx, id.String(), rc.Grant.String(), rc.Session, rc.Bytes, rc.Requests); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies src to the new file dst and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
