package sqlite

import (
	"encoding/json"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog/catalogtest"
)

func BenchmarkZZDecodeState(b *testing.B) {
	j, _ := json.Marshal(catalogtest.Bench(5).Asset.State)
	b.Logf("%s", j)
	for b.Loop() {
		var st *asset.State
		if err := json.Unmarshal(j, &st); err != nil {
			b.Fatal(err)
		}
	}
}
