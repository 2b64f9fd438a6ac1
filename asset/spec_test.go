package asset

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/charter-dev/charter/identity"
)

// TestSpecExamples keeps the JSON examples in docs/spec true: every signed
// envelope verifies and opens, every payload is canonical and valid, and
// every statement's id is stated in the same document.
func TestSpecExamples(t *testing.T) {
	block := regexp.MustCompile("(?s)```json\n(.*?)\n```")
	for _, name := range []string{"asset-manifest.md", "proposal.md", "approval.md"} {
		doc, err := os.ReadFile("../docs/spec/" + name)
		if err != nil {
			t.Fatal(err)
		}
		blocks := block.FindAllSubmatch(doc, -1)
		if len(blocks) < 2 {
			t.Fatalf("%s: %d JSON examples, want at least 2", name, len(blocks))
		}
		for _, m := range blocks {
			b := m[1]
			var err error
			var id ID
			switch {
			case strings.HasPrefix(string(b), `{"payloadType"`):
				env, perr := identity.ParseEnvelope(b)
				if perr != nil {
					t.Fatalf("%s: %v", name, perr)
				}
				switch env.PayloadType {
				case identity.PayloadType(KindAsset):
					_, id, _, err = OpenManifest(env)
				case identity.PayloadType(KindProposal):
					_, id, err = OpenProposal(env)
				case identity.PayloadType(KindApproval):
					_, err = OpenApproval(env)
				default:
					t.Fatalf("%s: unexpected payload type %s", name, env.PayloadType)
				}
			case strings.HasPrefix(string(b), `{"approver"`):
				_, err = ParseApproval(b)
			case strings.HasPrefix(string(b), `{"asset"`):
				_, err = ParseProposal(b)
				id = idOf(b)
			default:
				_, err = ParseManifest(b)
				id = idOf(b)
			}
			if err != nil {
				t.Fatalf("%s: example does not check: %v\n%s", name, err, b)
			}
			if !id.IsZero() && !strings.Contains(string(doc), id.String()) {
				t.Errorf("%s: id %s of an example is not stated in the document", name, id)
			}
		}
	}
}
