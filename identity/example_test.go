package identity_test

import (
	"fmt"

	"github.com/charter-dev/charter/identity"
)

func Example() {
	alice, _ := identity.NewKeyFromSeed(make([]byte, 32)) // use identity.Generate() for a real key
	env, _ := identity.Sign(identity.PayloadType("note"), []byte(`{"text":"hi"}`), alice)

	signers, payload, err := identity.Verify(env, identity.PayloadType("note"))
	fmt.Println(signers[0], string(payload), err)

	_, _, err = identity.Verify(env, identity.PayloadType("asset"))
	fmt.Println(err)
	// Output:
	// did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp {"text":"hi"} <nil>
	// identity: wrong DSSE payload type: got "application/vnd.charter.note+json", want "application/vnd.charter.asset+json"
}
