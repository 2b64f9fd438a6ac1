package content

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	zeebo "github.com/zeebo/blake3"
	"lukechampine.com/blake3/bao"
)

var update = flag.Bool("update", false, "rewrite the test vectors in testdata/")

// vectorInput is a test input: either literal text, or Size bytes of the
// BLAKE3 test pattern (byte i is i % 251).
type vectorInput struct {
	Text    *string `json:"text,omitempty"`
	Pattern *int    `json:"pattern,omitempty"`
}

func (in vectorInput) bytes() []byte {
	if in.Text != nil {
		return []byte(*in.Text)
	}
	return pattern(*in.Pattern)
}

type vectors struct {
	Comment string `json:"comment"`
	IDs     []struct {
		Name  string      `json:"name"`
		Input vectorInput `json:"input"`
		Size  int64       `json:"size"`
		B3sum string      `json:"b3sum"`
		ID    string      `json:"id"`
	} `json:"ids"`
	Outboards []struct {
		Input vectorInput `json:"input"`
		File  string      `json:"file"`
		Size  int64       `json:"outboard_size"`
	} `json:"outboards"`
	Slices []struct {
		Input     vectorInput `json:"input"`
		Offset    int64       `json:"offset"`
		Length    int64       `json:"length"`
		File      string      `json:"file"`
		SliceSize int64       `json:"slice_size"`
		Start     int64       `json:"group_start"`
		End       int64       `json:"group_end"`
	} `json:"slices"`
	Index struct {
		File string `json:"file"`
		ID   string `json:"id"`
		Size int64  `json:"size"`
	} `json:"index"`
}

func ingestBytes(t *testing.T, b []byte) (Info, []byte) {
	t.Helper()
	var ob bytes.Buffer
	info, err := Ingest(context.Background(), bytes.NewReader(b), io.Discard, &ob)
	if err != nil {
		t.Fatal(err)
	}
	return info, ob.Bytes()
}

func readHex(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := hex.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// writeHex writes b as hex, 64 hex digits (32 bytes) per line.
func writeHex(t *testing.T, name string, b []byte) {
	t.Helper()
	var s strings.Builder
	h := hex.EncodeToString(b)
	for len(h) > 64 {
		s.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	s.WriteString(h + "\n")
	if err := os.WriteFile(filepath.Join("testdata", name), []byte(s.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVectors checks the files in testdata/ (see docs/spec/) against this
// implementation and, where one exists, an independent one. Run with
// -update to regenerate them.
func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	for i := range v.IDs {
		c := &v.IDs[i]
		in := c.Input.bytes()
		info, _ := ingestBytes(t, in)
		ref := zeebo.Sum256(in)
		if info.ID.Digest() != ref {
			t.Fatalf("%s: Ingest disagrees with zeebo/blake3", c.Name)
		}
		if *update {
			c.Size, c.B3sum, c.ID = int64(len(in)), hex.EncodeToString(ref[:]), info.ID.String()
		}
		if c.Size != info.Size || c.B3sum != info.ID.Hex() || c.ID != info.ID.String() {
			t.Errorf("%s: got size %d b3sum %s id %s; vectors say %d %s %s", c.Name, info.Size, info.ID.Hex(), info.ID, c.Size, c.B3sum, c.ID)
		}
		if p, err := ParseID(c.ID); err != nil || p != info.ID {
			t.Errorf("%s: ParseID(%s) = %v, %v", c.Name, c.ID, p, err)
		}
	}
	for i := range v.Outboards {
		c := &v.Outboards[i]
		in := c.Input.bytes()
		_, ob := ingestBytes(t, in)
		if ref, _ := bao.EncodeBuf(in, baoGroupLog, true); !bytes.Equal(ob, ref) {
			t.Fatalf("%s: outboard disagrees with bao.EncodeBuf", c.File)
		}
		if *update {
			c.Size = int64(len(ob))
			writeHex(t, c.File, ob)
		}
		if !bytes.Equal(readHex(t, c.File), ob) || c.Size != int64(len(ob)) {
			t.Errorf("%s: outboard differs from the vector", c.File)
		}
	}
	for i := range v.Slices {
		c := &v.Slices[i]
		in := c.Input.bytes()
		info, ob := ingestBytes(t, in)
		var s bytes.Buffer
		if err := ExtractRange(&s, bytes.NewReader(in), bytes.NewReader(ob), info.Size, c.Offset, c.Length); err != nil {
			t.Fatal(err)
		}
		got, ok := bao.VerifySlice(s.Bytes(), baoGroupLog, uint64(c.Offset), uint64(c.Length), info.ID.Digest())
		if !ok || !bytes.Equal(got, in[c.Offset:c.Offset+c.Length]) {
			t.Fatalf("%s: bao.VerifySlice rejects the slice", c.File)
		}
		start, end, _ := WidenRange(info.Size, c.Offset, c.Length)
		if *update {
			c.SliceSize, c.Start, c.End = int64(s.Len()), start, end
			writeHex(t, c.File, s.Bytes())
		}
		if !bytes.Equal(readHex(t, c.File), s.Bytes()) || c.SliceSize != int64(s.Len()) || c.Start != start || c.End != end {
			t.Errorf("%s: slice differs from the vector", c.File)
		}
		var out bytes.Buffer
		if _, err := VerifyRange(&out, bytes.NewReader(readHex(t, c.File)), info.ID, c.Offset, c.Length); err != nil || !bytes.Equal(out.Bytes(), in[c.Offset:c.Offset+c.Length]) {
			t.Errorf("%s: VerifyRange: %v", c.File, err)
		}
	}
	// The example index lists the id vectors' inputs.
	var files []File
	for _, c := range v.IDs {
		id, _ := ParseID(c.ID)
		files = append(files, File{Path: "example/" + c.Name + ".bin", Size: c.Size, ID: id})
	}
	x, err := NewIndex(files)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := x.Encode()
	if err != nil {
		t.Fatal(err)
	}
	info, _ := ingestBytes(t, enc)
	if *update {
		v.Index.ID, v.Index.Size = info.ID.String(), info.Size
		if err := os.WriteFile(filepath.Join("testdata", v.Index.File), enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := os.ReadFile(filepath.Join("testdata", v.Index.File))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, enc) || v.Index.ID != info.ID.String() || v.Index.Size != info.Size {
		t.Errorf("index vector differs: got id %s\n%s", info.ID, enc)
	}
	if _, err := ParseIndex(stored); err != nil {
		t.Errorf("ParseIndex(%s): %v", v.Index.File, err)
	}
	if *update {
		out, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile("testdata/vectors.json", append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOfficialBLAKE3Vectors checks Ingest's content ids against the BLAKE3
// team's published test vectors.
func TestOfficialBLAKE3Vectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/blake3-official.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Comment string
		Cases   []struct {
			InputLen int    `json:"input_len"`
			Hash     string `json:"hash"`
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 10 {
		t.Fatalf("only %d cases", len(v.Cases))
	}
	for _, c := range v.Cases {
		info, ob := ingestBytes(t, pattern(c.InputLen))
		if info.ID.Hex() != c.Hash {
			t.Errorf("input_len %d: got %s, want %s", c.InputLen, info.ID.Hex(), c.Hash)
		}
		if int64(len(ob)) != OutboardSize(int64(c.InputLen)) {
			t.Errorf("input_len %d: outboard %d bytes, OutboardSize says %d", c.InputLen, len(ob), OutboardSize(int64(c.InputLen)))
		}
	}
}
