//go:build !unix

package catalogtest

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
