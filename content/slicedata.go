package content

// SliceData returns how many bytes of content data the first k bytes of the
// slice of [offset, offset+length) carry (ExtractRange's output, SliceSize
// bytes long). A slice carries the data of the widened range [start, end)
// of WidenRange in order, so those bytes are [start, start+SliceData): what
// a server that wrote k bytes of a slice has served, to meter it exactly
// when a client goes away mid-response. A partly written 16 KiB group
// counts with the bytes of it that were written. It runs in time
// proportional to the tree's depth, whatever k is.
func SliceData(size, offset, length, k int64) (int64, error) {
	if err := CheckRange(size, offset, length); err != nil {
		return 0, err
	}
	k -= headerSize
	if size == 0 || k <= 0 {
		return 0, nil
	}
	end := offset + length
	var got int64
	// rec walks the subtree [pos, pos+n) as ExtractRange writes it and
	// reports whether the k bytes ran out inside it.
	var rec func(pos, n int64) bool
	rec = func(pos, n int64) bool {
		if pos >= end || offset >= pos+n {
			return false
		}
		if n <= GroupSize {
			take := min(k, n)
			got += take
			k -= take
			return k == 0
		}
		if offset <= pos && pos+n <= end {
			if whole := 64*(groupCount(n)-1) + n; whole <= k {
				got += n
				k -= whole
				return k == 0
			}
		}
		if k <= 64 {
			k = 0 // inside this parent node: no data of the subtree
			return true
		}
		k -= 64
		mid := splitPoint(n)
		return rec(pos, mid) || rec(pos+mid, n-mid)
	}
	rec(0, size)
	return got, nil
}
