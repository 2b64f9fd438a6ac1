package localfs

import "time"

func nowMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }
