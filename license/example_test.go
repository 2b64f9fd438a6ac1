package license_test

import (
	"fmt"
	"time"

	"github.com/charter-dev/charter/license"
)

// A research-only dataset refuses commercial training, allows research, and
// the decision can be re-checked offline from its record.
func Example() {
	terms, _ := license.Template("research-only")
	req := license.Request{
		Licensee:   "did:key:z6Mktqe4c7rH3PWoWEHUzKtvDHCtDUsVf9JkZRA7nZh9i2FD",
		Asset:      "bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4",
		Purpose:    license.Train,
		Commercial: true,
		Territory:  "DE",
		Time:       time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC),
	}
	d, err := license.Decide(terms, req)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Effect)
	for _, r := range d.Reasons {
		fmt.Println(" -", r)
	}

	req.Purpose, req.Commercial = license.Research, false
	rec, d, err := license.Record(terms, req)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Effect)

	// A third party holding the published terms and the request:
	termsJSON, _ := terms.Encode()
	reqJSON, _ := req.Encode()
	fmt.Println("recheck:", license.Recheck(rec, termsJSON, reqJSON))
	// Output:
	// deny
	//  - commercial use not allowed by research-only terms
	//  - purpose train not allowed by research-only terms (allowed: evaluate, research)
	// allow
	// recheck: <nil>
}
