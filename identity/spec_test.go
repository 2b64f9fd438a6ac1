package identity

import (
	"bytes"
	"os"
	"regexp"
	"testing"
)

// TestSpecExamples keeps docs/spec/dsse.md and identity.md true.
func TestSpecExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/spec/dsse.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no JSON example in dsse.md")
	}
	env, err := ParseEnvelope(m[1])
	if err != nil {
		t.Fatal(err)
	}
	signers, payload, err := Verify(env, PayloadType("test"))
	if err != nil || string(payload) != `{"hello":"world"}` || signers[0] != testKey(t, 0).DID() {
		t.Fatalf("dsse.md example: %v %q %v", signers, payload, err)
	}
	if !bytes.Contains(doc, pae(env.PayloadType, payload)) {
		t.Error("dsse.md does not show the example's PAE")
	}
	doc, err = os.ReadFile("../docs/spec/identity.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, testKey(t, 0).MarshalPEM()) {
		t.Error("identity.md does not show the seed-0 key file")
	}
	for _, v := range loadDIDVectors(t) {
		if !bytes.Contains(doc, []byte(v.DID)) {
			t.Errorf("identity.md lacks vector %s", v.DID)
		}
	}
}
